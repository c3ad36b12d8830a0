"""Transcribe one audio file: decode it off the loop, cut long audio at pauses, fan the segments out to
the backend (bounded, retried), and stitch the texts back in order with their times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import msgspec
import structlog

from voxtral_gateway.audio import AudioLimits, DecodedAudio, decode_audio
from voxtral_gateway.audio.vad import EndpointRules, speech_regions
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptionOptions, TranscriptSegment
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import AudioTooLong, GatewayError, InvalidRequest, UpstreamError, UpstreamRejected
from voxtral_gateway.services.chunking import Segment, plan_segments
from voxtral_gateway.services.language import identify_language, majority_language

log = structlog.get_logger(__name__)

# Pauses worth cutting at are shorter than those that end an utterance in live streaming.
_CUTTING_RULES = EndpointRules(silence_seconds=0.3, padding_seconds=0.1, max_region_seconds=1e9)
_RETRY_BACKOFF_SECONDS = 0.2


class SegmentPolicy(msgspec.Struct, kw_only=True, frozen=True):
    max_seconds: float = 30.0
    search_seconds: float = 5.0
    concurrency: int = 8
    retries: int = 2


class SegmentTranscript(msgspec.Struct, kw_only=True):
    """One segment's transcript, its times in the original audio."""

    index: int
    count: int
    start: float
    end: float
    transcript: Transcript


class TranscriptionResult(msgspec.Struct, kw_only=True):
    transcript: Transcript
    language: str | None
    audio_duration_seconds: float
    segment_count: int
    decode_ms: float
    backend_ms: float


class TranscriptionService:
    def __init__(
        self,
        backend: SpeechBackend,
        decode_pool: CpuPool,
        limits: AudioLimits,
        policy: SegmentPolicy | None = None,
    ):
        self.backend = backend
        self.decode_pool = decode_pool
        self.limits = limits
        self.policy = policy or SegmentPolicy()

    def check_language(self, language: str | None) -> None:
        supported = self.backend.supported_languages
        if language is not None and supported is not None and language not in supported:
            raise InvalidRequest(
                f"language {language!r} is not supported by the {self.backend.kind} model "
                f"{self.backend.model_name}; supported: {', '.join(sorted(supported))}",
                field="language",
            )

    async def decode(
        self,
        data: bytes,
        declared_format: str | None,
        field: str = "audio_file",
        limits: AudioLimits | None = None,
    ) -> DecodedAudio:
        limits = limits or self.limits
        if field != limits.field:
            limits = msgspec.structs.replace(limits, field=field)
        return await self.decode_pool.run(decode_audio, data, declared_format, limits)

    async def transcribe(
        self,
        data: bytes,
        declared_format: str | None,
        options: TranscriptionOptions,
        field: str = "audio_file",
    ) -> TranscriptionResult:
        """Decode and transcribe a whole file; the result stitches every segment."""
        self.check_language(options.language)
        started = time.perf_counter()
        audio = await self.decode(data, declared_format, field)
        decoded = time.perf_counter()
        pieces = [piece async for piece in self.transcribe_segments(audio, options, field)]
        finished = time.perf_counter()
        transcript = stitch(pieces)
        return TranscriptionResult(
            transcript=transcript,
            language=await self.language_of(transcript, options),
            audio_duration_seconds=round(audio.duration_seconds, 3),
            segment_count=len(pieces),
            decode_ms=(decoded - started) * 1000,
            backend_ms=(finished - decoded) * 1000,
        )

    async def language_of(self, transcript: Transcript, options: TranscriptionOptions) -> str | None:
        """The requested language, else the model's, else identified from the text (off the loop)."""
        if options.language or transcript.language or not transcript.text:
            return options.language or transcript.language
        return await self.decode_pool.run(identify_language, transcript.text)

    async def plan(self, audio: DecodedAudio) -> list[Segment]:
        """One segment, or (for backends that prefer it) cuts at pauses every `max_seconds` at most."""
        whole = [Segment(index=0, start=0, end=len(audio.samples))]
        cap = self.backend.max_audio_seconds
        max_seconds = min(self.policy.max_seconds, cap) if cap else self.policy.max_seconds
        if not self.backend.prefers_segments or audio.duration_seconds <= max_seconds:
            return whole
        regions = await self.decode_pool.run(speech_regions, audio.samples, audio.sample_rate, _CUTTING_RULES)
        return plan_segments(
            audio.samples, audio.sample_rate, regions, max_seconds, self.policy.search_seconds
        )

    async def transcribe_segments(
        self, audio: DecodedAudio, options: TranscriptionOptions, field: str = "audio_file"
    ) -> AsyncIterator[SegmentTranscript]:
        """Each segment's transcript, in order, as soon as it and all before it are done.

        At most `policy.concurrency` segments are in flight; closing the iterator cancels the rest."""
        segments = await self.plan(audio)
        self._check_backend_limits(audio, segments, field)
        gate = asyncio.Semaphore(self.policy.concurrency)
        if len(segments) == 1:  # the common case: no task to start, nothing to fan out
            yield await self._segment(audio, segments[0], 1, options, gate)
            return
        tasks = [
            asyncio.ensure_future(self._segment(audio, segment, len(segments), options, gate))
            for segment in segments
        ]
        try:
            for task in tasks:
                yield await task
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _segment(
        self,
        audio: DecodedAudio,
        segment: Segment,
        count: int,
        options: TranscriptionOptions,
        gate: asyncio.Semaphore,
    ) -> SegmentTranscript:
        rate = audio.sample_rate
        start, end = segment.start / rate, segment.end / rate
        piece = (
            audio
            if count == 1
            else msgspec.structs.replace(audio, samples=audio.samples[segment.start : segment.end])
        )
        attempts = self.policy.retries + 1
        async with gate:
            for attempt in range(1, attempts + 1):
                try:
                    transcript = await self.backend.transcribe(piece, options)
                    break
                except UpstreamRejected:
                    raise  # the model refused this request: the same request would be refused again
                except UpstreamError as exc:
                    if attempt == attempts:
                        if count > 1:
                            _name_segment(exc, segment, count, start, end, attempts)
                        raise
                    log.warning("segment_retry", segment=segment.index, attempt=attempt, error=exc.message)
                    await asyncio.sleep(_RETRY_BACKOFF_SECONDS * attempt)
        return SegmentTranscript(
            index=segment.index,
            count=count,
            start=start,
            end=end,
            transcript=_shifted(transcript, start, end),
        )

    def _check_backend_limits(self, audio: DecodedAudio, segments: Sequence[Segment], field: str) -> None:
        cap = self.backend.max_audio_seconds
        longest = max((s.end - s.start) for s in segments) / audio.sample_rate
        if cap is not None and longest > cap:
            raise AudioTooLong(
                f"{field} is {audio.duration_seconds:.1f} s long; the {self.backend.kind} backend accepts "
                f"at most {cap:g} s per request (VOXTRAL_MAX_AUDIO_SECONDS)",
                field=field,
                details={"duration_seconds": round(audio.duration_seconds, 3), "limit_seconds": cap},
            )


