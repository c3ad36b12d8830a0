"""The live transcription protocol against the stand-in vLLM: ordering, loss, bad input, limits,
cancellation. The stand-in answers "audio of N seconds", so what reached the model can be checked."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import time
from collections.abc import Iterator

import pytest
import websockets

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url

HALF_SECOND = 16_000  # bytes of 16 kHz 16-bit mono PCM


GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false"}


@pytest.fixture(scope="module")
def url(gateway: GatewayProcess) -> str:
    return stream_url(gateway)


@pytest.fixture
def upstream(standin: ThreadedStandIn) -> Iterator[ThreadedStandIn]:
    """The stand-in with fresh records, restored to full speed afterwards."""
    standin.server.reset()
    yield standin
    standin.server.delay_seconds = 0.0
    standin.server.speed = None


def _wav(audio_fixtures: FixtureSet) -> bytes:
    return audio_fixtures.multi_utterance.path.read_bytes()


def _seconds(final: dict) -> float:
    """The audio length the stand-in says it received for a final."""
    return float(re.search(r"audio of ([\d.]+) seconds", final["text"]).group(1))


async def test_ready_describes_the_stream(url):
    result = await run_stream(url, [{"is_final": True}])
    ready = result.messages[0]
    assert ready["type"] == "ready" and len(ready["session_id"]) == 16
    assert ready["backend"] == "vllm" and ready["sample_rate"] == 16000
    assert {"wav", "mp3", "ogg", "webm", "pcm_s16le"} <= set(ready["formats"])
    assert ready["limits"]["max_message_bytes"] == 1 << 20
    assert ready["limits"]["silence_seconds"] == 0.5 and ready["limits"]["max_utterance_seconds"] == 30.0
    assert result.done["text"] == "" and result.done["segments"] == 0
    assert result.close_code == 1000


async def test_each_utterance_is_one_upstream_request_of_its_own_audio(url, upstream, audio_fixtures):
    result = await run_stream(url, chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav"))
    finals = result.finals
    assert len(finals) == 6
    received = [r.audios[0].duration_s for r in upstream.server.requests]  # partials are requests too
    for final in finals:
        assert _seconds(final) == pytest.approx(final["end"] - final["start"], abs=0.011)
        assert any(abs(_seconds(final) - seconds) < 0.011 for seconds in received)
        assert final["confidence"] is None and final["language"] == "en" and final["backend_ms"] > 0
    assert all(r.fields["language"] == "en" for r in upstream.server.requests)
    assert all(r.audios[0].sample_rate == 16000 for r in upstream.server.requests)


async def test_without_a_language_each_final_names_the_language_of_its_text(url, upstream, audio_fixtures):
    result = await run_stream(
        url, chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav", language=None)
    )
    assert len(result.finals) == 6
    assert all("language" not in r.fields for r in upstream.server.requests)
    # vLLM names no language: the gateway identifies it from the (English) text, off the event loop.
    assert all(final["language"] == "en" for final in result.finals)


async def test_duplicates_and_swapped_chunks_lose_nothing(url, upstream, audio_fixtures):
    messages = chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav")
    body, final = messages[:-1], messages[-1]
    reordered = [body[0], body[2], body[1], body[1], *body[3:8], body[5], body[9], body[8], *body[10:], final]
    result = await run_stream(url, reordered)
    warnings = [e for e in result.errors if e["severity"] == "warning"]
    assert sorted((e["code"], e["chunk_id"]) for e in warnings) == [
        ("duplicate_chunk", 2),
        ("duplicate_chunk", 6),
    ]
    assert not [e for e in result.errors if e["severity"] != "warning"]
    assert result.done["missing_chunk_ids"] == []
    assert result.done["audio_duration_seconds"] == pytest.approx(
        audio_fixtures.multi_utterance.duration, abs=0.01
    )
    assert len(result.finals) == 6


async def test_a_lost_chunk_is_reported_with_its_id_and_the_rest_is_transcribed(
    url, upstream, audio_fixtures
):
    messages = chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav")
    lost = messages.pop(20)  # chunk 21
    result = await run_stream(url, messages)
    gaps = [e for e in result.errors if e["code"] == "chunk_gap"]
    assert len(gaps) == 1 and gaps[0]["missing_chunk_ids"] == [lost["chunk_id"]] == [21]
    assert gaps[0]["severity"] == "error"
    assert result.done["missing_chunk_ids"] == [21]
    expected = audio_fixtures.multi_utterance.duration - 0.5
    assert result.done["audio_duration_seconds"] == pytest.approx(expected, abs=0.01)
    assert len(result.finals) >= 5


async def test_a_gap_still_open_at_the_final_chunk_is_reported(url, upstream, audio_fixtures):
    messages = chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav")
    del messages[-3:-1]  # the last two audio chunks never arrive
    result = await run_stream(url, messages)
    last = messages[-1]["chunk_id"]
    assert result.done["missing_chunk_ids"] == [last - 2, last - 1]
    assert any(
        e["code"] == "chunk_gap" and e["missing_chunk_ids"] == [last - 2, last - 1] for e in result.errors
    )


async def test_bad_messages_get_an_error_and_the_stream_goes_on(url, upstream, audio_fixtures):
    good = chunk_messages(cut(audio_fixtures.speech("wav").path.read_bytes(), HALF_SECOND), "wav")
    bad = [
        "this is not json",
        '{"chunk_id": 2, "audio_data": "not base64!"}',
        {"chunk_id": 2, "audio_data": "AAAA", "format": "mp4a"},
        {"chunk_id": 2, "audio_data": "AAAA", "colour": "red"},
        [1, 2, 3],
        {"type": "hello"},
        {"chunk_id": 2, "audio_data": "AAAA", "language": "xx"},
        {"audio_data": "AAAA"},
        '{"chunk_id": ' + "[" * 100_000 + "]" * 100_000 + "}",  # past msgspec's recursion limit
    ]
    outgoing = [good[0], *[json.dumps(b) if isinstance(b, list) else b for b in bad], *good[1:]]
    result = await run_stream(url, outgoing)
    errors = result.errors
    assert len(errors) == len(bad)
    assert all(e["severity"] == "error" for e in errors)
    assert [e["code"] for e in errors] == ["invalid_message"] * len(bad)
    assert "base64" in errors[1]["message"] and errors[1]["chunk_id"] == 2
    assert "format" in errors[2]["message"] and errors[2]["chunk_id"] == 2
    assert "colour" in errors[3]["message"]
    assert "language" in errors[6]["message"]
    assert "chunk_id is required" in errors[7]["message"]
    assert "nested too deeply" in errors[8]["message"]
    # Nothing was consumed by the bad messages: chunk 2 is still expected, and arrives.
    assert result.done["missing_chunk_ids"] == []
    assert result.done["audio_duration_seconds"] == pytest.approx(
        audio_fixtures.speech("wav").duration, abs=0.01
    )
    assert result.close_code == 1000


async def test_binary_frames_need_a_start_message(url):
    result = await run_stream(url, [b"\x00\x01" * 1000])
    error = result.errors[-1]
    assert error["code"] == "start_required" and error["severity"] == "fatal" and error["close_code"] == 1008
    assert result.close_code == 1008


@pytest.mark.parametrize(
    ("payload", "declared", "code"),
    [
        (bytes(range(256)) * 400, "wav", "audio_undecodable"),
        (None, "m4a", "unsupported_stream_format"),
    ],
)
async def test_audio_that_cannot_be_decoded_closes_with_1003(url, audio_fixtures, payload, declared, code):
    data = payload if payload is not None else audio_fixtures.speech("m4a").path.read_bytes()
    result = await run_stream(url, chunk_messages(cut(data, 8000), declared))
    assert result.errors[-1]["code"] == code and result.errors[-1]["chunk_id"] == 1
    assert result.done["segments"] == 0  # the stream still ends with its `done`
    assert result.close_code == 1003


async def test_an_oversized_message_closes_with_1009(url, audio_fixtures):
    first = chunk_messages([audio_fixtures.speech("wav").path.read_bytes()], "wav")[0]
    huge = {"chunk_id": 2, "audio_data": base64.b64encode(bytes(800_000)).decode()}  # > 1 MiB as JSON
    result = await run_stream(url, [first, huge])
    error = result.errors[-1]
    assert error["code"] == "message_too_big" and error["close_code"] == 1009
    assert "STREAM_MAX_MESSAGE_BYTES" in error["message"]
    # What arrived before the oversized message is still transcribed.
    assert len(result.finals) == 1 and result.messages.index(result.done) < result.messages.index(error)
    assert result.close_code == 1009


async def test_a_message_is_measured_in_bytes_not_characters(url):
    # 600,000 characters (under the 1 MiB limit), 1.2 MB as UTF-8 on the wire (over it).
    wide = json.dumps({"chunk_id": 1, "audio_data": "é" * 600_000}, ensure_ascii=False)
    result = await run_stream(url, [wide])
    assert result.errors[-1]["code"] == "message_too_big"
    assert result.close_code == 1009


async def test_finals_come_in_stream_order_when_transcriptions_finish_out_of_order(
    url, upstream, audio_fixtures
):
    upstream.server.speed = 2.0  # a 4 s utterance takes 2 s, a 2 s one 1 s: later ones finish first
    result = await run_stream(url, chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav"))
    assert [f["segment_id"] for f in result.finals] == [1, 2, 3, 4, 5, 6]
    finished = [r.finished_at for r in sorted(upstream.server.requests, key=lambda r: r.started_at)]
    assert finished != sorted(finished), "the stand-in finished some later utterance first"


async def test_a_client_that_disconnects_mid_stream_cancels_its_upstream_requests(
    url, upstream, audio_fixtures
):
    upstream.server.delay_seconds = 30.0
    messages = chunk_messages(cut(_wav(audio_fixtures), HALF_SECOND), "wav")[:20]  # two utterances, no end
    async with websockets.connect(url) as socket:
        await socket.recv()
        for message in messages:
            await socket.send(json.dumps(message))
        # Wait for the two finals in flight (a partial of the first utterance may have come and gone).
        await _until(lambda: len(_finals_in_flight(upstream)) == 2, seconds=10)
        finals = _finals_in_flight(upstream)
        assert len(finals) == 2
        disconnected_at = time.monotonic()
    await _until(lambda: upstream.server.in_flight == 0, seconds=10)
    assert upstream.server.in_flight == 0
    assert all(request.aborted for request in finals)
    assert time.monotonic() - disconnected_at < 10  # cancelled, not answered after the stand-in's 30 s


async def _until(condition, seconds: float) -> None:
    """Poll the stand-in (it runs on another thread's loop) until `condition()` or `seconds` pass."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)


def _finals_in_flight(upstream: ThreadedStandIn) -> list:
    """Requests still running whose audio is a whole sentence (over 2.5 s), not a partial's first second."""
    return [
        r
        for r in list(upstream.server.requests)
        if r.finished_at is None and r.audios and (r.audios[0].duration_s or 0) > 2.5
    ]


async def test_partials_one_at_a_time_then_the_final(url, upstream, audio_fixtures):
    upstream.server.delay_seconds = 1.2  # slower than the 1 s partial interval: partials must not pile up
    clip = audio_fixtures.speech("wav")
    result = await run_stream(
        url, chunk_messages(cut(clip.path.read_bytes(), 8000), "wav"), pace_seconds=0.25
    )
    assert result.partials and len(result.finals) == 1
    assert result.messages.index(result.partials[-1]) < result.messages.index(result.finals[0])
    requests = sorted(upstream.server.requests, key=lambda r: r.started_at)
    partial_requests = requests[:-1]
    for earlier, later in itertools.pairwise(partial_requests):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at
    assert len(requests) <= 1 + int(clip.duration / 1.2) + 1


async def test_a_stream_ended_while_the_client_still_sends_gets_its_last_messages_and_close_frame(url):
    # granian resets a connection closed with unread bytes; the gateway reads until the client pauses
    # so the client still gets `done`, the error and the close frame (not 1006). Racy, so tried often.
    garbage = chunk_messages(cut(bytes(range(256)) * 800, 8000), "wav")
    for _ in range(8):
        result = await run_stream(url, garbage)
        assert result.close_code == 1003
        assert [m["type"] for m in result.messages] == ["ready", "done", "error"]
