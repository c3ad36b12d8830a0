"""Transcribe one audio file, whole or as events: decode it off the loop, cut long audio at pauses, fan
the segments out to the backend (bounded, retried), and stitch the texts back in order with their times.

Adapters call `transcribe` or `transcribe_events`; the steps below them are this module's business."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing

import msgspec
import structlog

from voxtral_gateway.audio import AudioLimits, DecodedAudio
from voxtral_gateway.audio.vad import EndpointRules, speech_regions
from voxtral_gateway.backends import (
    SpeechBackend,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
    TranscriptSegment,
)
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import AudioTooLong, GatewayError, InvalidRequest, UpstreamError, UpstreamRejected
from voxtral_gateway.fetching import UrlFetcher
from voxtral_gateway.services.audio_files import AudioFile, decode_file, fetched
from voxtral_gateway.services.chunking import Segment, plan_segments
from voxtral_gateway.services.language import identify_language, majority_language
from voxtral_gateway.services.segment_gate import SegmentGate

__all__ = [
    "AudioFile",
    "SegmentDone",
    "SegmentPolicy",
    "TextDelta",
    "TranscriptSegment",
    "TranscriptionDone",
    "TranscriptionEvent",
    "TranscriptionOptions",
    "TranscriptionResult",
    "TranscriptionService",
]

log = structlog.get_logger(__name__)

# Pauses worth cutting at are shorter than those that end an utterance in live streaming.
_CUTTING_RULES = EndpointRules(silence_seconds=0.3, padding_seconds=0.1, max_region_seconds=1e9)
_RETRY_BACKOFF_SECONDS = 0.2


class SegmentPolicy(msgspec.Struct, kw_only=True, frozen=True):
    max_seconds: float = 30.0
    search_seconds: float = 5.0
    concurrency: int = 8
    """The most segments of one request in flight at once."""
    share: int | None = None
    """Segments that may always be in flight; past it, only while `spare()` (None: `concurrency`)."""
    retries: int = 2


class SegmentTranscript(msgspec.Struct, kw_only=True):
    """One segment's transcript, its times in the original audio."""

    index: int
    count: int
    start: float
    end: float
    transcript: Transcript


class TranscriptionResult(msgspec.Struct, kw_only=True):
    """A whole file's transcription. Its usage is `audio_seconds`: neither backend reports token
    counts for transcription (OpenAI's dialect bills whole seconds of audio)."""

    text: str
    segments: list[TranscriptSegment]
    """Timed pieces of `text`, their times in the original audio."""
    language: str | None
    """The requested language, else the model's, else identified from the text (None: too little text)."""
    confidence: float | None
    """Mean token probability weighted by duration, when the backend exposes token probabilities."""
    audio_seconds: float
    """The decoded audio's duration (unrounded)."""
    segment_count: int
    """How many pieces the audio was cut into for the backend."""


class _SegmentText(msgspec.Struct, kw_only=True, frozen=True):
    """Text of the segment in front, as the model generates it."""

    text: str


class SegmentDone(msgspec.Struct, kw_only=True, frozen=True):
    """One segment transcribed; segments arrive in order, each after all before it (and after its
    own `TextDelta`s)."""

    index: int
    count: int
    start: float
    end: float
    text: str
    segments: list[TranscriptSegment]
    language: str | None = None
    """The language the model reported for this segment, when it reports one."""


class TextDelta(msgspec.Struct, kw_only=True, frozen=True):
    """Text to append to what came before (with its separating space); never empty."""

    text: str


class TranscriptionDone(msgspec.Struct, kw_only=True, frozen=True):
    """The last event: the whole result, as `transcribe` would give it."""

    result: TranscriptionResult


TranscriptionEvent = SegmentDone | TextDelta | TranscriptionDone