def _name_segment(
    exc: GatewayError, segment: Segment, count: int, start: float, end: float, attempts: int
) -> None:
    """Say which part of the audio could not be transcribed: never a transcript with a silent hole."""
    exc.message = (
        f"segment {segment.index + 1} of {count} ({start:.1f}–{end:.1f} s) failed after {attempts} "
        f"attempt{'s' if attempts > 1 else ''}: {exc.message}"
    )
    exc.details = {
        **exc.details,
        "segment": {"index": segment.index, "start": round(start, 3), "end": round(end, 3)},
    }


def _shifted(transcript: Transcript, start: float, end: float) -> Transcript:
    """Segment times moved from the piece's clock to the original audio's, and kept inside the piece."""
    segments = [
        TranscriptSegment(
            start=round(min(start + s.start, end), 3), end=round(min(start + s.end, end), 3), text=s.text
        )
        for s in transcript.segments
    ]
    return msgspec.structs.replace(transcript, segments=segments)


def stitch(pieces: Sequence[SegmentTranscript]) -> Transcript:
    """One transcript from the segments' transcripts, in order."""
    texts = [p.transcript.text for p in pieces if p.transcript.text]
    confidences = [(p.transcript.confidence, p.end - p.start) for p in pieces]
    confidence = None
    if confidences and all(c is not None for c, _ in confidences):
        weight = sum(w for _, w in confidences) or 1.0
        confidence = round(sum(c * w for c, w in confidences if c is not None) / weight, 4)
    return Transcript(
        text=" ".join(texts),
        language=majority_language(p.transcript.language for p in pieces),
        confidence=confidence,
        segments=[segment for p in pieces for segment in p.transcript.segments],
    )
