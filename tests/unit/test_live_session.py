"""The live-session core (services/live): audio bytes in, typed events out, with no protocol around it."""

from __future__ import annotations

import asyncio
import itertools
import wave

import numpy as np
import pytest

from tests.audio_fixtures import FixtureSet
from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptionOptions
from voxtral_gateway.backends.base import BackendHealth
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import AudioUndecodable, GatewayError, InvalidRequest, Overloaded
from voxtral_gateway.services.live import (
    AudioInput,
    Done,
    Error,
    Final,
    LiveCollaborators,
    LiveEvent,
    LiveSession,
    SessionEnded,
)
from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.cpu_work import CpuWork

RATE = 16_000
LIMITS = AudioLimits(max_bytes=1 << 30, max_duration_seconds=3600)


class NumberingBackend(SpeechBackend):
    """Answers each request with its audio's length, so a transcript says which audio it was."""

    kind = "numbering"

    def __init__(self) -> None:
        self.model_name = "numbering-1"
        self.requests: list[float] = []

    async def transcribe(self, audio, options: TranscriptionOptions) -> Transcript:
        self.requests.append(audio.duration_seconds)
        return Transcript(
            text=f"{audio.duration_seconds:.1f} s", language=options.language, confidence=None, segments=[]
        )

    async def health(self) -> BackendHealth:
        raise NotImplementedError


class FullPool(CpuPool):
    """A CPU pool whose queue is always full."""

    def __init__(self) -> None:
        super().__init__("full", 1, 0)
        self.attempts = 0

    async def run(self, func, *args, **kwargs):
        self.attempts += 1
        raise Overloaded("the full pool is busy; retry shortly")


def _check_language(language: str) -> None:
    if language != "en":
        raise InvalidRequest(f"language {language!r} is not supported", field="language")


async def _language_of(transcript: Transcript, options: TranscriptionOptions) -> str | None:
    return options.language or transcript.language


def _session(
    backend: SpeechBackend, events: list[LiveEvent], pool: CpuPool | None = None, **config
) -> LiveSession:
    collaborators = LiveCollaborators(
        backend=backend,
        cpu_pool=pool or CpuPool("decode", 1, 8),
        audio_limits=LIMITS,
        check_language=_check_language,
        language_of=_language_of,
    )
    return LiveSession(
        session_id="test",
        config=StreamConfig(partial_interval_seconds=0, **config),
        collaborators=collaborators,
        emit=events.append,
    )


@pytest.fixture(scope="module")
def multi_pcm(audio_fixtures: FixtureSet) -> bytes:
    with wave.open(str(audio_fixtures.multi_utterance.path), "rb") as handle:
        assert handle.getframerate() == RATE and handle.getnchannels() == 1
        return handle.readframes(handle.getnframes())


async def test_pcm_in_pieces_gives_one_final_per_utterance_in_order_then_done(multi_pcm, audio_fixtures):
    backend, events = NumberingBackend(), []
    session = _session(backend, events)
    session.declare_audio(AudioInput(format="pcm_s16le", sample_rate=RATE))
    session.set_language("en")
    piece = RATE // 5 * 2  # 200 ms of 16-bit samples

    async def receive() -> None:
        for mark, start in enumerate(range(0, len(multi_pcm), piece), start=1):
            await session.feed(multi_pcm[start : start + piece], mark)

    assert await session.run(receive) is None
    finals = [event for event in events if isinstance(event, Final)]
    assert len(finals) == len(audio_fixtures.multi_utterance.utterances)
    assert [final.segment_id for final in finals] == list(range(1, len(finals) + 1))
    assert all(final.language == "en" for final in finals)
    assert all(a.end <= b.start for a, b in itertools.pairwise(finals))
    # Each final's mark is the piece that carried its last sample.
    assert all(final.mark == int(final.end * RATE * 2 // piece) + 1 for final in finals[:-1])
    done = events[-1]
    assert isinstance(done, Done)
    assert done.segments == len(finals) and done.text == " ".join(final.text for final in finals)
    assert done.audio_seconds == round(len(multi_pcm) / 2 / RATE, 3)
    assert done.failed_segment_ids == []


async def test_a_language_the_backend_does_not_take_is_refused_and_changes_nothing():
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events)
    with pytest.raises(InvalidRequest):
        session.set_language("xx")

    async def receive() -> None:
        pass

    assert await session.run(receive) is None
    assert len(events) == 1 and isinstance(events[0], Done) and events[0].language is None


async def test_audio_past_the_limit_ends_the_session_after_finishing_what_was_taken(multi_pcm):
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events, max_audio_seconds=3.0)
    session.declare_audio(AudioInput(format="pcm_s16le"))

    async def receive() -> None:
        await session.feed(multi_pcm[: 2 * 5 * RATE], 7)

    ending = await session.run(receive)
    assert ending is not None and ending.fatal and ending.mark == 7
    assert ending.error.code == "audio_too_long"
    assert isinstance(events[-2], Done) and events[-2].audio_seconds == 3.0
    assert events[-1] is ending


