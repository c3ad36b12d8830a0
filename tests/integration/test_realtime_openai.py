"""OpenAI Realtime transcription sessions (`/v1/realtime`) with clients nobody here wrote: the `openai` SDK's
realtime client (GA events), and a plain `websockets` client speaking the beta events. Real speech
(espeak-ng) on the embedded engine; the transcripts are checked by word error rate, the events by order."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from openai import AsyncOpenAI

from tests.support.gateway_process import GatewayProcess
from tests.support.realtime_audio import bytes_per_second, raw_audio
from tests.support.realtime_gateway import deltas_agree, keyed_gateway, served_model, ws_base
from tests.support.stream_client import word_error_rate

MAX_WER = 0.15
SENTENCE_WER = 0.34
TRAILING_SILENCE_SECONDS = 1.5
PIECE_SECONDS = 0.1
PACE_SECONDS = 0.02  # 5× real time


@pytest.fixture(scope="module")
def realtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str, str]]:
    with keyed_gateway(tmp_path_factory.mktemp("realtime-openai")) as (gateway, key):
        yield gateway, key, served_model(gateway, key)


def _client(gateway: GatewayProcess, key: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=key)


def _pieces(audio: bytes, rate: int, encoding: str, silence: float = TRAILING_SILENCE_SECONDS) -> list[bytes]:
    """`audio` then `silence` seconds of silence, in pieces of PIECE_SECONDS."""
    per_second = bytes_per_second(rate, encoding)
    silent_byte = {"pcm_mulaw": b"\xff", "pcm_alaw": b"\xd5"}.get(encoding, b"\x00")
    audio += silent_byte * int(per_second * silence)
    step = int(per_second * PIECE_SECONDS)
    return [audio[i : i + step] for i in range(0, len(audio), step)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _by_type(events: list[Any], kind: str) -> list[Any]:
    return [event for event in events if event.type == kind]


async def test_sdk_ga_session_with_server_vad_transcribes_each_sentence_in_order(realtime, audio_fixtures):
    gateway, key, _ = realtime
    multi = audio_fixtures.multi_utterance
    pieces = _pieces(raw_audio(multi.path, 24_000), 24_000, "pcm_s16le")
    events: list[Any] = []
    async with asyncio.timeout(120):
        async with _client(gateway, key).realtime.connect(extra_query={"intent": "transcription"}) as conn:
            await conn.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 24000},
                            "transcription": {"language": "en"},
                            "turn_detection": {
                                "type": "server_vad",
                                "threshold": 0.5,
                                "prefix_padding_ms": 300,
                                "silence_duration_ms": 500,
                            },
                            "noise_reduction": {"type": "near_field"},
                        }
                    },
                }
            )

            async def send() -> None:
                for piece in pieces:
                    await conn.input_audio_buffer.append(audio=_b64(piece))
                    await asyncio.sleep(PACE_SECONDS)

            sender = asyncio.create_task(send())
            async for event in conn:
                events.append(event)
                completed = _by_type(events, "conversation.item.input_audio_transcription.completed")
                if len(completed) == len(multi.utterances):
                    break
            await sender

    assert [e.type for e in events[:2]] == ["session.created", "session.updated"]
    assert all(isinstance(e.event_id, str) and e.event_id.startswith("event_") for e in events)
    assert len({e.event_id for e in events}) == len(events)
    vad = events[1].session.audio.input.turn_detection
    assert (vad.type, vad.threshold, vad.prefix_padding_ms, vad.silence_duration_ms) == (
        "server_vad",
        0.5,
        300,
        500,
    )

    started = _by_type(events, "input_audio_buffer.speech_started")
    items = [e.item_id for e in started]
    assert len(items) == len(multi.utterances) == len(set(items))
    completed = _by_type(events, "conversation.item.input_audio_transcription.completed")
    assert [e.item_id for e in completed] == items  # one transcript per utterance, in order
    previous = None
    for item, utterance, done in zip(items, multi.utterances, completed, strict=True):
        of_item = [e for e in events if getattr(e, "item_id", None) == item]
        kinds = [e.type for e in of_item]
        # speech_started → speech_stopped → committed → deltas → completed
        assert kinds[:3] == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ], kinds
        assert kinds[-1] == "conversation.item.input_audio_transcription.completed"
        assert set(kinds[3:-1]) <= {"conversation.item.input_audio_transcription.delta"}
        deltas = "".join(e.delta for e in of_item if e.type.endswith(".delta"))
        assert deltas and deltas_agree(deltas, done.transcript)
        committed = of_item[2]
        assert committed.previous_item_id == previous
        previous = item
        assert of_item[0].audio_start_ms / 1000 == pytest.approx(utterance.start, abs=0.6)
        assert of_item[1].audio_end_ms / 1000 == pytest.approx(utterance.end, abs=0.8)
        assert word_error_rate(utterance.text, done.transcript) <= SENTENCE_WER, (
            utterance.text,
            done.transcript,
        )
        assert done.usage.type == "duration"
        assert done.usage.seconds == pytest.approx(utterance.end - utterance.start, abs=1.0)
        assert done.content_index == 0 and [lang.code for lang in done.languages] == ["en"]
    whole = " ".join(e.transcript for e in completed)
    assert word_error_rate(multi.text, whole) <= MAX_WER


async def test_sdk_ga_manual_turns_in_g711_mulaw(realtime, audio_fixtures):
    gateway, key, model = realtime
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 8_000, "pcm_mulaw")
    events: list[Any] = []
    async with asyncio.timeout(120):
        async with _client(gateway, key).realtime.connect(
            model=model, extra_query={"intent": "transcription"}
        ) as conn:
            await conn.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcmu"},
                            "transcription": {"model": model, "language": "en"},
                            "turn_detection": None,
                        }
                    },
                }
            )
            # Audio then cleared: none of it is transcribed.
            await conn.input_audio_buffer.append(audio=_b64(audio[: len(audio) // 2]))
            await conn.input_audio_buffer.clear()
            for piece in _pieces(audio, 8_000, "pcm_mulaw", silence=0):
                await conn.input_audio_buffer.append(audio=_b64(piece))
            await conn.input_audio_buffer.commit()
            await conn.input_audio_buffer.commit(event_id="empty-commit")  # nothing left to commit
            async for event in conn:
                events.append(event)
                if event.type == "conversation.item.input_audio_transcription.completed":
                    break

    kinds = [e.type for e in events]
    assert kinds[:3] == ["session.created", "session.updated", "input_audio_buffer.cleared"], kinds
    assert events[1].session.audio.input.turn_detection is None
    assert events[1].session.audio.input.format.type == "audio/pcmu"
    assert "input_audio_buffer.speech_started" not in kinds  # no VAD: no speech events
    committed = _by_type(events, "input_audio_buffer.committed")
    assert len(committed) == 1
    error = _by_type(events, "error")
    assert len(error) == 1 and error[0].error.code == "input_audio_buffer_commit_empty"
    assert error[0].error.event_id == "empty-commit"
    done = events[-1]
    assert done.item_id == committed[0].item_id
    assert kinds.index("input_audio_buffer.committed") < kinds.index(done.type)
    assert word_error_rate(clip.text, done.transcript) <= MAX_WER, done.transcript
    assert done.usage.seconds == pytest.approx(len(audio) / 8000, abs=0.05)


async def _raw_session(
    url: str, headers: dict[str, str], outgoing: list[dict[str, Any] | str], until: str, count: int = 1
) -> tuple[list[dict[str, Any]], int | None]:
    """Send `outgoing` (dicts as JSON, str as is) while reading events until `count` events of type
    `until` or the close."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(120):
        async with websockets.connect(url, additional_headers=headers, max_size=None) as socket:

            async def send() -> None:
                for message in outgoing:
                    await socket.send(message if isinstance(message, str) else json.dumps(message))
                    if isinstance(message, dict) and message["type"].endswith("append"):
                        await asyncio.sleep(PACE_SECONDS)

            sender = asyncio.create_task(send())
            try:
                async for raw in socket:
                    received.append(json.loads(raw))
                    if sum(m["type"] == until for m in received) >= count:
                        break
            except websockets.ConnectionClosed:
                pass
            sender.cancel()
            await socket.close()
            return received, socket.close_code


