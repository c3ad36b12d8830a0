"""A live session on a realtime model holds one admission slot for its whole life (vLLM works on its
stream all along): with ADMISSION_MAX_IN_FLIGHT=1, a file transcription and a second stream wait in the
admission queue and are refused once ADMISSION_MAX_WAIT_SECONDS passed; the slot comes back when the
session ends, however it ends (here: its client just goes away, then a stream that runs to its done)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.audio_fixtures import FixtureSet
from tests.standin_vllm import DEFAULT_REALTIME_MODEL
from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url
from tests.support.waiting import wait_until

STANDIN_OPTIONS = {"model": DEFAULT_REALTIME_MODEL, "realtime": True, "speed": 8.0}
GATEWAY_ENV = {
    "RATE_LIMIT_ENABLED": "false",
    "VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL,
    "ADMISSION_MAX_IN_FLIGHT": "1",
    "ADMISSION_QUEUE_LIMIT": "1",
    "ADMISSION_MAX_WAIT_SECONDS": "1",
}
IN_FLIGHT = "voxtral_gateway_backend_requests_in_flight"


def slots_in_use(gateway: GatewayProcess) -> float:
    return value(scrape(gateway.base_url), IN_FLIGHT)


def speech_messages(audio_fixtures: FixtureSet) -> tuple[Path, list[dict[str, Any]]]:
    """The speech clip, and its seed-protocol chunk messages."""
    clip = audio_fixtures.speech("wav").path
    return clip, chunk_messages(cut(clip.read_bytes(), 8000), "wav")


async def test_a_realtime_session_holds_a_slot_until_it_ends(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    clip, messages = speech_messages(audio_fixtures)
    async with websockets.connect(stream_url(gateway), max_size=None) as holder:
        for message in messages[:2]:  # the session is open; its client pauses (never says final)
            await holder.send(json.dumps(message))
        assert await asyncio.to_thread(wait_until, lambda: slots_in_use(gateway) == 1)

        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            refused = await client.post("/transcribe/", json=transcribe_body(clip, "wav"))
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert refused.json()["error"]["details"]["reason"] == "waited_too_long"

        second = await run_stream(stream_url(gateway), messages, time_limit=30)
        [error] = second.errors
        assert error["code"] == "overloaded" and "ADMISSION_MAX_WAIT_SECONDS" in error["message"]
        assert second.close_code == 1011 and not second.finals
        assert slots_in_use(gateway) == 1  # the refused stream took nothing
    # The holder's client left without a final chunk: its model session and its slot go.
    assert await asyncio.to_thread(wait_until, lambda: slots_in_use(gateway) == 0)
    assert await asyncio.to_thread(wait_until, lambda: standin.server.in_flight == 0)
    assert [r.endpoint for r in standin.server.requests] == ["/v1/realtime"]  # nothing else reached vLLM

    result = await run_stream(stream_url(gateway), messages, pace_seconds=0.02)
    assert not result.errors and result.finals, result.messages
    assert result.close_code == 1000
    assert await asyncio.to_thread(wait_until, lambda: slots_in_use(gateway) == 0)


async def test_a_session_waiting_for_the_slot_gets_it_when_the_holder_ends(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    _, messages = speech_messages(audio_fixtures)
    async with websockets.connect(stream_url(gateway), max_size=None) as holder:
        await holder.send(json.dumps(messages[0]))
        assert await asyncio.to_thread(wait_until, lambda: slots_in_use(gateway) == 1)
        waiting = asyncio.create_task(run_stream(stream_url(gateway), messages, time_limit=30))
        assert await asyncio.to_thread(
            wait_until,
            lambda: value(scrape(gateway.base_url), "voxtral_gateway_backend_requests_queued") == 1,
        )
    # The holder goes within the wait: the waiting session takes its slot and runs to its end.
    result = await waiting
    assert not result.errors and result.finals, result.messages
    assert result.close_code == 1000
