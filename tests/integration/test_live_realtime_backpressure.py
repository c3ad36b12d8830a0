"""Backpressure on a realtime model: while the model finishes a turn, the next turn's audio waits in the
gateway (vLLM would drop it), and counts against STREAM_MAX_BUFFERED_SECONDS like an utterance waiting
for a batch model; a client faster than the model is then no longer read, and nothing is lost."""

from __future__ import annotations

import asyncio
import json

from tests.audio_fixtures import FixtureSet
from tests.standin_vllm import DEFAULT_REALTIME_MODEL
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import StreamResult, cut, run_stream, stream_url
from tests.support.waiting import wait_until

MAX_BUFFERED_SECONDS = 10.0
STANDIN_OPTIONS = {"model": DEFAULT_REALTIME_MODEL, "realtime": True, "speed": 8.0}
GATEWAY_ENV = {
    "RATE_LIMIT_ENABLED": "false",
    "VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL,
    "STREAM_MAX_BUFFERED_SECONDS": str(MAX_BUFFERED_SECONDS),
}
MESSAGE_SECONDS = 0.1  # 3,200 bytes of PCM16 at 16 kHz


async def _send_at_once(gateway: GatewayProcess, pcm: bytes) -> StreamResult:
    outgoing = [{"type": "start", "format": "pcm_s16le"}, *cut(pcm, 3200), {"is_final": True}]
    return await run_stream(stream_url(gateway), outgoing, time_limit=120)


async def test_a_client_faster_than_a_slow_realtime_model_is_held_to_the_buffered_limit(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    pcm = audio_fixtures.multi_utterance.raw_path.read_bytes()  # 23 s, six utterances
    standin.server.reset()
    reference = await _send_at_once(gateway, pcm)  # the model answers each turn at once
    standin.server.realtime_done_delay_seconds = 3.0
    try:
        # The first turn's done comes 3 s after its end; the rest of the audio (19 s) arrives meanwhile.
        result = await _send_at_once(gateway, pcm)
    finally:
        standin.server.realtime_done_delay_seconds = 0.0
    assert not result.errors and result.close_code == 1000, result.messages
    # Each final is one model turn ("audio of N seconds"): the same turns, with all their audio.
    assert [f["text"] for f in result.finals] == [f["text"] for f in reference.finals]
    assert len(result.finals) == len(audio_fixtures.multi_utterance.utterances)
    assert result.done["text"] == reference.done["text"]
    assert result.done["audio_duration_seconds"] == reference.done["audio_duration_seconds"]

    [ready] = result.of("ready")
    closed = await asyncio.to_thread(_closed_stream, gateway, ready["session_id"])
    # Held audio counts: it reached the limit (then the socket was no longer read), and never passed it
    # by more than the message that crossed it.
    assert MAX_BUFFERED_SECONDS < closed["peak_buffered_seconds"] <= MAX_BUFFERED_SECONDS + MESSAGE_SECONDS


def _closed_stream(gateway: GatewayProcess, session_id: str) -> dict:
    lines: list[dict] = []

    def logged() -> bool:
        lines[:] = [
            entry
            for line in gateway.logs().splitlines()
            if '"stream_closed"' in line and (entry := json.loads(line))["session_id"] == session_id
        ]
        return bool(lines)

    assert wait_until(logged), f"no stream_closed line for {session_id}"
    return lines[0]