async def test_beta_events_over_a_plain_websocket_in_g711_alaw(realtime, audio_fixtures):
    gateway, key, model = realtime
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 8_000, "pcm_alaw")
    url = f"{ws_base(gateway)}/v1/realtime?model={model}&intent=transcription"
    headers = {"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"}
    update = {
        "type": "transcription_session.update",
        "session": {
            "input_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": model, "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
            "input_audio_noise_reduction": None,
        },
    }
    appends = [
        {"type": "input_audio_buffer.append", "audio": _b64(p)} for p in _pieces(audio, 8_000, "pcm_alaw")
    ]
    events, _ = await _raw_session(
        url, headers, [update, *appends], "conversation.item.input_audio_transcription.completed"
    )
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["transcription_session.created", "transcription_session.updated"], kinds
    session = events[1]["session"]
    assert session["input_audio_format"] == "g711_alaw"
    assert session["turn_detection"]["silence_duration_ms"] == 400
    assert session["input_audio_transcription"] == {"model": model, "language": "en", "prompt": None}
    assert all(isinstance(e["event_id"], str) for e in events)
    order = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert [k for k in kinds if k in order] == order
    done = events[-1]
    assert word_error_rate(clip.text, done["transcript"]) <= MAX_WER, done["transcript"]
    assert done["usage"]["type"] == "duration" and done["content_index"] == 0


