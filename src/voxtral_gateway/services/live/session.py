"""One live transcription session: audio bytes in, typed events out (`events.py`); knows no protocol.

A protocol adapter declares the audio's format, feeds its bytes in order (`feed`), and converts the
events it is given into its wire messages. `feed` does the work: decode (`audio/stream`) + VAD
(`segmenter.py`), on the loop when small, else in the CPU pool (`cpu_work.py`); each finished utterance
goes to the backend at once, finals in stream order, partials of the open utterance (`transcriber.py`).
When the audio awaiting transcription passes `max_buffered_seconds`, `feed` waits: the adapter stops
reading its socket, the client is slowed down, memory stays bounded.

Every way a session ends but a disconnect or a crash is graceful: the last utterance is transcribed, the
pending finals and `Done` are emitted, then (for a limit or a bad stream) one fatal `Error`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import numpy as np
import structlog

from voxtral_gateway.audio import TARGET_SAMPLE_RATE, AudioLimits, SourceInfo
from voxtral_gateway.audio.stream import PCM_FORMATS, RAW_PCM_ENCODINGS, STREAMABLE, AudioStreamDecoder
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptionOptions
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import AudioRejected, AudioUndecodable, GatewayError, Overloaded
from voxtral_gateway.services.language import majority_language
from voxtral_gateway.services.live import limits
from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.cpu_work import CpuWork
from voxtral_gateway.services.live.events import Done, Error, LiveEvent, SpeechStarted, SpeechStopped
from voxtral_gateway.services.live.segmenter import (
    SegmenterEvent,
    Utterance,
    UtteranceDropped,
    UtteranceOpened,
    UtteranceSegmenter,
)
from voxtral_gateway.services.live.streaming_transcriber import StreamingTranscriber
from voxtral_gateway.services.live.transcriber import UtteranceTranscriber
from voxtral_gateway.services.live.turns import ClientTurns, ServerVad, TurnDetection, endpoint_rules

log = structlog.get_logger(__name__)

SAMPLE_RATE = TARGET_SAMPLE_RATE
"""The rate the audio is transcribed at; event times count samples at this rate."""
FORMATS: tuple[str, ...] = (*STREAMABLE, *sorted(PCM_FORMATS))
"""What can be streamed: the containers decoded as they arrive, then raw PCM."""
RAW_ENCODINGS: tuple[str, ...] = tuple(RAW_PCM_ENCODINGS)
"""Raw PCM encodings a session takes with `AudioInput(raw=True)` (no container, nothing sniffed)."""


class LiveCollaborators(msgspec.Struct, kw_only=True, frozen=True):
    """What a session works with, built once per worker (`runtime/`)."""

    backend: SpeechBackend
    cpu_pool: CpuPool
    """Where decoding and VAD run when they are not tiny."""
    audio_limits: AudioLimits
    """Sample-rate and channel limits of the source (the same as for files)."""
    check_language: Callable[[str], None]
    """Raises a `GatewayError` for a language the backend does not take."""
    language_of: Callable[[Transcript, TranscriptionOptions], Awaitable[str | None]]
    """The requested language, else the model's, else identified from the text."""


class AudioInput(msgspec.Struct, kw_only=True, frozen=True):
    """The audio a session will be fed."""

    format: str | None
    """A container name (a hint: the container is sniffed from the first bytes) or `pcm_s16le`."""
    sample_rate: int = TARGET_SAMPLE_RATE
    """Of raw PCM (resampled to `SAMPLE_RATE` if different)."""
    raw: bool = False
    """The bytes are raw mono PCM in `format` (one of `RAW_ENCODINGS`), never a container."""


class SessionEnded(Exception):
    """Raised by `feed` when the session cannot go on (bad audio, a limit): `run` finishes the work in
    hand and emits `event` (a fatal `Error`) last."""

    def __init__(self, event: Error):
        super().__init__(event.error.message)
        self.event = event


