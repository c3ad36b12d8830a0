"""Mistral's dialect in isolation: how a request is recognised, its error shape, its transcription
events (checked against the `mistralai` SDK's own models), and the model alias table."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from mistralai.client import models as mm
from mistralai.client.utils.serializers import unmarshal_json

from voxtral_gateway.backends import Transcript, TranscriptionOptions, TranscriptSegment
from voxtral_gateway.backends.base import BackendHealth, SpeechBackend
from voxtral_gateway.errors import InvalidRequest, ModelNotFound, UrlFetchTimeout
from voxtral_gateway.routes.error_wire import (
    choose_dialect,
    dialect_of,
    request_dialect,
    sse_error_event,
    wire_error,
)
from voxtral_gateway.routes.mistral.transcription import MistralTranscriptionStream
from voxtral_gateway.services.models import ModelCatalog
from voxtral_gateway.services.transcription import (
    SegmentDone,
    TextDelta,
    TranscriptionDone,
    TranscriptionResult,
)
from voxtral_gateway.settings import SettingsError, load_settings

SERVED = "mistralai/Voxtral-Mini-3B-2507"


@pytest.mark.parametrize(
    ("path", "user_agent", "dialect"),
    [
        ("/v1/audio/transcriptions", b"mistral-client-python/3.7.0", "mistral"),
        ("/v1/chat/completions", b"mistral-client-python/2.10.1", "mistral"),
        ("/v1/models", b"OpenAI/Python 3.57.0", "openai"),
        ("/v1/models", None, "openai"),
        ("/transcribe", b"mistral-client-python/3.7.0", "seed"),
    ],
)
def test_dialect_from_path_and_user_agent(path: str, user_agent: bytes | None, dialect: str):
    assert dialect_of(path, user_agent) == dialect


def test_a_dialect_chosen_from_the_content_wins():
    scope = {"path": "/v1/audio/transcriptions", "headers": [(b"user-agent", b"curl/8")]}
    assert request_dialect(scope) == "openai"
    choose_dialect(scope, "mistral")
    assert request_dialect(scope) == "mistral"


def test_mistral_error_body_is_flat_and_invalid_requests_are_400():
    wire = wire_error(InvalidRequest("diarize=true is not supported", field="diarize"), "mistral")
    assert wire.status == 400
    assert msgspec.to_builtins(wire.body) == {
        "object": "error",
        "message": "diarize=true is not supported",
        "type": "invalid_request_error",
        "param": "diarize",
        "code": "invalid_request",
    }


def test_mistral_stream_error_event_names_itself():
    frame = sse_error_event(UrlFetchTimeout("file_url: too slow", field="file_url"), "mistral")
    head, data = frame.decode().strip().split("\n")
    assert head == "event: error"
    payload = json.loads(data.removeprefix("data: "))
    assert payload["type"] == "error" and payload["error"]["message"] == "file_url: too slow"


def _result(language: str | None) -> TranscriptionResult:
    segments = [
        TranscriptSegment(start=0.0, end=1.5, text="hello"),
        TranscriptSegment(start=1.5, end=3.2, text="world"),
    ]
    return TranscriptionResult(
        text="hello world",
        segments=segments,
        language=language,
        confidence=None,
        audio_seconds=3.2,
        segment_count=1,
    )


def _parsed(frames: list[bytes]) -> list[mm.TranscriptionStreamEvents]:
    """Each frame as the SDK's SSE parser and models read it."""
    events = []
    for frame in frames:
        lines = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
        raw = json.dumps({"event": lines["event"], "data": json.loads(lines["data"])})
        events.append(unmarshal_json(raw, mm.TranscriptionStreamEvents))
    return events


def _frames(stream: MistralTranscriptionStream, result: TranscriptionResult, model_language: str | None):
    piece = SegmentDone(
        index=0,
        count=1,
        start=0.0,
        end=3.2,
        text=result.text,
        segments=result.segments,
        language=model_language,
    )
    frames = list(stream.opening)
    for event in (piece, TextDelta(text=result.text), TranscriptionDone(result=result)):
        frames += list(stream.encode(event))
    return frames


