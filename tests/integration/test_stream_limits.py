"""Stream limits set small: idle timeout, audio per stream, buffered audio (backpressure), streams per
identity. Each ends the stream with a clear error and close code, never unbounded memory."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.support.gateway_process import GatewayProcess
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url
from tests.support.waiting import wait_until

HALF_SECOND = 16_000

LIMITS = {
    "STREAM_IDLE_TIMEOUT_SECONDS": "1",
    "STREAM_MAX_AUDIO_SECONDS": "30",
    "STREAM_MAX_BUFFERED_SECONDS": "10",
    # Two, so a stream of the previous test whose slot is still being given back never blocks the next.
    "MAX_STREAMS_PER_IDENTITY": "2",
    "RATE_LIMIT_TRANSCRIPTION": "1000",
}


GATEWAY_ENV = LIMITS


@pytest.fixture(scope="module")
def url(gateway: GatewayProcess) -> str:
    return stream_url(gateway)


async def test_a_silent_client_is_closed_after_the_idle_timeout(url, audio_fixtures):
    first = chunk_messages([audio_fixtures.speech("wav").path.read_bytes()], "wav")[0]
    result = await run_stream(url, [first], time_limit=20)
    error = result.errors[-1]
    assert error["code"] == "idle_timeout" and error["severity"] == "fatal" and error["close_code"] == 1008
    assert len(result.finals) == 1  # what was sent is transcribed before the stream is closed
    assert result.done["segments"] == 1
    assert result.close_code == 1008


async def test_audio_past_the_stream_limit_is_not_transcribed_and_the_stream_ends(url, audio_fixtures):
    # The recording twice (the second copy's RIFF header starts a new WAV segment): 46 s, the limit is 30.
    pieces = cut(audio_fixtures.multi_utterance.path.read_bytes(), HALF_SECOND)
    result = await run_stream(url, chunk_messages(pieces + pieces, "wav"))
    error = result.errors[-1]
    assert error["code"] == "audio_too_long" and error["close_code"] == 1008
    assert "STREAM_MAX_AUDIO_SECONDS" in error["message"]
    assert result.done["audio_duration_seconds"] == 30.0
    assert all(final["end"] <= 30.0 for final in result.finals) and len(result.finals) >= 7
    assert result.close_code == 1008


async def _first_stream(url: str) -> websockets.ClientConnection:
    """A stream that got a slot: the previous test's stream may still hold one for a moment."""
    for _ in range(50):
        socket = await websockets.connect(url)
        message = json.loads(await socket.recv())
        if message["type"] == "ready":
            return socket
        assert message["code"] == "too_many_streams", message
        await socket.close()
        await asyncio.sleep(0.1)
    raise AssertionError("the identity's stream slot was never given back")


async def test_a_stream_past_the_identitys_limit_is_refused_with_4429(url):
    async with await _first_stream(url), await _first_stream(url):
        refused = await run_stream(url, [])
        assert refused.errors[0]["code"] == "too_many_streams" and refused.errors[0]["close_code"] == 4429
        assert refused.close_code == 4429
    # The slot is given back when the stream ends (as soon as the server has seen the close).
    for _ in range(20):
        again = await run_stream(url, [{"is_final": True}])
        if again.close_code != 4429:
            break
        await asyncio.sleep(0.1)
    assert again.close_code == 1000


async def test_a_client_faster_than_the_model_is_slowed_down_and_nothing_is_lost(
    url, gateway, standin, audio_fixtures
):
    standin.server.reset()
    standin.server.delay_seconds = 1.5
    closed_before = len(_closed_streams(gateway))
    try:
        # 23 s of speech sent at once; the model takes 1.5 s per utterance; 10 s may wait.
        pcm = audio_fixtures.multi_utterance.raw_path.read_bytes()
        outgoing = [{"type": "start", "format": "pcm_s16le"}, *cut(pcm, 3200), {"is_final": True}]
        result = await run_stream(url, outgoing, time_limit=60)
    finally:
        standin.server.delay_seconds = 0.0
    assert len(result.finals) == 6 and result.close_code == 1000
    assert await asyncio.to_thread(wait_until, lambda: len(_closed_streams(gateway)) > closed_before)
    closed = _closed_streams(gateway)
    # Without backpressure all six utterances (20 s) would wait at once; with it, 10 s plus the one
    # that crossed the limit.
    assert closed[-1]["peak_buffered_seconds"] <= 10 + 4.1
    assert standin.server.max_in_flight <= 4


def _closed_streams(gateway: GatewayProcess) -> list[dict]:
    return [json.loads(line) for line in gateway.logs().splitlines() if '"stream_closed"' in line]
