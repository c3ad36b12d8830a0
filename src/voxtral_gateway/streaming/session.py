"""One live transcription stream: messages in, partials/finals/done out; knows nothing of WebSockets.

The route feeds `inbox` and drains `outbox`; `run()` is the pipeline, one message at a time:
parse → order chunks (`ordering.py`) → decode (`decoder.py`) + VAD (`segmenter.py`), on the loop when
small, else in the decode pool (`cpu_work.py`) → each finished utterance goes to the backend at once,
finals in stream order, partials of the open utterance (`transcriber.py`). When the audio awaiting
transcription passes `max_buffered_seconds`, the pipeline waits, the inbox fills, and the route stops
reading the socket: the client is slowed down, memory stays bounded.

Every way a stream ends but a disconnect or a crash is graceful: the last utterance is transcribed, the
pending finals and `done` are sent, then (for a limit or a bad stream) a fatal `error`, then the close."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import msgspec
import numpy as np
import structlog

from voxtral_gateway.audio import AudioLimits, SourceInfo
from voxtral_gateway.errors import AudioRejected, AudioUndecodable, GatewayError
from voxtral_gateway.schemas.stream import (
    PCM_FORMAT,
    AudioChunk,
    DoneMessage,
    ErrorMessage,
    ReadyMessage,
    ServerMessage,
    StartStream,
    StreamLimits,
    parse_client_message,
)
from voxtral_gateway.services.language import majority_language
from voxtral_gateway.services.transcription import TranscriptionService
from voxtral_gateway.streaming.codecs import TARGET_RATE
from voxtral_gateway.streaming.config import StreamConfig
from voxtral_gateway.streaming.cpu_work import CpuWork
from voxtral_gateway.streaming.decoder import AudioStreamDecoder
from voxtral_gateway.streaming.formats import STREAMABLE
from voxtral_gateway.streaming.notices import chunk_id_of, notice_message
from voxtral_gateway.streaming.ordering import ChunkSequencer, Released
from voxtral_gateway.streaming.segmenter import UtteranceSegmenter
from voxtral_gateway.streaming.stats import LatencyHistogram
from voxtral_gateway.streaming.transcriber import UtteranceTranscriber

log = structlog.get_logger(__name__)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011


class Inbound(msgspec.Struct, frozen=True):
    """A message as the route received it (exactly one of `text`/`data`), or a limit the route hit."""

    received_at: float
    """time.perf_counter() at receipt: per-message handling time counts from here."""
    text: str | None = None
    data: bytes | None = None
    limit: Literal["idle_timeout", "message_too_big", "shutting_down"] | None = None
    size: int = 0


class Close(msgspec.Struct, frozen=True):
    """The last item of the outbox: close the socket with this code."""

    code: int
    reason: str = ""


class StreamEnd(Exception):
    """Ends the stream gracefully: finish the work in hand, send `done`, then this error, then close."""

    def __init__(self, code: str, message: str, close_code: int, chunk_id: int | None = None):
        super().__init__(message)
        self.error = ErrorMessage(
            code=code, message=message, severity="fatal", chunk_id=chunk_id, close_code=close_code
        )
        self.close_code = close_code


class _BinaryMode(msgspec.Struct):
    format: str
    sample_rate: int


class StreamSession:
    def __init__(
        self,
        *,
        session_id: str,
        config: StreamConfig,
        transcription: TranscriptionService,
        limits: AudioLimits,
    ):
        self.session_id = session_id
        self.config = config
        self._service = transcription
        self._backend = transcription.backend
        self._work = CpuWork(transcription.decode_pool, config)
        self._limits = limits
        self.inbox: asyncio.Queue[Inbound] = asyncio.Queue(maxsize=config.read_ahead_messages)
        self.outbox: asyncio.Queue[ServerMessage | Close] = asyncio.Queue()
        self.started = time.perf_counter()
        self.closing = False
        """No more input will be processed (the stream is finishing or has ended)."""
        self.close_code: int | None = None
        self._aborted = False
        self._mode: Literal["json"] | _BinaryMode | None = None
        self._language: str | None = None
        self._sequencer: ChunkSequencer[AudioChunk] = ChunkSequencer(
            config.reorder_window, config.reorder_timeout_seconds
        )
        self._frames = 0
        self._decoder: AudioStreamDecoder | None = None
        self._segmenter = UtteranceSegmenter(config.endpoint)
        self._max_samples = int(config.max_audio_seconds * TARGET_RATE)
        self._over_limit = False
        self._transcriber = UtteranceTranscriber(
            backend=transcription.backend,
            config=config,
            segmenter=self._segmenter,
            send=self._send,
            source=self._source,
            session_id=session_id,
            language_of=transcription.language_of,
        )
        self.chunk_times = LatencyHistogram()

    # --- lifecycle ------------------------------------------------------------------------------

    def ready_message(self) -> ReadyMessage:
        config = self.config
        return ReadyMessage(
            session_id=self.session_id,
            sample_rate=TARGET_RATE,
            backend=self._backend.kind,
            model=self._backend.model_name,
            formats=[*STREAMABLE, PCM_FORMAT],
            limits=StreamLimits(
                max_message_bytes=config.max_message_bytes,
                idle_timeout_seconds=config.idle_timeout_seconds,
                max_audio_seconds=config.max_audio_seconds,
                max_buffered_seconds=config.max_buffered_seconds,
                reorder_window=config.reorder_window,
                silence_seconds=config.endpoint.silence_seconds,
                max_utterance_seconds=config.endpoint.max_region_seconds,
                partial_interval_seconds=config.partial_interval_seconds,
            ),
        )

    async def run(self) -> None:
        """The pipeline; always ends by putting a `Close` in the outbox (unless aborted)."""
        self._send(self.ready_message())
        close = Close(CLOSE_NORMAL)
        ending: StreamEnd | None = None
        try:
            try:
                await self._process_inbox()
            except StreamEnd as end:
                ending = end
            self.closing = True
            try:
                await self._finish()
            except StreamEnd as end:
                ending = ending or end
            if ending is not None:
                self._send(ending.error)
                close = Close(ending.close_code, ending.error.code)
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception as exc:
            log.exception("stream_failed", session_id=self.session_id)
            self._cancel_work()
            message = f"internal error: {type(exc).__name__}"
            self._send(
                ErrorMessage(
                    code="internal_error", message=message, severity="fatal", close_code=CLOSE_INTERNAL
                )
            )
            close = Close(CLOSE_INTERNAL, "internal_error")
        self.closing = True
        self.close_code = close.code
        if not self._aborted:
            self.outbox.put_nowait(close)

    def abort(self) -> None:
        """The client is gone: cancel every transcription at once (their upstream requests with them)
        and send nothing more."""
        self._aborted = True
        self._cancel_work()

    def _cancel_work(self) -> None:
        self.closing = True
        self._transcriber.cancel_all()

    # --- the pipeline ---------------------------------------------------------------------------

    async def _process_inbox(self) -> None:
        while not self._sequencer.finished:
            deadline = self._sequencer.deadline
            try:
                async with asyncio.timeout(
                    None if deadline is None else max(0.0, deadline - time.perf_counter())
                ):
                    item = await self.inbox.get()
            except TimeoutError:
                await self._release(self._sequencer.expire(time.perf_counter()))
                continue
            if item.limit is not None:
                self._limit(item)
            finished = await self._handle(item)
            self.chunk_times.record(time.perf_counter() - item.received_at)
            if finished:
                return

    def _limit(self, item: Inbound) -> None:
        if item.limit == "shutting_down":  # SIGTERM (lifecycle/shutdown.py): finish like any limit
            raise StreamEnd(
                "shutting_down",
                "the server is shutting down: the audio received so far is transcribed above; "
                "reconnect to go on",
                CLOSE_GOING_AWAY,
            )
        if item.limit == "idle_timeout":
            raise StreamEnd(
                "idle_timeout",
                f"nothing was received for {self.config.idle_timeout_seconds:g} s "
                "(STREAM_IDLE_TIMEOUT_SECONDS); the stream is closed",
                CLOSE_POLICY,
            )
        raise StreamEnd(
            "message_too_big",
            f"a message of {item.size} bytes is over the limit of {self.config.max_message_bytes} bytes "
            "(STREAM_MAX_MESSAGE_BYTES)",
            CLOSE_TOO_BIG,
        )

    async def _handle(self, item: Inbound) -> bool:
        """Process one message; True when it ended the stream (the client's `is_final`)."""
        if item.data is not None:
            if not isinstance(self._mode, _BinaryMode):
                raise StreamEnd(
                    "start_required",
                    "binary frames need a `start` message first, e.g. "
                    '{"type": "start", "format": "pcm_s16le", "sample_rate": 16000}',
                    CLOSE_POLICY,
                )
            self._frames += 1
            await self._ingest(item.data, self._frames)
            return False
        assert item.text is not None
        try:
            message = parse_client_message(item.text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._reject_message(item.text, exc)
            return False
        if isinstance(message, StartStream):
            self._start(message)
            return False
        return await self._chunk(message, item.received_at)

    def _reject_message(self, text: str, exc: Exception) -> None:
        reason = str(exc)
        if "base64" in reason:
            reason += " (audio_data must be standard padded base64, without a `data:` prefix)"
        kind = "not JSON" if isinstance(exc, msgspec.DecodeError) else "invalid"
        self._send(
            ErrorMessage(
                code="invalid_message",
                message=f"message ignored, {kind}: {reason}",
                chunk_id=chunk_id_of(text),
            )
        )

    def _start(self, message: StartStream) -> None:
        if self._mode is not None:
            self._send(
                ErrorMessage(code="invalid_message", message="`start` must be the first message; ignored")
            )
            return
        if not self._accept_language(message.language, None):
            return
        self._mode = _BinaryMode(format=message.format, sample_rate=message.sample_rate)

    def _accept_language(self, language: str | None, chunk_id: int | None) -> bool:
        if language is None:
            return True
        try:
            self._service.check_language(language)
        except GatewayError as exc:
            self._send(
                ErrorMessage(code=exc.code, message=f"message ignored: {exc.message}", chunk_id=chunk_id)
            )
            return False
        self._language = self._transcriber.language = language
        return True

    async def _chunk(self, chunk: AudioChunk, received_at: float) -> bool:
        if not self._accept_language(chunk.language, chunk.chunk_id):
            return False
        if isinstance(self._mode, _BinaryMode) or chunk.chunk_id is None:
            if chunk.audio_data:
                self._send(
                    ErrorMessage(
                        code="invalid_message",
                        message="chunk ignored: "
                        + (
                            "this stream carries binary frames; JSON may only end it with is_final"
                            if isinstance(self._mode, _BinaryMode)
                            else "chunk_id is required with audio_data"
                        ),
                        chunk_id=chunk.chunk_id,
                    )
                )
                return False
            if chunk.is_final:
                await self._release(self._sequencer.drain())
                return True
            return False
        self._mode = self._mode or "json"
        await self._release(self._sequencer.offer(chunk.chunk_id, chunk, received_at, chunk.is_final))
        return self._sequencer.finished

    async def _release(self, released: Released[AudioChunk]) -> None:
        for notice in released.notices:
            self._send(notice_message(notice))
        for chunk_id, chunk in released.ready:
            if chunk.audio_data:
                if self._decoder is None:
                    self._decoder = AudioStreamDecoder(
                        chunk.format, self._limits, chunk.sample_rate or TARGET_RATE
                    )
                await self._ingest(chunk.audio_data, chunk_id)

    async def _ingest(self, data: bytes, chunk_id: int) -> None:
        if self._decoder is None:
            assert isinstance(self._mode, _BinaryMode)
            self._decoder = AudioStreamDecoder(self._mode.format, self._limits, self._mode.sample_rate)
        try:
            events = await self._work.run(len(data), self._decode_and_segment, data, chunk_id)
        except (AudioUndecodable, AudioRejected) as exc:
            raise StreamEnd(exc.code, exc.message, CLOSE_UNSUPPORTED_DATA, chunk_id) from exc
        self._transcriber.on_segments(events)
        self._transcriber.maybe_partial()
        await self._transcriber.wait_for_capacity()
        if self._over_limit:
            raise StreamEnd(
                "audio_too_long",
                f"the stream passed {self.config.max_audio_seconds:g} s of audio (STREAM_MAX_AUDIO_SECONDS); "
                "audio after that was not transcribed",
                CLOSE_POLICY,
                chunk_id,
            )

    def _decode_and_segment(self, data: bytes, chunk_id: int | None) -> list[Any]:
        assert self._decoder is not None
        return self._segment(self._decoder.feed(data), chunk_id)

    def _segment(self, samples: np.ndarray, chunk_id: int | None) -> list[Any]:
        room = self._max_samples - self._segmenter.total_samples
        if len(samples) > room:
            samples, self._over_limit = samples[: max(room, 0)], True
        return self._segmenter.push(samples, chunk_id)

    async def _finish(self) -> None:
        if self._mode == "json":
            await self._release(self._sequencer.drain())
        events: list[Any] = []
        if self._decoder is not None:
            try:
                events += await self._work.run(0, lambda: self._segment(self._decoder.finish(), None))  # type: ignore[union-attr]
            except (AudioUndecodable, AudioRejected) as exc:
                self._send(ErrorMessage(code=exc.code, message=exc.message))
        events += self._segmenter.finish()
        self._transcriber.on_segments(events)
        await self._transcriber.drain()
        finals = self._transcriber.finals
        self._send(
            DoneMessage(
                text=" ".join(finals.texts),
                language=self._language or majority_language(finals.languages),
                segments=finals.finals,
                audio_duration_seconds=round(self._segmenter.total_samples / TARGET_RATE, 3),
                processing_time_ms=round((time.perf_counter() - self.started) * 1000, 2),
                missing_chunk_ids=list(self._sequencer.missing),
                failed_segment_ids=list(finals.failed),
            )
        )

    # --- output ---------------------------------------------------------------------------------

    def _send(self, message: ServerMessage) -> None:
        if not self._aborted:
            self.outbox.put_nowait(message)

    def _source(self, samples: np.ndarray) -> SourceInfo:
        """What the utterance's audio came from, as the backends' DecodedAudio describes it."""
        current = self._decoder.current if self._decoder is not None else None
        return SourceInfo(
            container=current.container if current else "pcm",
            codec=current.codec if current else "pcm_s16le",
            sample_rate=(current.sample_rate if current else 0) or TARGET_RATE,
            channels=(current.channels if current else 0) or 1,
            declared_duration_seconds=None,
            size_bytes=samples.nbytes,
        )

    def summary(self) -> dict[str, Any]:
        """Figures for the log line at the end of the stream."""
        times = self.chunk_times
        transcriber = self._transcriber
        return {
            "audio_seconds": round(self._segmenter.total_samples / TARGET_RATE, 3),
            "messages": times.count,
            "finals": transcriber.finals.finals,
            "failed_segments": len(transcriber.finals.failed),
            "partials": transcriber.partials_sent,
            "missing_chunks": len(self._sequencer.missing),
            "peak_buffered_seconds": round(transcriber.peak_buffered_seconds, 3),
            "chunk_ms_p50": round(times.percentile(0.5) * 1000, 3),
            "chunk_ms_p99": round(times.percentile(0.99) * 1000, 3),
            "chunk_ms_max": round(times.max_seconds * 1000, 3),
            "chunk_hist": times.to_json(),
            "close_code": self.close_code,
        }
