"""A stream's utterances → the backend: finals sent in stream order, partials of the open utterance.

Each finished utterance is transcribed as soon as it ends, concurrently with the rest of the stream (at
most `max_finals_in_flight` at once per stream, the others waiting in order). While an utterance is open,
it is re-transcribed every `partial_interval_seconds` of new audio — one partial request at a time, none
queued, none while a final is in flight (finals come first) — and a partial is sent only while its
utterance is still open, so a partial never follows its final. A partial request streams: its text is
sent as the model generates it (each partial the text so far), not once it is complete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import structlog

from voxtral_gateway.audio import TARGET_SAMPLE_RATE, DecodedAudio, SourceInfo
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptDelta, TranscriptionOptions
from voxtral_gateway.errors import GatewayError, Overloaded
from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.events import Error, Final, LiveEvent, Partial
from voxtral_gateway.services.live.finals import OrderedFinals
from voxtral_gateway.services.live.segmenter import Utterance, UtteranceDropped, UtteranceSegmenter

log = structlog.get_logger(__name__)


class UtteranceTranscriber:
    def __init__(
        self,
        *,
        backend: SpeechBackend,
        config: StreamConfig,
        segmenter: UtteranceSegmenter,
        send: Callable[[LiveEvent], None],
        source: Callable[[np.ndarray], SourceInfo],
        session_id: str,
        language_of: Callable[[Transcript, TranscriptionOptions], Awaitable[str | None]],
    ):
        self._backend = backend
        self._config = config
        self._segmenter = segmenter
        self._send = send
        self._source = source
        self._session_id = session_id
        self._identify = language_of
        self.language: str | None = None
        """The language the client asked for (the latest), passed to the model."""
        self.finals = OrderedFinals(send)
        self._slots = asyncio.Semaphore(config.max_finals_in_flight)
        self.in_flight = 0
        """Finals not yet transcribed (running or waiting for a slot)."""
        self._buffered_samples = 0
        self._capacity = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._partial: asyncio.Task[None] | None = None
        self._partial_mark: tuple[int, int] | None = None  # (segment id, sample of its last partial)
        self.partials_sent = 0
        self.peak_buffered_seconds = 0.0

    @property
    def buffered_seconds(self) -> float:
        """Audio of utterances whose final has not been transcribed yet."""
        return self._buffered_samples / TARGET_SAMPLE_RATE

    def on_audio(self, samples: np.ndarray) -> None:
        """Decoded audio: a batch model gets it per utterance (`on_segments`), nothing to do here."""

    def on_segments(self, events: list[Any]) -> None:
        """Start a final for each finished utterance; account for dropped ones."""
        for event in events:
            if isinstance(event, Utterance):
                self.cancel_partial(event.segment_id)
                self._buffered_samples += len(event.samples)
                self.peak_buffered_seconds = max(self.peak_buffered_seconds, self.buffered_seconds)
                self.in_flight += 1
                task = asyncio.get_running_loop().create_task(self._final(event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(event, UtteranceDropped):
                self.cancel_partial(event.segment_id)
                self.finals.skip(event.segment_id)

    async def wait_for_capacity(self) -> None:
        """Backpressure: wait while more than `max_buffered_seconds` await transcription."""
        while self.buffered_seconds > self._config.max_buffered_seconds and self.in_flight:
            self._capacity.clear()
            await self._capacity.wait()

    async def drain(self) -> None:
        """Wait for every final (its outcome is then sent, in order)."""
        self.cancel_partial()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """The session's end: nothing outlives an utterance's own request, so nothing to close."""

    def cancel_all(self) -> None:
        """Cancel every transcription (and with it its upstream request)."""
        for task in [*self._tasks, *([self._partial] if self._partial else [])]:
            task.cancel()

    # --- finals ---------------------------------------------------------------------------------

    async def _final(self, utterance: Utterance) -> None:
        try:
            async with self._slots:
                started = time.perf_counter()
                try:
                    transcript = await self._transcribe(utterance.samples)
                except GatewayError as exc:
                    self._failed(utterance, exc)
                    return
                except Exception as exc:  # a bug: still this utterance's failure, so later finals go out
                    log.exception("stream_segment_crashed", session_id=self._session_id)
                    self._failed(utterance, GatewayError(f"internal error: {type(exc).__name__}"))
                    return
                backend_ms = (time.perf_counter() - started) * 1000
            text = transcript.text.strip()
            language = await self._language_of(transcript)
            self.finals.final(
                Final(
                    segment_id=utterance.segment_id,
                    start=round(utterance.start, 3),
                    end=round(utterance.end, 3),
                    text=text,
                    language=language,
                    confidence=transcript.confidence,
                    mark=utterance.last_mark,
                    backend_ms=round(backend_ms, 2),
                )
            )
        finally:
            self.in_flight -= 1
            self._buffered_samples -= len(utterance.samples)
            self._capacity.set()

    def _failed(self, utterance: Utterance, exc: GatewayError) -> None:
        log.warning("stream_segment_failed", session_id=self._session_id, code=exc.code, error=exc.message)
        self.finals.failed_segment(
            utterance.segment_id,
            Error(error=exc, segment_id=utterance.segment_id, mark=utterance.last_mark),
        )

    async def _language_of(self, transcript: Transcript) -> str | None:
        """The requested language, else the model's, else identified from the text (off the loop);
        None when the pool is too busy to identify it: the final is not held back for that."""
        try:
            return await self._identify(transcript, TranscriptionOptions(language=self.language))
        except Overloaded:
            return None

    def _audio(self, samples: np.ndarray) -> DecodedAudio:
        return DecodedAudio(
            samples=samples.astype(np.float32) / 32768.0,
            sample_rate=TARGET_SAMPLE_RATE,
            source=self._source(samples),
        )

    async def _transcribe(self, samples: np.ndarray) -> Transcript:
        audio = self._audio(samples)
        options = TranscriptionOptions(language=self.language)
        give_up = time.monotonic() + self._config.overloaded_max_wait_seconds
        while True:
            try:
                return await self._backend.transcribe(audio, options)
            except Overloaded:  # the engine's queue is full for a moment
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(self._config.overloaded_retry_seconds)

    async def _streamed_text(self, samples: np.ndarray, on_text: Callable[[str], None]) -> None:
        """Transcribe, passing the text so far to `on_text` as the model generates it; a full queue
        before the first text is waited out as `_transcribe` does."""
        audio = self._audio(samples)
        options = TranscriptionOptions(language=self.language)
        give_up = time.monotonic() + self._config.overloaded_max_wait_seconds
        text = ""
        while True:
            try:
                async for piece in self._backend.transcribe_stream(audio, options):
                    if isinstance(piece, TranscriptDelta):
                        text += piece.text
                        on_text(text)
                return
            except Overloaded:
                if text or time.monotonic() > give_up:
                    raise
                await asyncio.sleep(self._config.overloaded_retry_seconds)

    # --- partials -------------------------------------------------------------------------------

    def maybe_partial(self) -> None:
        """Start a partial of the open utterance if one is due and none is running."""
        interval = self._config.partial_interval_seconds
        if interval <= 0 or self._partial is not None or self.in_flight:
            return
        segment = self._segmenter.open_segment
        if segment is None:
            return
        segment_id, start = segment
        if self._partial_mark is None or self._partial_mark[0] != segment_id:
            self._partial_mark = (segment_id, start)
        now = self._segmenter.total_samples
        if now - self._partial_mark[1] < interval * TARGET_SAMPLE_RATE:
            return
        self._partial_mark = (segment_id, now)
        self._partial = asyncio.get_running_loop().create_task(
            self._partial_result(segment_id, start, now, self._segmenter.open_audio())
        )

    def cancel_partial(self, segment_id: int | None = None) -> None:
        """Cancel the running partial (of `segment_id` only, when given): its utterance has ended."""
        if self._partial is None:
            return
        if segment_id is None or (self._partial_mark is not None and self._partial_mark[0] == segment_id):
            self._partial.cancel()
            self._partial = None

    async def _partial_result(self, segment_id: int, start: int, end: int, samples: np.ndarray) -> None:
        def send(text: str) -> None:
            segment = self._segmenter.open_segment
            if segment is not None and segment[0] == segment_id:
                self.partials_sent += 1
                self._send(
                    Partial(
                        segment_id=segment_id,
                        start=round(start / TARGET_SAMPLE_RATE, 3),
                        end=round(end / TARGET_SAMPLE_RATE, 3),
                        text=text.strip(),
                    )
                )

        try:
            await self._streamed_text(samples, send)
        except GatewayError as exc:
            log.info("stream_partial_failed", session_id=self._session_id, code=exc.code)
        finally:
            if self._partial is asyncio.current_task():
                self._partial = None
