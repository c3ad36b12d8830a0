"""The stand-in's WS /v1/realtime against vLLM 0.33's protocol (entrypoints/speech_to_text/realtime/
protocol.py and connection.py): event names, exact fields, error codes and messages, close behaviour."""

from __future__ import annotations

import base64
import json
import re
import time

import aiohttp
import numpy as np
import pytest

from tests.standin_vllm import DEFAULT_MODEL, DEFAULT_REALTIME_MODEL, StandInVLLM
from tests.standin_vllm.__main__ import _parse_args

RATE = 16_000
USAGE_KEYS = [
    "prompt_tokens",
    "total_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
]


def words(audio: np.ndarray, language: str | None) -> str:
    return " ".join(f"w{i}" for i in range(int(audio.size / (RATE / 2))))


def pcm(seconds: float) -> str:
    samples = (np.sin(np.arange(int(seconds * RATE)) / 10) * 8000).astype("<i2")
    return base64.b64encode(samples.tobytes()).decode()


@pytest.fixture
async def server():
    async with StandInVLLM(
        model=DEFAULT_REALTIME_MODEL, realtime=True, transcriber=words, realtime_step_seconds=0.5
    ) as standin:
        yield standin


@pytest.fixture
async def client():
    async with aiohttp.ClientSession() as session:
        yield session


async def connect(client: aiohttp.ClientSession, server: StandInVLLM) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect(f"{server.base_url}/v1/realtime")


async def send(ws, **event) -> None:
    await ws.send_str(json.dumps(event))


async def next_event(ws) -> dict:
    return json.loads(await ws.receive_str(timeout=5))


async def test_session_created_comes_first_with_vllms_fields(server, client):
    async with await connect(client, server) as ws:
        created = json.loads(await ws.receive_str(timeout=5))
    assert list(created) == ["type", "id", "created"]
    assert created["type"] == "session.created"
    assert re.fullmatch(r"sess-[0-9a-f]{16}", created["id"])
    assert abs(created["created"] - time.time()) < 5