class TranscriptionService:
    """Transcribe audio files with one backend.

    Use cases: `transcribe` and `transcribe_events`. `check_language` and `language_of` are also the
    live sessions' (handed to them by the runtime), and `decode_pool` understanding's."""

    def __init__(
        self,
        backend: SpeechBackend,
        decode_pool: CpuPool,
        limits: AudioLimits,
        policy: SegmentPolicy | None = None,
        fetcher: UrlFetcher | None = None,
        spare: Callable[[int], bool] | None = None,
    ):
        self.backend = backend
        self.decode_pool = decode_pool
        self.limits = limits
        self.policy = policy or SegmentPolicy()
        self.fetcher = fetcher
        """Fetches files given by URL (`AudioFile.url`); None: such files are refused."""
        self._spare = spare
        """Whether the worker has backend capacity to spare for segments past a request's share, given
        that request's own segments in flight."""

    async def transcribe(self, file: AudioFile, options: TranscriptionOptions) -> TranscriptionResult:
        """Decode and transcribe a whole file; the result stitches every segment."""
        audio = await self._decoded(file, options)
        async with aclosing(self._segments(audio, options, file.field)) as segments:
            pieces = [piece async for piece in segments]
        return await self._result(audio, pieces, options)

    async def transcribe_events(
        self, file: AudioFile, options: TranscriptionOptions
    ) -> AsyncGenerator[TranscriptionEvent, None]:
        """The same work as events, in order: for each segment its `TextDelta`s as the model generates
        them (segment by segment: a later segment's text waits for the ones before), then its
        `SegmentDone`; finally one `TranscriptionDone`. A refusal (bad language, a URL that cannot be
        fetched, undecodable or too long audio) raises before the first event; closing the iterator
        cancels segments in flight."""
        audio = await self._decoded(file, options)
        pieces: list[SegmentTranscript] = []
        said = False  # some text came before: a segment's first delta starts with a space
        in_segment = False  # the segment in front has given text
        async with aclosing(self._segments(audio, options, file.field, streamed=True)) as segments:
            async for piece in segments:
                if isinstance(piece, _SegmentText):
                    yield TextDelta(text=" " + piece.text if said and not in_segment else piece.text)
                    said = in_segment = True
                    continue
                in_segment = False
                text = piece.transcript.text
                yield SegmentDone(
                    index=piece.index,
                    count=piece.count,
                    start=piece.start,
                    end=piece.end,
                    text=text,
                    segments=piece.transcript.segments,
                    language=piece.transcript.language,
                )
                pieces.append(piece)
        yield TranscriptionDone(result=await self._result(audio, pieces, options))

    # --- steps, also used by the live stream session for now --------------------------------------

    def check_language(self, language: str | None) -> None:
        """Refuse a language the backend's model cannot be asked for (422 naming `language`)."""
        supported = self.backend.supported_languages
        if language is not None and supported is not None and language not in supported:
            raise InvalidRequest(
                f"language {language!r} is not supported by the {self.backend.kind} model "
                f"{self.backend.model_name}; supported: {', '.join(sorted(supported))}",
                field="language",
            )

    async def language_of(self, transcript: Transcript, options: TranscriptionOptions) -> str | None:
        """The requested language, else the model's, else identified from the text (off the loop)."""
        if options.language or transcript.language or not transcript.text:
            return options.language or transcript.language
        return await self.decode_pool.run(identify_language, transcript.text)

    # --- private steps ----------------------------------------------------------------------------

    async def _decoded(self, file: AudioFile, options: TranscriptionOptions) -> DecodedAudio:
        self.check_language(options.language)
        return await decode_file(self.decode_pool, await fetched(file, self.fetcher), self.limits)

    async def _result(
        self, audio: DecodedAudio, pieces: Sequence[SegmentTranscript], options: TranscriptionOptions
    ) -> TranscriptionResult:
        transcript = _stitch(pieces)
        return TranscriptionResult(
            text=transcript.text,
            segments=transcript.segments,
            language=await self.language_of(transcript, options),
            confidence=transcript.confidence,
            audio_seconds=audio.duration_seconds,
            segment_count=len(pieces),
        )

    async def _plan(self, audio: DecodedAudio) -> list[Segment]:
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

    async def _segments(
        self, audio: DecodedAudio, options: TranscriptionOptions, field: str, streamed: bool = False
    ) -> AsyncGenerator[SegmentTranscript | _SegmentText, None]:
        """Each segment's transcript, in order, as soon as it and all before it are done; `streamed`:
        preceded by its text as it is generated (`_SegmentText`), once all before it are done.

        At most `policy.concurrency` segments are in flight; closing the iterator cancels the rest."""
        segments = await self._plan(audio)
        self._check_backend_limits(audio, segments, field)
        policy = self.policy
        share = policy.concurrency if policy.share is None else policy.share
        gate = SegmentGate(share, policy.concurrency, self._spare)
        if len(segments) == 1 and not streamed:  # the common case: no task to start, nothing to fan out
            yield await self._segment(audio, segments[0], 1, options, gate)
            return
        texts: list[asyncio.Queue[str | None]] = [asyncio.Queue() for _ in segments]
        tasks = [
            asyncio.ensure_future(
                self._segment(audio, segment, len(segments), options, gate, texts[i] if streamed else None)
            )
            for i, segment in enumerate(segments)
        ]
        try:
            for task, queue in zip(tasks, texts, strict=True):
                while streamed and (text := await queue.get()) is not None:
                    yield _SegmentText(text=text)
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
        gate: SegmentGate,
        texts: asyncio.Queue[str | None] | None = None,
    ) -> SegmentTranscript:
        """Transcribe one segment, retried; `texts`: stream its text there as it is generated, then
        None when the segment is over (done or failed). Streamed text cannot be taken back, so a
        failure after the first piece is not retried."""
        try:
            return await self._segment_attempts(audio, segment, count, options, gate, texts)
        finally:
            if texts is not None:
                texts.put_nowait(None)

    async def _segment_attempts(
        self,
        audio: DecodedAudio,
        segment: Segment,
        count: int,
        options: TranscriptionOptions,
        gate: SegmentGate,
        texts: asyncio.Queue[str | None] | None,
    ) -> SegmentTranscript:
        rate = audio.sample_rate
        start, end = segment.start / rate, segment.end / rate
        piece = (
            audio
            if count == 1
            else msgspec.structs.replace(
                audio, samples=audio.samples[segment.start : segment.end], pcm16=None
            )
        )
        attempts = self.policy.retries + 1
        async with gate.slot():
            for attempt in range(1, attempts + 1):
                streamed = _Streamed(texts)
                try:
                    if texts is None:
                        transcript = await self.backend.transcribe(piece, options)
                    else:
                        transcript = await streamed.transcribe(self.backend, piece, options)
                    break
                except UpstreamRejected:
                    raise  # the model refused this request: the same request would be refused again
                except UpstreamError as exc:
                    if attempt == attempts or streamed.started:
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


class _Streamed:
    """One streamed attempt at a segment: its text goes to the queue as it comes."""

    def __init__(self, texts: asyncio.Queue[str | None] | None):
        self._texts = texts
        self.started = False

    async def transcribe(
        self, backend: SpeechBackend, audio: DecodedAudio, options: TranscriptionOptions
    ) -> Transcript:
        assert self._texts is not None
        pieces = backend.transcribe_stream(audio, options)
        async with aclosing(pieces):  # type: ignore[type-var]
            async for piece in pieces:
                if isinstance(piece, TranscriptDelta):
                    self.started = True
                    self._texts.put_nowait(piece.text)
                else:
                    return piece
        raise UpstreamError(f"the {backend.kind} backend's stream ended without a transcript")


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


def _stitch(pieces: Sequence[SegmentTranscript]) -> Transcript:
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
