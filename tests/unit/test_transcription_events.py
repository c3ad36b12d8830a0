"""TranscriptionService's use cases on a real decode of a real WAV, with a recording backend: the
events come in order, their text adds up to `transcribe`'s, and refusals come before any event."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator

import numpy as np
import pytest

from voxtral_gateway.audio import AudioLimits, DecodedAudio
from voxtral_gateway.backends import BackendHealth, SpeechBackend, Transcript, TranscriptSegment
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.services.transcription import (
    AudioFile,
    SegmentDone,
    SegmentPolicy,
    TextDelta,
    TranscriptionDone,
    TranscriptionOptions,
    TranscriptionService,
)

RATE = 16000


class SecondsBackend(SpeechBackend):
    """Answers each clip with its own length, so the stitched text shows the cuts."""

    kind = "recording"
    prefers_segments = True

    def __init__(self) -> None:
        self.model_name = "recording"
        self.clips: list[float] = []
        self.cancelled = 0
        self.delay_after_first = 0.0

    @property
    def supported_languages(self) -> frozenset[str]:
        return frozenset({"en", "fr"})

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        seconds = round(audio.duration_seconds)
        self.clips.append(audio.duration_seconds)
        try:
            if len(self.clips) > 1:
                await asyncio.sleep(self.delay_after_first)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return Transcript(
            text=f"clip of {seconds} seconds",
            language="en",
            confidence=0.5,
            segments=[TranscriptSegment(start=0.0, end=float(seconds), text=f"clip of {seconds} seconds")],
        )

    async def health(self) -> BackendHealth:
        return BackendHealth(ready=True)


def _wav(pieces: list[tuple[float, bool]]) -> bytes:
    """A 16 kHz mono WAV of tone (True) and silence (False) pieces."""
    chunks = []
    for seconds, tone in pieces:
        t = np.arange(int(seconds * RATE)) / RATE
        chunks.append(0.3 * np.sin(2 * np.pi * 220 * t) if tone else np.zeros_like(t))
    samples = (np.concatenate(chunks) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(samples.tobytes())
    return out.getvalue()


@pytest.fixture
async def service() -> AsyncIterator[TranscriptionService]:
    pool = CpuPool("test-decode", 1, 8)
    yield TranscriptionService(
        SecondsBackend(),
        pool,
        AudioLimits(max_bytes=10 * 1024 * 1024, max_duration_seconds=60),
        SegmentPolicy(max_seconds=5, search_seconds=2, concurrency=2, retries=0),
    )
    pool.shutdown()


LONG = AudioFile(data=_wav([(4, True), (1, False), (4, True), (1, False), (4, True)]), field="file")


async def test_events_come_in_order_and_add_up_to_the_whole_result(service: TranscriptionService):
    events = [event async for event in service.transcribe_events(LONG, TranscriptionOptions())]
    segments = [e for e in events if isinstance(e, SegmentDone)]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    count = len(segments)  # cut at the pauses, at most 5 s each
    assert count >= 3 and [s.index for s in segments] == list(range(count))
    assert all(s.count == count and s.end - s.start <= 5 for s in segments)
    # A segment's text comes as it is generated, before the segment's own SegmentDone.
    assert [type(e) for e in events[:2]] == [TextDelta, SegmentDone]
    assert deltas[0] == segments[0].text and deltas[1] == " " + segments[1].text
    assert isinstance(events[-1], TranscriptionDone)
    whole = await service.transcribe(LONG, TranscriptionOptions())
    assert events[-1].result == whole
    assert "".join(deltas) == whole.text
    assert whole.segment_count == count and whole.language == "en" and whole.confidence == 0.5
    assert whole.audio_seconds == pytest.approx(14, abs=0.01)
    # Segment times are in the original audio's clock, in order.
    starts = [s.start for s in whole.segments]
    assert starts == sorted(starts) and starts[1] >= segments[0].end


async def test_a_refused_language_raises_before_any_event(service: TranscriptionService):
    events = service.transcribe_events(LONG, TranscriptionOptions(language="de"))
    with pytest.raises(InvalidRequest) as info:
        await anext(events)
    assert info.value.field == "language"
    assert isinstance(service.backend, SecondsBackend) and service.backend.clips == []


async def test_closing_the_events_cancels_the_segments_in_flight(service: TranscriptionService):
    backend = service.backend
    assert isinstance(backend, SecondsBackend)
    backend.delay_after_first = 30.0
    events = service.transcribe_events(LONG, TranscriptionOptions())
    assert isinstance(await anext(events), TextDelta)
    assert isinstance(await anext(events), SegmentDone)
    await asyncio.wait_for(events.aclose(), timeout=2)
    # LONG is cut in 4; at most 2 at once: the first is done, those in flight were cancelled, the
    # last never started.
    assert 2 <= len(backend.clips) <= 3
    assert backend.cancelled == len(backend.clips) - 1
