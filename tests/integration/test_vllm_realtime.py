"""The realtime client (backends/vllm_realtime.py) through the pool, against the stand-in vLLM's
WS /v1/realtime on real sockets: deltas before done, the text, errors mapped, replicas down."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.standin_vllm import DEFAULT_MODEL, DEFAULT_REALTIME_MODEL, StandInVLLM
from tests.support.gateway_process import free_port
from voxtral_gateway.backends.base import (
    RealtimeDelta,
    RealtimeDone,
    RealtimeTurnFailed,
    TranscriptionOptions,
)
from voxtral_gateway.backends.pool import VLLMPool
from voxtral_gateway.errors import UpstreamError, UpstreamRejected, UpstreamUnavailable, UpstreamUnreachable
from voxtral_gateway.settings import load_settings

RATE = 16_000
OPTIONS = TranscriptionOptions()


def words_transcriber(audio: np.ndarray, language: str | None) -> str:
    """One word per half second of audio heard: a transcript that only grows as audio arrives."""
    return " ".join(f"word{i}" for i in range(int(audio.size / (RATE / 2))))


def make_pool(*urls: str, realtime: str = "auto", **env: str) -> VLLMPool:
    settings = load_settings(
        {
            "VOXTRAL_BACKENDS": ",".join(urls),
            "VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL,
            "VOXTRAL_REALTIME": realtime,
            **env,
        }
    )
    return VLLMPool(settings.vllm, settings.timeouts)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


async def stream_turn(session, audio: np.ndarray, chunk_seconds: float = 0.1, pace: float = 0.0):
    """Send `audio` in chunks (sleeping `pace` between them), commit, collect events up to the done,
    each with the number of chunks sent when it arrived."""
    events: list[tuple[object, int]] = []
    sent = 0

    async def collect() -> None:
        async for event in session.events():
            events.append((event, sent))
            if isinstance(event, RealtimeDone):
                return

    collector = asyncio.create_task(collect())
    step = int(chunk_seconds * RATE)
    for start in range(0, audio.size, step):
        await session.append(audio[start : start + step])
        sent += 1
        await asyncio.sleep(pace)
    await session.commit()
    await asyncio.wait_for(collector, 10)
    return events, sent


async def test_deltas_arrive_while_audio_streams_and_the_done_text_is_the_whole_transcript():
    async with StandInVLLM(
        model=DEFAULT_REALTIME_MODEL, realtime=True, transcriber=words_transcriber, realtime_step_seconds=0.5
    ) as server:
        pool = make_pool(server.base_url)
        await pool.start()
        try:
            session = await pool.realtime_session(OPTIONS)
            assert session is not None
            async with session:
                assert pool.members[0].in_flight == 1  # counted by the pool while open
                events, sent = await stream_turn(session, tone(4.0), pace=0.02)
            assert pool.members[0].in_flight == 0
        finally:
            await pool.close()
    deltas = [(e, at) for e, at in events if isinstance(e, RealtimeDelta)]
    done = events[-1][0]
    assert isinstance(done, RealtimeDone)
    assert [e for e, _ in events[:-1]] == [e for e, _ in deltas]  # every event before the done is a delta
    assert any(e.text for e, at in deltas if at < sent)  # text came before all the audio was sent
    assert done.text == "".join(e.text for e, _ in deltas)
    assert done.text == words_transcriber(tone(4.0), None)
    assert done.usage is not None and done.usage.completion_tokens > 0
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    [record] = [r for r in server.requests if r.endpoint == "/v1/realtime"]
    assert record.status == 200 and record.audios[0].duration_s == pytest.approx(4.0, abs=0.01)


async def test_one_session_carries_several_turns_even_when_the_next_starts_before_the_done():
    async with StandInVLLM(
        model=DEFAULT_REALTIME_MODEL, realtime=True, transcriber=words_transcriber, speed=20
    ) as server:
        pool = make_pool(server.base_url)
        await pool.start()
        try:
            async with await pool.realtime_session(OPTIONS) as session:
                # The second turn's audio is sent before the first turn's done: vLLM would drop it,
                # the session holds it until the done.
                await session.append(tone(1.5))
                await session.commit()
                await session.append(tone(2.5))
                await session.commit()
                dones = []
                async for event in session.events():
                    if isinstance(event, RealtimeDone):
                        dones.append(event.text)
                        if len(dones) == 2:
                            break
        finally:
            await pool.close()
    assert dones == [words_transcriber(tone(1.5), None), words_transcriber(tone(2.5), None)]


async def test_an_error_event_from_vllm_becomes_a_gateway_error():
    async with StandInVLLM(model=DEFAULT_REALTIME_MODEL, realtime=True) as server:
        # The gateway configured with a model vLLM does not serve: vLLM's model_not_found.
        pool = make_pool(server.base_url, VOXTRAL_REALTIME="on")
        pool.realtime._model = "mistralai/not-this-one"
        await pool.start()
        try:
            async with await pool.realtime_session(OPTIONS) as session:
                await session.append(tone(0.5))
                with pytest.raises(UpstreamError) as caught:
                    async for _ in session.events():
                        pass
            assert caught.value.details == {"upstream_code": "model_not_found"}
            assert "does not exist" in caught.value.message

            # vLLM's admission refusing the engine request (--max-num-queued-reqs): a processing_error
            # that says the engine is busy → unavailable.
            server.engine.max_num_queued_reqs = 0
            pool.realtime._model = DEFAULT_REALTIME_MODEL
            async with await pool.realtime_session(OPTIONS) as session:
                await session.append(tone(0.5))
                await session.commit()
                await session.append(tone(1.0))  # the next turn, held until the first is over
                await session.commit()
                events = session.events()
                failed = await anext(events)
                assert isinstance(failed, RealtimeTurnFailed)
                assert isinstance(failed.error, UpstreamUnavailable) and "busy" in failed.error.message
                # The session goes on, on a fresh socket (vLLM left the failed turn's audio queued).
                server.engine.max_num_queued_reqs = None
                rest = [event async for event in _until_done(events)]
                assert rest[-1] == RealtimeDone(text="audio of 1.00 seconds", usage=rest[-1].usage)
        finally:
            await pool.close()


async def _until_done(events):
    async for event in events:
        yield event
        if isinstance(event, RealtimeDone):
            return


def test_invalid_audio_maps_to_a_rejection_and_other_codes_to_upstream_errors():
    from voxtral_gateway.backends.vllm_realtime import error_from_event

    rejected = error_from_event("invalid_audio", "Invalid audio data", "http://x")
    assert isinstance(rejected, UpstreamRejected) and rejected.effective_status == 400
    other = error_from_event("unknown_event", "Unknown event type: x", "http://x")
    assert type(other) is UpstreamError and other.status_code == 502


async def test_auto_discovers_a_realtime_model_and_a_model_without_realtime_gets_no_session():
    async with (
        StandInVLLM(model=DEFAULT_REALTIME_MODEL, realtime=True) as realtime,
        StandInVLLM(model=DEFAULT_MODEL) as batch_only,
    ):
        for server, expected in ((realtime, True), (batch_only, False)):
            pool = make_pool(server.base_url)
            await pool.start()
            try:
                session = await pool.realtime_session(OPTIONS)
                assert (session is not None) is expected
                assert pool.realtime.available is expected
                if session is not None:
                    await session.close()
            finally:
                await pool.close()
        off = make_pool(realtime.base_url, realtime="off")
        await off.start()
        try:
            assert await off.realtime_session(OPTIONS) is None
        finally:
            await off.close()


async def test_a_replica_down_is_skipped_and_all_down_is_unavailable():
    dead = f"http://127.0.0.1:{free_port()}"
    async with StandInVLLM(model=DEFAULT_REALTIME_MODEL, realtime=True) as server:
        pool = make_pool(dead, server.base_url, realtime="on")
        await pool.start()
        try:
            async with await pool.realtime_session(OPTIONS) as session:
                assert session.url == server.base_url
            assert pool.members[0].state == "unhealthy"
        finally:
            await pool.close()
    pool = make_pool(dead, realtime="on")
    await pool.start()
    try:
        with pytest.raises(UpstreamUnreachable) as caught:
            await pool.realtime_session(OPTIONS)
        assert caught.value.status_code == 503 and "cannot connect" in caught.value.message
    finally:
        await pool.close()


async def test_vllm_going_away_mid_turn_is_a_disconnect():
    from voxtral_gateway.errors import UpstreamDisconnected

    server = StandInVLLM(model=DEFAULT_REALTIME_MODEL, realtime=True, speed=1)
    await server.start()
    pool = make_pool(server.base_url, realtime="on")
    await pool.start()
    try:
        async with await pool.realtime_session(OPTIONS) as session:
            await session.append(tone(2.0))
            await session.commit()
            await server.stop()
            with pytest.raises(UpstreamDisconnected):
                async for _ in session.events():
                    pass
    finally:
        await pool.close()
        await server.stop()


async def test_auto_asks_again_when_no_server_answered_the_start_up_probe():
    port = free_port()
    pool = make_pool(f"http://127.0.0.1:{port}")
    await pool.start()
    try:
        assert await pool.realtime.probe() is None and pool.realtime.available is None
        async with StandInVLLM(model=DEFAULT_REALTIME_MODEL, realtime=True) as server:
            await server.stop()
            await server.start(port=port)  # the server comes up after the gateway
            session = await pool.realtime_session(OPTIONS)
            assert session is not None and pool.realtime.available is True
            await session.close()
    finally:
        await pool.close()
