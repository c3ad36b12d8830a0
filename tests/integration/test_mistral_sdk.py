"""Mistral's own SDK (`mistralai`, unmodified, the latest from PyPI) against a running gateway on the
stand-in vLLM: transcription (JSON, segments, streamed), chat with audio (whole and streamed), models,
and errors carrying the gateway's message. The OpenAI SDK's tests on the same paths are in
test_openai_api.py."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator

import httpx
import pytest
from mistralai.client import Mistral
from mistralai.client import models as mm
from mistralai.client.errors import SDKError

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"


@pytest.fixture
def client(gateway: GatewayProcess, standin: ThreadedStandIn) -> Iterator[Mistral]:
    standin.server.reset()
    with Mistral(api_key="x", server_url=gateway.base_url) as sdk:
        yield sdk


def _wav_file(audio_fixtures: FixtureSet, seconds: int = 1) -> dict[str, object]:
    clip = audio_fixtures.speech("wav", 16000, seconds)
    return {"content": clip.path.read_bytes(), "file_name": "audio.wav"}


@pytest.mark.parametrize("model", ["voxtral-mini-latest", "voxtral-mini-2507", MODEL])
def test_transcription_json(
    client: Mistral, standin: ThreadedStandIn, audio_fixtures: FixtureSet, model: str
):
    clip = audio_fixtures.speech("mp3", 22050, 2)
    result = client.audio.transcriptions.complete(
        model=model, file={"content": clip.path.read_bytes(), "file_name": "a.mp3"}, language="en"
    )
    received = standin.server.requests[-1]
    assert result.text == f"audio of {received.audios[0].duration_s:.2f} seconds in en"
    assert result.model == MODEL
    assert result.language == "en"
    assert result.segments is None
    assert result.usage.prompt_audio_seconds == math.ceil(clip.duration)


def test_transcription_with_segments(client: Mistral, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("ogg", 48000, 2, codec="opus")
    result = client.audio.transcriptions.complete(
        model="voxtral-mini-latest",
        file={"content": clip.path.read_bytes(), "file_name": "a.ogg"},
        timestamp_granularities=["segment"],
    )
    assert result.segments is not None and len(result.segments) == 1
    segment = result.segments[0]
    assert isinstance(segment, mm.TranscriptionSegmentChunk)
    assert segment.type == "transcription_segment"
    assert segment.start == 0.0 and segment.end == pytest.approx(clip.duration, abs=0.01)
    assert segment.text == result.text
    assert result.language == "en"  # not asked for: identified from the text


def test_streamed_transcription(client: Mistral, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1)
    with client.audio.transcriptions.stream(
        model="voxtral-mini-latest",
        file={"content": clip.path.read_bytes(), "file_name": "a.wav"},
        language="en",
        timestamp_granularities=["segment"],
    ) as stream:
        events = list(stream)
    names = [e.event for e in events]
    # The text as the model generates it (several deltas), then the segment it makes up.
    deltas = names.count("transcription.text.delta")
    assert deltas > 1
    assert names == [
        "transcription.language",
        *["transcription.text.delta"] * deltas,
        "transcription.segment",
        "transcription.done",
    ]
    language, segment, done = events[0].data, events[-2].data, events[-1].data
    assert isinstance(language, mm.TranscriptionStreamLanguage) and language.audio_language == "en"
    assert isinstance(segment, mm.TranscriptionStreamSegmentDelta)
    assert segment.end == pytest.approx(clip.duration, abs=0.01)
    assert all(isinstance(e.data, mm.TranscriptionStreamTextDelta) for e in events[1:-2])
    assert isinstance(done, mm.TranscriptionStreamDone)
    assert done.text == "".join(e.data.text for e in events[1:-2]) == segment.text
    assert done.model == MODEL and done.language == "en"
    assert done.usage.prompt_audio_seconds == math.ceil(clip.duration)
    assert done.segments is not None and done.segments[0].text == done.text


def test_streamed_transcription_without_segments_or_language(client: Mistral, audio_fixtures: FixtureSet):
    with client.audio.transcriptions.stream(model=MODEL, file=_wav_file(audio_fixtures)) as stream:
        events = list(stream)
    deltas = [e.event for e in events].count("transcription.text.delta")
    assert deltas > 1
    assert [e.event for e in events] == [
        *["transcription.text.delta"] * deltas,
        "transcription.language",
        "transcription.done",
    ]
    assert events[-2].data.audio_language == events[-1].data.language == "en"
    assert events[-1].data.segments is None


def test_diarize_is_refused_naming_the_field(
    client: Mistral, audio_fixtures: FixtureSet, standin: ThreadedStandIn
):
    with pytest.raises(SDKError) as info:
        client.audio.transcriptions.complete(model=MODEL, file=_wav_file(audio_fixtures), diarize=True)
    assert info.value.status_code == 400
    assert "diarize=true is not supported" in info.value.message
    body = httpx.Response(400, content=info.value.body).json()
    assert body == {
        "object": "error",
        "message": body["message"],
        "type": "invalid_request_error",
        "param": "diarize",
        "code": "invalid_request",
    }
    assert info.value.headers.get("x-request-id")
    assert standin.server.requests == []


def test_file_id_is_refused(client: Mistral):
    with pytest.raises(SDKError) as info:
        client.audio.transcriptions.complete(model=MODEL, file_id="file-123")
    assert info.value.status_code == 400
    assert "no files API" in info.value.message


def test_context_bias_is_accepted(client: Mistral, audio_fixtures: FixtureSet):
    result = client.audio.transcriptions.complete(
        model=MODEL, file=_wav_file(audio_fixtures), context_bias=["Voxtral", "Mistral"]
    )
    assert result.text.startswith("audio of ")


def test_word_timestamps_are_refused(client: Mistral, audio_fixtures: FixtureSet):
    with pytest.raises(SDKError) as info:
        client.audio.transcriptions.complete(
            model=MODEL, file=_wav_file(audio_fixtures), timestamp_granularities=["word"]
        )
    assert info.value.status_code == 400
    assert "timestamp_granularities=word is not supported" in info.value.message


def test_unknown_model_error_carries_our_message(client: Mistral, audio_fixtures: FixtureSet):
    with pytest.raises(SDKError) as info:
        client.audio.transcriptions.complete(model="voxtral-large-9", file=_wav_file(audio_fixtures))
    assert info.value.status_code == 404
    assert "The model `voxtral-large-9` does not exist or is not served here" in info.value.message


def test_undecodable_audio_error_carries_our_message(client: Mistral, audio_fixtures: FixtureSet):
    data = audio_fixtures.malformed["random_bytes"].path.read_bytes()
    with pytest.raises(SDKError) as info:
        client.audio.transcriptions.complete(model=MODEL, file={"content": data, "file_name": "a.wav"})
    assert info.value.status_code == 415
    assert '"param":"file"' in info.value.body


def test_chat_with_string_audio(client: Mistral, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    mp3 = base64.b64encode(audio_fixtures.speech("mp3", 22050, 2).path.read_bytes()).decode()
    response = client.chat.complete(
        model="voxtral-mini-latest",
        max_tokens=40,
        temperature=0.2,
        top_p=0.9,
        messages=[
            {"role": "system", "content": "You answer briefly."},
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": mp3},
                    {"type": "text", "text": "What is said?"},
                ],
            },
        ],
    )
    received = standin.server.requests[-1]
    assert received.num_audio_parts == 1 and received.format_labels == ["wav"]
    assert received.max_tokens == 40
    message = response.choices[0].message
    assert isinstance(message.content, str) and message.content.startswith("1 audio(s) totalling")
    assert response.choices[0].finish_reason in ("stop", "length")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.model == MODEL


def test_streamed_chat_with_string_audio(client: Mistral, audio_fixtures: FixtureSet):
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    with client.chat.stream(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [{"type": "input_audio", "input_audio": wav}, {"type": "text", "text": "Hi?"}],
            }
        ],
    ) as stream:
        chunks = [event.data for event in stream]
    assert all(isinstance(chunk, mm.CompletionChunk) for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("1 audio(s) totalling")
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0  # unasked, as Mistral does


def test_chat_with_bad_base64_names_the_part(client: Mistral, standin: ThreadedStandIn):
    with pytest.raises(SDKError) as info:
        client.chat.complete(
            model=MODEL,
            messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": "not base64!"}]}],
        )
    assert info.value.status_code == 400
    assert '"param":"messages[0].content[0].input_audio"' in info.value.body
    assert standin.server.requests == []


def test_models_list_and_retrieve(client: Mistral):
    listed = client.models.list()
    assert listed.data is not None and len(listed.data) == 1
    card = listed.data[0]
    assert isinstance(card, mm.BaseModelCard)
    assert card.id == MODEL and card.type == "base"
    assert card.capabilities.audio_transcription and card.capabilities.completion_chat
    assert card.capabilities.audio
    assert {"voxtral-mini-latest", "voxtral-mini-2507"} <= set(card.aliases)
    assert card.audio_transcription_capabilities.diarization is False
    for name in (MODEL, "voxtral-mini-latest"):
        retrieved = client.models.retrieve(model_id=name)
        assert isinstance(retrieved, mm.BaseModelCard) and retrieved.id == MODEL


def test_retrieving_an_unknown_model_is_a_404_with_our_message(client: Mistral):
    with pytest.raises(SDKError) as info:
        client.models.retrieve(model_id="mistral-large-latest")
    assert info.value.status_code == 404
    assert "`mistral-large-latest` does not exist or is not served here" in info.value.message


def test_embedded_engine_through_the_mistral_sdk(
    embedded_gateway: GatewayProcess, audio_fixtures: FixtureSet
):
    clip = audio_fixtures.speech("wav", 16000, 2)
    file = {"content": clip.path.read_bytes(), "file_name": "a.wav"}
    with Mistral(api_key="x", server_url=embedded_gateway.base_url) as sdk:
        card = sdk.models.list().data[0]
        assert isinstance(card, mm.BaseModelCard)
        assert card.capabilities.audio_transcription and not card.capabilities.completion_chat
        result = sdk.audio.transcriptions.complete(
            model="voxtral-mini-latest", file=file, timestamp_granularities=["segment"]
        )
        assert result.text.strip() and result.language == "en" and result.model == card.id
        assert result.segments and result.segments[-1].end <= clip.duration + 0.01
        with sdk.audio.transcriptions.stream(model="voxtral-mini-latest", file=file) as stream:
            events = list(stream)
        assert events[-1].event == "transcription.done" and events[-1].data.text == result.text
        with pytest.raises(SDKError) as info:  # chat needs Voxtral: the 501 explains it
            sdk.chat.complete(model=card.id, messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 501
        assert "audio understanding needs the Voxtral backend" in info.value.message


def test_multi_turn_chat(client: Mistral, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    # The SDK sends `prefix: false` on every assistant message.
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    audio = {"type": "input_audio", "input_audio": wav}
    messages = [
        mm.UserMessage(content=[audio, {"type": "text", "text": "What is said?"}]),
        mm.AssistantMessage(content="Something about rain."),
        mm.UserMessage(content="And the mood?"),
    ]
    response = client.chat.complete(model=MODEL, messages=messages)
    assert response.choices[0].message.content.startswith("1 audio(s) totalling")
    assert standin.server.requests[-1].num_audio_parts == 1
    with pytest.raises(SDKError) as info:
        client.chat.complete(
            model=MODEL, messages=[*messages[:2], mm.AssistantMessage(content="It", prefix=True)]
        )
    assert info.value.status_code == 400
    assert '"param":"messages[2].prefix"' in info.value.body