class LiveSession:
    def __init__(
        self,
        *,
        session_id: str,
        config: StreamConfig,
        collaborators: LiveCollaborators,
        emit: Callable[[LiveEvent], None],
        turn_detection: TurnDetection | None = None,
    ):
        self.session_id = session_id
        self.config = config
        self.backend = collaborators.backend
        self._collaborators = collaborators
        self._emit_event = emit
        self._work = CpuWork(collaborators.cpu_pool, config)
        self.started = time.perf_counter()
        self.closing = False
        """No more input will be processed (the session is finishing or has ended)."""
        self._aborted = False
        self._audio: AudioInput | None = None
        self._decoder: AudioStreamDecoder | None = None
        self._language: str | None = None
        self._turn_detection: TurnDetection = turn_detection or ServerVad()
        self._segmenter = UtteranceSegmenter(
            endpoint_rules(config.endpoint, self._turn_detection),
            manual=isinstance(self._turn_detection, ClientTurns),
        )
        self._turn_started_sample = 0
        self._clearing = False
        self._max_samples = int(config.max_audio_seconds * TARGET_SAMPLE_RATE)
        self._over_limit = False
        self._transcriber: UtteranceTranscriber | StreamingTranscriber = UtteranceTranscriber(
            backend=collaborators.backend,
            config=config,
            segmenter=self._segmenter,
            send=self._emit,
            source=self._source,
            session_id=session_id,
            language_of=collaborators.language_of,
        )

    # --- inputs ---------------------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Transcribe in `language` from now on; raises a `GatewayError` (and changes nothing) when
        the backend does not take it."""
        self._collaborators.check_language(language)
        self._language = self._transcriber.language = language

    @property
    def audio_declared(self) -> bool:
        return self._audio is not None

    def declare_audio(self, audio: AudioInput) -> None:
        """The format of the bytes `feed` will get; the first declaration stands."""
        if self._audio is None:
            self._audio = audio

    @property
    def turn_detection(self) -> TurnDetection:
        return self._turn_detection

    def set_turn_detection(self, detection: TurnDetection) -> None:
        """Find turns this way from now on. An utterance in progress under other rules is committed
        first (it is transcribed as it is)."""
        rules = endpoint_rules(self.config.endpoint, detection)
        manual = isinstance(detection, ClientTurns)
        self._turn_detection = detection
        if rules == self._segmenter.rules and manual == self._segmenter.manual:
            return
        self._segments(self._segmenter.commit())
        self._segmenter.reconfigure(rules, manual)

    def commit(self) -> int | None:
        """The client ends the turn now: the utterance in progress is transcribed with all its audio so
        far. Returns its segment id; None when no utterance is open (no audio, or no speech, since the
        last turn)."""
        committed = None
        for event in self._segmenter.commit():
            if isinstance(event, Utterance):
                committed = event.segment_id
            self._segments([event])
        return committed

    def clear(self) -> None:
        """The client throws away the audio of the turn in progress (its utterance is not transcribed)."""
        self._clearing = True
        try:
            self._segments(self._segmenter.clear())
        finally:
            self._clearing = False

    def end_turn(self) -> None:
        """Commit, then emit `TurnDone` once every final up to here is out; the session goes on."""
        self.commit()
        self._end_turn()

    def _end_turn(self) -> None:
        now = self._segmenter.total_samples
        audio_seconds = (now - self._turn_started_sample) / TARGET_SAMPLE_RATE
        self._turn_started_sample = now
        self._transcriber.finals.end_turn(self._segmenter.last_segment_id, audio_seconds)

    async def feed(self, data: bytes, mark: int | None) -> None:
        """Decode `data` (the next bytes of the stream), find utterances, start their transcriptions,
        then wait while too much audio awaits transcription (backpressure). `mark` (a chunk id, a frame
        number) is given back in the events about this audio. Raises `SessionEnded`."""
        try:
            if self._decoder is None:
                audio = self._audio or AudioInput(format=None)
                self._decoder = AudioStreamDecoder(
                    audio.format, self._collaborators.audio_limits, audio.sample_rate, raw_only=audio.raw
                )
            events = await self._work.run(len(data), self._decode_and_segment, data, mark)
        except GatewayError as exc:  # not audio, an unsupported source, or the CPU pool stayed full
            raise SessionEnded(Error(error=exc, fatal=True, mark=mark)) from exc
        self._segments(events)
        self._transcriber.maybe_partial()
        await self._transcriber.wait_for_capacity()
        if self._over_limit:
            raise SessionEnded(Error(error=limits.audio_too_long(self.config), fatal=True, mark=mark))

    # --- the run --------------------------------------------------------------------------------

    async def run(
        self, receive: Callable[[], Awaitable[None]], drain: Callable[[], Awaitable[None]] | None = None
    ) -> Error | None:
        """The session from start to end: `receive()` (the adapter's input loop, calling `feed`) until
        the input ends, then `drain()` (input the adapter still holds), then the last utterance, every
        final and `Done`. A `SessionEnded` or `GatewayError` from either ends the input early; it is
        emitted last, as a fatal `Error`, and returned (None after a normal end)."""
        ending: Error | None = None
        try:
            await self._use_streaming_model()
        except Overloaded as exc:  # no admission slot for the model session: refused before it started
            log.warning("stream_realtime_refused", session_id=self.session_id, error=exc.message)
            self.closing = True
            ending = Error(error=exc, fatal=True)
            self._emit(ending)
            return ending
        try:
            try:
                await receive()
            except SessionEnded as end:
                ending = end.event
            except GatewayError as exc:
                ending = Error(error=exc, fatal=True)
            self.closing = True
            try:
                if drain is not None:
                    await drain()
                await self._finish()
            except SessionEnded as end:
                ending = ending or end.event
            except GatewayError as exc:
                ending = ending or Error(error=exc, fatal=True)
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as exc:
            log.exception("stream_failed", session_id=self.session_id)
            self._cancel_work()
            ending = Error(error=GatewayError(f"internal error: {type(exc).__name__}"), fatal=True)
        self.closing = True
        await self._transcriber.close()  # whatever ended the run: the model session and its slot go
        if ending is not None:
            self._emit(ending)
        return ending

    async def _use_streaming_model(self) -> None:
        """With a realtime model (Voxtral Realtime), the audio streams to it as it is decoded and its text
        comes back as it decodes (`streaming_transcriber.py`), instead of each utterance transcribed
        whole. If its session cannot be opened, the utterances go to the backend as usual; if the gateway
        has no admission slot for it (after waiting in the admission queue), `Overloaded` is raised."""
        try:
            model_session = await self.backend.realtime_session(TranscriptionOptions(language=self._language))
        except Overloaded:
            raise
        except GatewayError as exc:
            log.warning("stream_realtime_unavailable", session_id=self.session_id, error=exc.message)
            return
        if model_session is None:
            return
        language = self._transcriber.language
        self._transcriber = StreamingTranscriber(
            session=model_session,
            config=self.config,
            segmenter=self._segmenter,
            send=self._emit,
            session_id=self.session_id,
            language_of=self._collaborators.language_of,
        )
        self._transcriber.language = language

    def abort(self) -> None:
        """The client is gone: cancel every transcription at once (their upstream requests with them)
        and emit nothing more."""
        self._aborted = True
        self._cancel_work()

    def _cancel_work(self) -> None:
        self.closing = True
        self._transcriber.cancel_all()

    # --- the pipeline ---------------------------------------------------------------------------

    def _decode_and_segment(self, data: bytes, mark: int | None) -> list[SegmenterEvent]:
        assert self._decoder is not None
        return self._segment(self._decoder.feed(data), mark)

    def _segment(self, samples: np.ndarray, mark: int | None) -> list[SegmenterEvent]:
        room = self._max_samples - self._segmenter.total_samples
        if len(samples) > room:
            samples, self._over_limit = samples[: max(room, 0)], True
        self._transcriber.on_audio(samples)
        return self._segmenter.push(samples, mark)

    def _flush_decoder(self) -> list[SegmenterEvent]:
        assert self._decoder is not None
        return self._segment(self._decoder.finish(), None)

    async def _finish(self) -> None:
        events: list[SegmenterEvent] = []
        if self._decoder is not None:
            try:
                events += await self._work.run(0, self._flush_decoder)
            except (AudioUndecodable, AudioRejected) as exc:  # the tail is lost, the rest is transcribed
                self._emit(Error(error=exc))
        events += self._segmenter.finish()
        self._segments(events)
        await self._transcriber.drain()
        finals = self._transcriber.finals
        self._emit(
            Done(
                text=" ".join(finals.texts),
                language=self._language or majority_language(finals.languages),
                segments=finals.finals,
                audio_seconds=round(self._segmenter.total_samples / TARGET_SAMPLE_RATE, 3),
                processing_ms=round((time.perf_counter() - self.started) * 1000, 2),
                failed_segment_ids=list(finals.failed),
            )
        )

    # --- output ---------------------------------------------------------------------------------

    def _segments(self, events: list[SegmenterEvent]) -> None:
        """Tell the client where speech starts and stops, and start the finished utterances'
        transcriptions, in the order the segmenter found them."""
        for event in events:
            if isinstance(event, UtteranceOpened):
                self._emit(SpeechStarted(segment_id=event.segment_id, start=_seconds(event.start_sample)))
            elif isinstance(event, Utterance):
                reason = (
                    event.reason if event.reason in ("silence", "max_length", "commit") else "end_of_audio"
                )
                self._emit(
                    SpeechStopped(segment_id=event.segment_id, end=_seconds(event.end_sample), reason=reason)
                )
            elif isinstance(event, UtteranceDropped):
                reason = "cleared" if self._clearing else "noise"
                self._emit(
                    SpeechStopped(
                        segment_id=event.segment_id,
                        end=_seconds(self._segmenter.total_samples),
                        reason=reason,
                    )
                )
            self._transcriber.on_segments([event])

    def _emit(self, event: LiveEvent) -> None:
        if not self._aborted:
            self._emit_event(event)

    def _source(self, samples: np.ndarray) -> SourceInfo:
        """What the utterance's audio came from, as the backends' DecodedAudio describes it."""
        current = self._decoder.current if self._decoder is not None else None
        return SourceInfo(
            container=current.container if current else "pcm",
            codec=current.codec if current else "pcm_s16le",
            sample_rate=(current.sample_rate if current else 0) or TARGET_SAMPLE_RATE,
            channels=(current.channels if current else 0) or 1,
            declared_duration_seconds=None,
            size_bytes=samples.nbytes,
        )

    def summary(self) -> dict[str, Any]:
        """Figures for the log line at the end of the session."""
        transcriber = self._transcriber
        return {
            "audio_seconds": round(self._segmenter.total_samples / TARGET_SAMPLE_RATE, 3),
            "finals": transcriber.finals.finals,
            "failed_segments": len(transcriber.finals.failed),
            "partials": transcriber.partials_sent,
            "peak_buffered_seconds": round(transcriber.peak_buffered_seconds, 3),
        }


def _seconds(sample: int) -> float:
    return round(sample / TARGET_SAMPLE_RATE, 3)
