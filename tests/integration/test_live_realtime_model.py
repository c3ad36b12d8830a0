"""A live session on a realtime model (the stand-in with vLLM's /v1/realtime, discovered by the
gateway's probe): the seed protocol's audio streams to the model as it arrives, its deltas come back as
partials and each turn's done as the final; no utterance is posted to /v1/audio/transcriptions."""

from __future__ import annotations

import asyncio
import json
import re

import websockets

from tests.audio_fixtures import FixtureSet
from tests.standin_vllm import DEFAULT_REALTIME_MODEL
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url
from tests.support.waiting import wait_until

STANDIN_OPTIONS = {"model": DEFAULT_REALTIME_MODEL, "realtime": True, "speed": 8.0}
GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false", "VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL}


async def test_the_seed_stream_is_transcribed_by_the_realtime_model_as_it_arrives(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    clip = audio_fixtures.speech("wav")
    result = await run_stream(
        stream_url(gateway), chunk_messages(cut(clip.path.read_bytes(), 8000), "wav"), pace_seconds=0.25
    )
    assert not result.errors, result.messages
    finals = result.finals
    assert finals and result.done["text"] == " ".join(f["text"] for f in finals if f["text"])
    # The stand-in's transcriber names the audio it heard: each final is one realtime turn's transcript.
    assert all(re.fullmatch(r"audio of \d+\.\d\d seconds", f["text"]) for f in finals), result.messages
    # Text came while the audio was still streaming: a partial before the first final, of its segment.
    kinds = [m["type"] for m in result.messages]
    first_final = kinds.index("final")
    partials_before = [m for m in result.messages[:first_final] if m["type"] == "partial"]
    assert partials_before and partials_before[0]["segment_id"] == finals[0]["segment_id"]
    assert finals[0]["text"].startswith(partials_before[-1]["text"])
    endpoints = {r.endpoint for r in standin.server.requests}
    assert endpoints == {"/v1/realtime"}, endpoints  # nothing batched per utterance
    assert len(standin.server.requests) == len(finals)  # one model turn per final


async def test_a_model_failure_fails_the_turn_with_an_error_and_the_stream_still_ends_with_done(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    standin.server.fail_next(500, "the engine failed")
    clip = audio_fixtures.speech("wav")
    result = await run_stream(
        stream_url(gateway), chunk_messages(cut(clip.path.read_bytes(), 8000), "wav"), pace_seconds=0.05
    )
    [error] = result.errors
    assert error["code"] == "upstream_error" and "the engine failed" in error["message"]
    assert result.done["failed_segment_ids"] == [error["segment_id"]]
    assert result.close_code == 1000


async def test_a_client_that_goes_away_ends_the_model_session(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    clip = audio_fixtures.speech("wav")
    messages = chunk_messages(cut(clip.path.read_bytes(), 8000), "wav")[:-1]  # never says it is final
    async with websockets.connect(stream_url(gateway), max_size=None) as socket:
        for message in messages[: len(messages) // 2]:
            await socket.send(json.dumps(message))
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(wait_until, lambda: standin.server.in_flight == 1)
    # The socket is closed without a final chunk: the gateway aborts the model's engine request.
    assert await asyncio.to_thread(wait_until, lambda: standin.server.in_flight == 0)
    assert standin.server.aborted == 1