def test_stream_with_requested_language_and_segments_parses_as_the_sdk_models():
    stream = MistralTranscriptionStream(SERVED, "fr", with_segments=True)
    events = _parsed(_frames(stream, _result("fr"), model_language=None))
    assert [type(e.data) for e in events] == [
        mm.TranscriptionStreamLanguage,
        mm.TranscriptionStreamSegmentDelta,
        mm.TranscriptionStreamSegmentDelta,
        mm.TranscriptionStreamTextDelta,
        mm.TranscriptionStreamDone,
    ]
    assert [e.event for e in events] == [e.data.type for e in events]
    done = events[-1].data
    assert done.usage.prompt_audio_seconds == 4  # 3.2 s, rounded up
    assert [s.type for s in done.segments] == ["transcription_segment"] * 2


def test_stream_language_comes_with_the_first_segment_that_reports_it():
    stream = MistralTranscriptionStream(SERVED, None, with_segments=False)
    events = _parsed(_frames(stream, _result("de"), model_language="de"))
    assert [e.event for e in events] == [
        "transcription.language",
        "transcription.text.delta",
        "transcription.done",
    ]
    assert events[0].data.audio_language == "de"
    assert events[-1].data.segments is None


def test_stream_without_a_language_has_null_in_done():
    stream = MistralTranscriptionStream(SERVED, None, with_segments=False)
    events = _parsed(_frames(stream, _result(None), model_language=None))
    assert [e.event for e in events] == ["transcription.text.delta", "transcription.done"]
    assert isinstance(events[-1].data, mm.TranscriptionStreamDone) and events[-1].data.language is None


class _Backend(SpeechBackend):
    kind = "vllm"
    supports_chat = True

    def __init__(self) -> None:
        self.model_name = SERVED

    async def transcribe(self, audio: object, options: TranscriptionOptions) -> Transcript:
        raise NotImplementedError

    async def health(self) -> BackendHealth:
        return BackendHealth(ready=True)


def test_alias_table_resolves_to_the_served_model():
    aliases = load_settings({}).models.alias_table
    assert aliases == {"voxtral-mini-latest": None, "voxtral-mini-2507": None, "whisper-1": None}
    catalog = ModelCatalog(
        _Backend(), {**aliases, "voxtral-small-latest": "mistralai/Voxtral-Small-24B-2507"}
    )
    for name in (SERVED, "voxtral-mini-latest", "whisper-1"):
        assert catalog.resolve(name) == SERVED
    assert catalog.served.aliases == ["voxtral-mini-latest", "voxtral-mini-2507", "whisper-1"]
    with pytest.raises(
        ModelNotFound, match="alias of `mistralai/Voxtral-Small-24B-2507`, which is not served"
    ):
        catalog.resolve("voxtral-small-latest")
    with pytest.raises(
        ModelNotFound, match="use one of: mistralai/Voxtral-Mini-3B-2507, voxtral-mini-latest"
    ) as info:
        catalog.resolve("gpt-4o", field="model_id")
    assert info.value.field == "model_id"


def test_model_aliases_setting():
    table = load_settings({"MODEL_ALIASES": "a, b = org/model-b"}).models.alias_table
    assert table == {"a": None, "b": "org/model-b"}
    for bad in ("a=", "a,a"):
        with pytest.raises(SettingsError, match="MODEL_ALIASES"):
            load_settings({"MODEL_ALIASES": bad})


def test_model_aliases_as_a_toml_table(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text('[model_aliases]\nvoxtral-mini-latest = ""\nsmall = "org/small"\n')
    table = load_settings({"VOXTRAL_GATEWAY_CONFIG": str(config)}).models.alias_table
    assert table == {"voxtral-mini-latest": None, "small": "org/small"}
