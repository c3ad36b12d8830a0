"""The seed's live protocol (`/stream/transcribe`) over a live session; knows nothing of sockets.

The route feeds `inbox` and drains `outbox`. Client messages become session inputs: a `start` message
and binary frames, or JSON chunks with base64 audio put in order by chunk id (`stream_ordering.py`, a
reorder window and a timeout); the session's events become `schemas/stream.py` messages. Fatal errors
and close codes come from the error → wire mapping (`routes/error_wire.py`)."""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

from voxtral_gateway.errors import GatewayError, StreamProtocolViolation
from voxtral_gateway.routes.error_wire import ws_close_code
from voxtral_gateway.routes.live import Close, Inbound, LiveAdapter
from voxtral_gateway.routes.seed.stream_notices import chunk_id_of, notice_message
from voxtral_gateway.routes.seed.stream_ordering import ChunkSequencer, Released
from voxtral_gateway.schemas.stream import (
    AudioChunk,
    DoneMessage,
    ErrorMessage,
    FinalMessage,
    PartialMessage,
    ReadyMessage,
    ServerMessage,
    StartStream,
    StreamLimits,
    parse_client_message,
)
from voxtral_gateway.services.live import (
    FORMATS,
    SAMPLE_RATE,
    AudioInput,
    Done,
    Error,
    Final,
    LiveEvent,
    LiveTranscription,
    Partial,
    SpeechStarted,
    SpeechStopped,
    TurnDone,
)


class StartRequired(StreamProtocolViolation):
    """A binary frame came before the `start` message that announces binary frames."""

    code = "start_required"


class _BinaryMode(msgspec.Struct):
    format: str
    sample_rate: int


class SeedStream(LiveAdapter):
    """One `/stream/transcribe` stream: the seed's messages in, the seed's messages out."""

    def __init__(self, *, session_id: str, live: LiveTranscription):
        super().__init__(session_id=session_id, live=live)
        self._mode: Literal["json"] | _BinaryMode | None = None
        self._sequencer: ChunkSequencer[AudioChunk] = ChunkSequencer(
            self.config.reorder_window, self.config.reorder_timeout_seconds
        )
        self._frames = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def opening_messages(self) -> list[msgspec.Struct]:
        return [self.ready_message()]

    def ready_message(self) -> ReadyMessage:
        config = self.config
        return ReadyMessage(
            session_id=self.session_id,
            sample_rate=SAMPLE_RATE,
            backend=self._live.backend_kind,
            model=self._live.model_name,
            formats=list(FORMATS),
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

    # --- client messages → session inputs -------------------------------------------------------

    async def _process_inbox(self) -> None:
        while not self._sequencer.finished:
            deadline = self._sequencer.deadline  # the reorder window's next timeout
            try:
                item = await self._next_inbound(
                    None if deadline is None else max(0.0, deadline - time.perf_counter())
                )
            except TimeoutError:
                await self._release(self._sequencer.expire(time.perf_counter()))
                continue
            finished = await self._handle(item)
            self._handled(item)
            if finished:
                return

    async def _handle(self, item: Inbound) -> bool:
        """Process one message; True when it ended the stream (the client's `is_final`)."""
        if item.data is not None:
            if not isinstance(self._mode, _BinaryMode):
                raise StartRequired(
                    "binary frames need a `start` message first, e.g. "
                    '{"type": "start", "format": "pcm_s16le", "sample_rate": 16000}'
                )
            self._frames += 1
            await self.session.feed(item.data, self._frames)
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
        self.session.declare_audio(AudioInput(format=message.format, sample_rate=message.sample_rate))

    def _accept_language(self, language: str | None, chunk_id: int | None) -> bool:
        if language is None:
            return True
        try:
            self.session.set_language(language)
        except GatewayError as exc:
            self._send(
                ErrorMessage(code=exc.code, message=f"message ignored: {exc.message}", chunk_id=chunk_id)
            )
            return False
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
                if not self.session.audio_declared:
                    self.session.declare_audio(
                        AudioInput(format=chunk.format, sample_rate=chunk.sample_rate or SAMPLE_RATE)
                    )
                await self.session.feed(chunk.audio_data, chunk_id)

    async def _drain(self) -> None:
        """At the end: the chunks still held, every hole before them declared lost."""
        if self._mode == "json":
            await self._release(self._sequencer.drain())

    # --- session events → server messages -------------------------------------------------------

    def _on_event(self, event: LiveEvent) -> None:
        if isinstance(event, SpeechStarted | SpeechStopped | TurnDone):
            return  # the seed protocol tells neither where speech starts and stops nor about turns
        self._send(self._message(event))

    def _message(self, event: LiveEvent) -> ServerMessage:
        if isinstance(event, Partial):
            return PartialMessage(
                segment_id=event.segment_id, start=event.start, end=event.end, text=event.text
            )
        if isinstance(event, Final):
            return FinalMessage(
                segment_id=event.segment_id,
                start=event.start,
                end=event.end,
                text=event.text,
                language=event.language,
                confidence=event.confidence,
                chunk_id=event.mark,
                backend_ms=event.backend_ms,
            )
        if isinstance(event, Done):
            return DoneMessage(
                text=event.text,
                language=event.language,
                segments=event.segments,
                audio_duration_seconds=event.audio_seconds,
                processing_time_ms=event.processing_ms,
                missing_chunk_ids=list(self._sequencer.missing),
                failed_segment_ids=event.failed_segment_ids,
            )
        return error_message(event)

    def _summary_extra(self) -> dict[str, Any]:
        return {"missing_chunks": len(self._sequencer.missing)}


__all__ = ["Close", "Inbound", "SeedStream", "StartRequired", "error_message"]


def error_message(event: Error) -> ErrorMessage:
    """The seed's `error` message for an error event (a fatal one carries its close code)."""
    error = event.error
    if event.fatal:
        return ErrorMessage(
            code=error.code,
            message=error.message,
            severity="fatal",
            chunk_id=event.mark,
            close_code=ws_close_code(error),
        )
    message = error.message
    if event.segment_id is not None:
        message = f"segment {event.segment_id} could not be transcribed: {message}"
    return ErrorMessage(code=error.code, message=message, segment_id=event.segment_id, chunk_id=event.mark)
