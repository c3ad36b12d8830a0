"""Mistral realtime transcription (`/v1/audio/transcriptions/realtime`) with the `mistralai` SDK's realtime
client: real speech (espeak-ng) on the embedded engine, in every encoding the protocol names, one socket
across turns (`input_audio.flush`), and the limits."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import websockets
from mistralai.client import Mistral
from mistralai.client.models import (
    AudioFormat,
    TranscriptionStreamDone,
    TranscriptionStreamLanguage,
    TranscriptionStreamSegmentDelta,
    TranscriptionStreamTextDelta,
)
from mistralai.extra.realtime import UnknownRealtimeEvent

from tests.support.gateway_process import GatewayProcess
from tests.support.realtime_audio import bytes_per_second, raw_audio
from tests.support.realtime_gateway import deltas_agree, keyed_gateway, served_model, ws_base
from tests.support.stream_client import word_error_rate

MAX_WER = 0.15
PIECE_SECONDS = 0.1
PACE_SECONDS = 0.02


@pytest.fixture(scope="module")
def realtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str, str]]:
    with keyed_gateway(tmp_path_factory.mktemp("realtime-mistral")) as (gateway, key):
        yield gateway, key, served_model(gateway, key)


def _client(gateway: GatewayProcess, key: str) -> Mistral:
    return Mistral(api_key=key, server_url=gateway.base_url)


def _pieces(audio: bytes, rate: int, encoding: str) -> list[bytes]:
    step = int(bytes_per_second(rate, encoding) * PIECE_SECONDS)
    return [audio[i : i + step] for i in range(0, len(audio), step)]


async def _paced(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece
        await asyncio.sleep(PACE_SECONDS)


@pytest.mark.parametrize(
    ("encoding", "rate"),
    [
        ("pcm_s16le", 16_000),
        ("pcm_s32le", 24_000),
        ("pcm_f16le", 16_000),
        ("pcm_f32le", 48_000),
        ("pcm_mulaw", 8_000),
        ("pcm_alaw", 8_000),
    ],
)
async def test_sdk_transcribe_stream_in_each_encoding(realtime, audio_fixtures, encoding, rate):
    gateway, key, model = realtime
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, rate, encoding)
    events: list[Any] = []
    async with asyncio.timeout(120):
        async for event in _client(gateway, key).audio.realtime.transcribe_stream(
            _paced(_pieces(audio, rate, encoding)),
            model,
            audio_format=AudioFormat(encoding=encoding, sample_rate=rate),
        ):
            events.append(event)
    assert not [e for e in events if isinstance(e, UnknownRealtimeEvent)], events
    kinds = [type(e).__name__ for e in events]
    assert (
        kinds[0] == "RealtimeTranscriptionSessionCreated"
        and kinds[1] == "RealtimeTranscriptionSessionUpdated"
    )
    assert events[0].session.audio_format.encoding == "pcm_s16le"  # the default, before the update
    assert events[1].session.audio_format.encoding == encoding
    assert events[1].session.audio_format.sample_rate == rate
    done = events[-1]
    assert isinstance(done, TranscriptionStreamDone)
    assert word_error_rate(clip.text, done.text) <= MAX_WER, done.text
    assert done.model == model and done.language == "en"
    deltas = [e for e in events if isinstance(e, TranscriptionStreamTextDelta)]
    assert deltas_agree("".join(d.text for d in deltas), done.text)
    segments = [e for e in events if isinstance(e, TranscriptionStreamSegmentDelta)]
    assert " ".join(s.text for s in segments) == done.text
    assert [s.text for s in done.segments] == [s.text for s in segments]
    assert all(0 <= s.start < s.end <= clip.duration + 0.1 for s in segments)
    languages = [e for e in events if isinstance(e, TranscriptionStreamLanguage)]
    assert [lang.audio_language for lang in languages] == ["en"]
    assert events.index(languages[0]) < events.index(segments[0])
    assert done.usage.prompt_audio_seconds == math.ceil(len(audio) / bytes_per_second(rate, encoding))


async def test_one_socket_across_turns_with_flush_then_end(realtime, audio_fixtures):
    gateway, key, model = realtime
    multi = audio_fixtures.multi_utterance
    audio = raw_audio(multi.path, 16_000)
    cut = round((multi.utterances[2].end + multi.utterances[3].start) / 2 * 16_000) * 2
    turns = [audio[:cut], audio[cut:]]
    truths = [multi.utterances[:3], multi.utterances[3:]]
    dones: list[TranscriptionStreamDone] = []
    async with asyncio.timeout(120):
        connection = await _client(gateway, key).audio.realtime.connect(
            model, audio_format=AudioFormat(encoding="pcm_s16le", sample_rate=16_000), language="en"
        )
        async with connection:
            events = connection.events()
            for turn in turns:
                for piece in _pieces(turn, 16_000, "pcm_s16le"):
                    await connection.send_audio(piece)
                    await asyncio.sleep(PACE_SECONDS)
                await connection.flush_audio()
                async for event in events:
                    assert not isinstance(event, UnknownRealtimeEvent), event
                    if isinstance(event, TranscriptionStreamDone):
                        dones.append(event)
                        break
            await connection.end_audio()
            rest = [event async for event in events]  # the server closes after input_audio.end
    for done, truth in zip(dones, truths, strict=True):
        assert word_error_rate(" ".join(u.text for u in truth), done.text) <= MAX_WER, done.text
        assert len(done.segments) == len(truth)
    assert dones[0].usage.prompt_audio_seconds == math.ceil(len(turns[0]) / 32_000)
    assert not [
        e for e in rest if isinstance(e, TranscriptionStreamDone)
    ]  # the last turn was flushed already
    assert connection.is_closed


async def _raw(
    url: str, key: str, outgoing: list[dict[str, Any] | str]
) -> tuple[list[dict[str, Any]], int | None]:
    """Send `outgoing` (dicts as JSON, str as is), then read every event until the close."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(60):
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as socket:
            for message in outgoing:
                await socket.send(message if isinstance(message, str) else json.dumps(message))
            try:
                async for raw in socket:
                    received.append(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            return received, socket.close_code


async def test_an_append_over_262144_bytes_and_a_late_format_change_are_refused_and_the_session_goes_on(
    realtime, audio_fixtures
):
    gateway, key, model = realtime
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 16_000)
    url = f"{ws_base(gateway)}/v1/audio/transcriptions/realtime?model={model}"
    appends = [
        {"type": "input_audio.append", "audio": base64.b64encode(piece).decode()}
        for piece in _pieces(audio, 16_000, "pcm_s16le")
    ]
    too_big = {"type": "input_audio.append", "audio": base64.b64encode(bytes(262_145)).decode()}
    late_format = {
        "type": "session.update",
        "session": {"audio_format": {"encoding": "pcm_alaw", "sample_rate": 8000}},
    }
    events, close_code = await _raw(
        url, key, [appends[0], too_big, late_format, *appends[1:], {"type": "input_audio.end"}]
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session.created" and events[0]["session"]["request_id"]
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert errors[0]["code"] == 413 and "262144" in errors[0]["message"]
    assert errors[1]["code"] == 422 and "audio_format" in errors[1]["message"]
    assert len(errors) == 2
    assert kinds[-1] == "transcription.done" and close_code == 1000
    assert word_error_rate(clip.text, events[-1]["text"]) <= MAX_WER


async def test_refused_with_a_bad_key_or_a_model_not_served(realtime):
    gateway, key, _ = realtime
    with pytest.raises(Exception, match=r"API key|unauthorized|Unauthorized"):
        await _client(gateway, "vxg_not-a-key").audio.realtime.connect(key and "whatever")
    url = f"{ws_base(gateway)}/v1/audio/transcriptions/realtime?model=voxtral-unknown"
    events, close_code = await _raw(url, key, [])
    assert close_code == 4404
    assert events == [{"type": "error", "error": {"message": events[0]["error"]["message"], "code": 404}}]
    assert "voxtral-unknown" in events[0]["error"]["message"]


async def test_a_misspelt_field_and_json_nested_too_deeply_are_refused_and_the_session_goes_on(
    realtime, audio_fixtures
):
    gateway, key, model = realtime
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 16_000)
    url = f"{ws_base(gateway)}/v1/audio/transcriptions/realtime?model={model}"
    appends = [
        {"type": "input_audio.append", "audio": base64.b64encode(piece).decode()}
        for piece in _pieces(audio, 16_000, "pcm_s16le")
    ]
    misspelt = {"type": "session.update", "session": {"turn_detection": {"min_silence": 300}}}
    deep = '{"type": "input_audio.append", "x": ' + "[" * 5000 + "]" * 5000 + ', "audio": "AAAA"}'
    deep_first = '{"x": ' + "[" * 5000 + "]" * 5000 + ', "type": "input_audio.append", "audio": "AAAA"}'
    events, close_code = await _raw(
        url, key, [misspelt, deep, deep_first, *appends, {"type": "input_audio.end"}]
    )
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == [422, 422, 422], errors
    assert "unknown field `min_silence`" in errors[0]["message"]
    assert "session.turn_detection" in errors[0]["message"]
    assert "unknown field `x`" in errors[1]["message"]
    assert "nested too deeply" in errors[2]["message"]
    assert events[-1]["type"] == "transcription.done" and close_code == 1000
    assert word_error_rate(clip.text, events[-1]["text"]) <= MAX_WER