@pytest.mark.parametrize(
    ("message", "code", "param"),
    [
        (
            {"type": "session.update", "event_id": "c1", "session": {"type": "realtime"}},
            "invalid_request",
            "session.type",
        ),
        (
            {
                "type": "session.update",
                "event_id": "c1",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}},
                },
            },
            "unsupported_turn_detection",
            "session.audio.input.turn_detection.type",
        ),
        ({"type": "response.create", "event_id": "c1"}, "invalid_request", "type"),
        (
            {"type": "input_audio_buffer.append", "event_id": "c1", "audio": "not base64!"},
            "invalid_request",
            "audio",
        ),
        (  # a misspelt field is refused, not dropped
            {
                "type": "session.update",
                "event_id": "c1",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"languge": "fr"}}},
                },
            },
            "invalid_request",
            "session.audio.input.transcription.languge",
        ),
        (
            {
                "type": "transcription_session.update",
                "event_id": "c1",
                "session": {"turn_detection": {"type": "server_vad", "silence_duration": 300}},
            },
            "invalid_request",
            "session.turn_detection.silence_duration",
        ),
        (  # JSON nested past msgspec's recursion limit
            '{"event_id": "c1", "x": ' + "[" * 5000 + "]" * 5000 + ', "type": "input_audio_buffer.append"}',
            "invalid_request",
            None,
        ),
    ],
)
async def test_a_bad_event_gets_an_error_event_and_the_session_goes_on(realtime, message, code, param):
    gateway, key, _ = realtime
    url = f"{ws_base(gateway)}/v1/realtime?intent=transcription"
    commit = {"type": "input_audio_buffer.commit", "event_id": "c2"}
    events, _ = await _raw_session(
        url, {"Authorization": f"Bearer {key}"}, [message, commit], "error", count=2
    )
    assert events[0]["type"] == "session.created"
    first, second = events[1], events[2]
    assert first["type"] == "error" and first["error"]["code"] == code, first
    # The event id of JSON nested too deeply cannot be read either.
    event_id = "c1" if isinstance(message, dict) else None
    assert first["error"]["type"] == "invalid_request_error" and first["error"]["event_id"] == event_id
    assert first["error"]["param"] == param
    assert (
        second["error"]["code"] == "input_audio_buffer_commit_empty"
    )  # still serving: the next event answered


async def test_refused_without_a_key_and_for_a_model_not_served(realtime):
    gateway, key, _ = realtime
    url = f"{ws_base(gateway)}/v1/realtime?intent=transcription"
    events, code = await _raw_session(url, {}, [], "error")
    assert code == 4401 and events[0]["error"]["code"] == "unauthorized"
    events, code = await _raw_session(
        url + "&model=gpt-4o-transcribe", {"Authorization": f"Bearer {key}"}, [], "error"
    )
    assert code == 4404 and events[0]["error"]["code"] == "model_not_found"
    assert events[0]["error"]["param"] == "model"