async def test_a_turn_sends_deltas_then_done_with_the_joined_text_and_full_usage(server, client):
    async with await connect(client, server) as ws:
        await next_event(ws)
        await send(ws, type="session.update", model=DEFAULT_REALTIME_MODEL, extra="ignored")
        await send(ws, type="input_audio_buffer.commit")
        for _ in range(6):
            await send(ws, type="input_audio_buffer.append", audio=pcm(0.5))
        await send(ws, type="input_audio_buffer.commit", final=True)
        events = []
        while not events or events[-1]["type"] != "transcription.done":
            events.append(await next_event(ws))
        deltas, done = events[:-1], events[-1]
        assert all(
            list(event) == ["type", "delta"] and event["type"] == "transcription.delta" for event in deltas
        )
        assert len(deltas) >= 6  # a step per 0.5 s, then the end of audio
        assert list(done) == ["type", "text", "usage"]
        assert done["text"] == "".join(event["delta"] for event in deltas) == words(np.zeros(3 * RATE), None)
        assert list(done["usage"]) == USAGE_KEYS
        usage = done["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert usage["prompt_tokens_details"] is None and usage["completion_tokens_details"] is None

        # The socket stays open: a new commit starts a new engine request.
        await send(ws, type="input_audio_buffer.commit")
        await send(ws, type="input_audio_buffer.append", audio=pcm(1.0))
        await send(ws, type="input_audio_buffer.commit", final=True)
        event = await next_event(ws)
        while event["type"] != "transcription.done":
            event = await next_event(ws)
        assert event["text"] == "w0 w1"
    assert [r.status for r in server.requests if r.endpoint == "/v1/realtime"] == [200, 200]


async def test_a_commit_while_a_request_runs_is_ignored_and_no_audio_means_an_empty_done(server, client):
    async with await connect(client, server) as ws:
        await next_event(ws)
        await send(ws, type="session.update", model=DEFAULT_REALTIME_MODEL)
        await send(ws, type="input_audio_buffer.commit", final=False)
        await send(ws, type="input_audio_buffer.commit", final="no")  # pydantic's lax bool
        await send(ws, type="input_audio_buffer.commit", final=1)
        done = await next_event(ws)
    assert done == {
        "type": "transcription.done",
        "text": "",
        "usage": dict.fromkeys(USAGE_KEYS[:3], 0) | dict.fromkeys(USAGE_KEYS[3:]),
    }
    assert len([r for r in server.requests if r.endpoint == "/v1/realtime"]) == 1


@pytest.mark.parametrize(
    ("event", "code", "message"),
    [
        ("{not json", "invalid_json", "Invalid JSON"),
        ({"type": "response.create"}, "unknown_event", "Unknown event type: response.create"),
        ({"model": "x"}, "unknown_event", "Unknown event type: None"),
        ({"type": "session.update"}, "invalid_event", "Missing required field: model"),
        (
            {"type": "session.update", "model": "other/model"},
            "model_not_found",
            "The model `other/model` does not exist.",
        ),
        (
            {"type": "input_audio_buffer.commit"},
            "model_not_validated",
            "Model not validated. Make sure to validate the model by sending a session.update event.",
        ),
        (
            {"type": "input_audio_buffer.append", "audio": "AAAA"},
            "invalid_audio",
            "Invalid audio data",
        ),  # 3 bytes
        ({"type": "input_audio_buffer.append", "audio": ""}, "invalid_audio", "Invalid audio data"),
        (
            {"type": "input_audio_buffer.append", "audio": "AAA"},
            "invalid_audio",
            "Invalid audio data",
        ),  # padding
    ],
)
async def test_bad_events_get_vllms_error_and_the_socket_stays_open(server, client, event, code, message):
    async with await connect(client, server) as ws:
        await next_event(ws)
        await ws.send_str(event if isinstance(event, str) else json.dumps(event))
        error = await next_event(ws)
        assert error == {"type": "error", "error": message, "code": code}
        await send(ws, type="session.update", model=DEFAULT_REALTIME_MODEL)
        await send(ws, type="input_audio_buffer.commit", final=True)  # still served: no error follows
        await send(ws, type="nope")
        assert (await next_event(ws))["code"] == "unknown_event"


async def test_pydantic_failures_are_processing_errors(server, client):
    async with await connect(client, server) as ws:
        await next_event(ws)
        await send(ws, type="input_audio_buffer.append")
        missing = await next_event(ws)
        await send(ws, type="session.update", model=DEFAULT_REALTIME_MODEL)
        await send(ws, type="input_audio_buffer.commit", final="maybe")
        not_bool = await next_event(ws)
        await ws.send_str("[1, 2]")
        not_object = await next_event(ws)
    assert missing["code"] == not_bool["code"] == not_object["code"] == "processing_error"
    assert missing["error"].startswith(
        "1 validation error for InputAudioBufferAppend\naudio\n  Field required"
    )
    assert not_bool["error"].startswith("1 validation error for InputAudioBufferCommit\nfinal\n")
    assert not_object["error"] == "'list' object has no attribute 'get'"


async def test_a_binary_frame_ends_the_connection(server, client):
    async with await connect(client, server) as ws:
        await next_event(ws)
        await ws.send_bytes(b"\x00\x01")
        message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1000


async def test_without_the_realtime_task_the_handshake_is_refused(client):
    async with StandInVLLM(model=DEFAULT_MODEL) as plain:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"{plain.base_url}/v1/realtime")
        assert refused.value.status == 403
        async with client.get(f"{plain.base_url}/v1/realtime") as response:
            assert response.status == 404 and await response.json() == {"detail": "Not Found"}


async def test_speed_paces_the_deltas(client):
    async with (
        StandInVLLM(
            model=DEFAULT_REALTIME_MODEL, realtime=True, transcriber=words, realtime_step_seconds=0.5, speed=4
        ) as slow,
        await connect(client, slow) as ws,
    ):
        await next_event(ws)
        await send(ws, type="session.update", model=DEFAULT_REALTIME_MODEL)
        await send(ws, type="input_audio_buffer.commit")
        await send(ws, type="input_audio_buffer.append", audio=pcm(2.0))
        await send(ws, type="input_audio_buffer.commit", final=True)
        started = time.monotonic()
        event = await next_event(ws)
        while event["type"] != "transcription.done":
            event = await next_event(ws)
    assert time.monotonic() - started >= 2.0 / 4 * 0.9


def test_the_cli_flag_serves_the_realtime_model_by_default():
    args = _parse_args(["--realtime"])
    assert args.realtime and args.model is None  # __main__ then picks DEFAULT_REALTIME_MODEL
    assert not _parse_args([]).realtime