async def test_bytes_that_are_no_audio_end_the_session_with_the_mark_of_their_message():
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events)
    session.declare_audio(AudioInput(format=None))

    async def receive() -> None:
        await session.feed(b"this is plain text, not any audio container at all", 3)

    ending = await session.run(receive)
    assert ending is not None and isinstance(ending.error, AudioUndecodable) and ending.mark == 3
    assert [type(event) for event in events] == [Done, Error]


async def test_a_gateway_error_from_the_adapter_ends_the_session_gracefully():
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events)

    async def receive() -> None:
        raise InvalidRequest("a message out of place")

    ending = await session.run(receive)
    assert ending is not None and ending.fatal and ending.error.message == "a message out of place"
    assert isinstance(events[0], Done) and events[1] is ending
    assert session.closing


async def test_a_crash_ends_the_session_with_an_internal_error_and_no_done():
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events)

    async def receive() -> None:
        raise KeyError("bug")

    ending = await session.run(receive)
    assert ending is not None and type(ending.error) is GatewayError
    assert ending.error.code == "internal_error" and ending.error.message == "internal error: KeyError"
    assert events == [ending]


async def test_an_aborted_session_emits_nothing_more():
    events: list[LiveEvent] = []
    session = _session(NumberingBackend(), events)
    started = asyncio.Event()

    async def receive() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(session.run(receive))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == [] and session.closing


async def test_the_cpu_pool_staying_full_is_retried_for_a_bounded_time_then_reported():
    pool = FullPool()
    work = CpuWork(pool, StreamConfig(overloaded_retry_seconds=0.01, overloaded_max_wait_seconds=0.1))
    started = asyncio.get_running_loop().time()
    with pytest.raises(Overloaded):
        await work.run(1 << 20, sum, [1, 2])
    waited = asyncio.get_running_loop().time() - started
    assert 0.05 <= waited < 1.0
    assert 2 <= pool.attempts <= 11


async def test_a_full_cpu_pool_ends_the_session_with_the_overload_error():
    pool = FullPool()
    events: list[LiveEvent] = []
    session = _session(
        NumberingBackend(),
        events,
        pool,
        overloaded_retry_seconds=0.01,
        overloaded_max_wait_seconds=0.05,
        inline_decode_bytes=0,
    )
    session.declare_audio(AudioInput(format="pcm_s16le"))

    async def receive() -> None:
        await session.feed(np.zeros(RATE, dtype="<i2").tobytes(), 1)

    with pytest.raises(SessionEnded) as ended:
        await session.feed(np.zeros(RATE, dtype="<i2").tobytes(), 1)
    assert isinstance(ended.value.event.error, Overloaded) and ended.value.event.mark == 1
    ending = await session.run(receive)
    assert ending is not None and isinstance(ending.error, Overloaded) and ending.fatal
