"""Mistral realtime transcription over a live session; knows nothing of sockets.

Audio appended in the session's `audio_format` feeds the session; the VAD ends utterances (each final
is a `transcription.segment`, its text streamed before as `transcription.text.delta`s); the client's
`input_audio.flush` ends a turn: its `transcription.done` follows once every final of the turn is out,
and the socket stays open for the next turn (LiveKit and Pipecat keep one socket). `input_audio.end`
ends the session: the last turn's `transcription.done`, then close 1000."""

from __future__ import annotations

import math

import msgspec
from msgspec import UNSET

from voxtral_gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge
from voxtral_gateway.routes.error_wire import mistral_realtime_error
from voxtral_gateway.routes.realtime.base import DeltaText, RealtimeAdapter, invalid_event
from voxtral_gateway.schemas import realtime_mistral as wire
from voxtral_gateway.services.live import (
    AudioInput,
    Error,
    Final,
    LiveEvent,
    LiveTranscription,
    Partial,
    ServerVad,
    TurnDone,
)


class MistralRealtimeSession(RealtimeAdapter):
    """One `/v1/audio/transcriptions/realtime` session."""

    def __init__(self, *, session_id: str, live: LiveTranscription, model: str):
        """`model`: from the URL, already checked (the runtime's `models.resolve`)."""
        super().__init__(session_id=session_id, live=live, turn_detection=ServerVad())
        self._model = model
        self._format = wire.AudioFormat(encoding="pcm_s16le", sample_rate=16_000)
        self._language: str | None = None
        self._turn_detection: wire.TurnDetection | None = None
        self._deltas = DeltaText()
        self._lead: dict[int, str] = {}  # per segment: the space before its text in the turn's text
        self._turn_has_text = False
        self._turn_segments: list[wire.SegmentChunk] = []
        self._turn_has_audio = False
        self._turns_ended = 0
        self._reported_language: str | None = None

    # --- session events -------------------------------------------------------------------------

    def _state(self) -> wire.SessionState:
        return wire.SessionState(
            request_id=self.session_id,
            model=self._model,
            audio_format=self._format,
            language=self._language,
            turn_detection=self._turn_detection,
        )

    def opening_messages(self) -> list[msgspec.Struct]:
        return [wire.SessionCreated(session=self._state())]

    # --- client events → session inputs ---------------------------------------------------------

    async def _handle(self, text: str) -> bool:
        try:
            event = wire.parse_client_event(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._reject(invalid_event(exc))
            return False
        if isinstance(event, wire.AudioAppend):
            await self._append(event.audio)
        elif isinstance(event, wire.AudioFlush):
            self._end_turn()
        elif isinstance(event, wire.AudioEnd):
            return True
        else:
            self._update(event.session)
        return False

    async def _append(self, audio: bytes) -> None:
        if len(audio) > wire.MAX_APPEND_BYTES:
            self._reject(
                PayloadTooLarge(
                    f"input_audio.append carries {len(audio)} bytes of audio; at most "
                    f"{wire.MAX_APPEND_BYTES} bytes (decoded) per message: this one is ignored, split it",
                    field="audio",
                    details={"size_bytes": len(audio), "limit_bytes": wire.MAX_APPEND_BYTES},
                )
            )
            return
        if not audio:
            return
        if not self.session.audio_declared:
            self.session.declare_audio(
                AudioInput(format=self._format.encoding, sample_rate=self._format.sample_rate, raw=True)
            )
        self._appends += 1
        self._turn_has_audio = True
        await self.session.feed(audio, self._appends)

    def _update(self, config: wire.SessionConfig) -> None:
        """Check every change first; apply all or none, then report the session."""
        audio_format = config.audio_format
        changed_format = (
            audio_format is not UNSET and audio_format is not None and audio_format != self._format
        )
        if changed_format and self.session.audio_declared:
            self._reject(
                InvalidRequest(
                    "audio_format cannot change once audio has been sent", field="session.audio_format"
                )
            )
            return
        if config.language is not UNSET and config.language:
            try:
                self.session.set_language(config.language)
            except GatewayError as exc:
                exc.field = "session.language"
                self._reject(exc)
                return
            self._language = config.language
        if audio_format is not UNSET and audio_format is not None:
            self._format = audio_format
        if config.turn_detection is not UNSET:
            detection = config.turn_detection
            self._turn_detection = detection
            self.session.set_turn_detection(
                ServerVad()
                if detection is None
                else ServerVad(
                    threshold=detection.start_threshold,
                    silence_seconds=None
                    if detection.min_silence_ms is None
                    else detection.min_silence_ms / 1000,
                )
            )
        self._send(wire.SessionUpdated(session=self._state()))

    def _end_turn(self) -> None:
        self._turn_has_audio = False
        self._turns_ended += 1
        self.session.end_turn()

    async def _drain(self) -> None:
        # The input ended (input_audio.end, or a limit): the last turn gets its transcription.done too,
        # unless a flush already ended it and nothing came since.
        if self._turn_has_audio or self._turns_ended == 0:
            self._end_turn()

    # --- session events → server events ---------------------------------------------------------

    def _on_event(self, event: LiveEvent) -> None:
        if isinstance(event, Partial):
            self._delta(event.segment_id, self._deltas.partial(event.segment_id, event.text, event.growing))
        elif isinstance(event, Final):
            self._final(event)
        elif isinstance(event, TurnDone):
            self._send(
                wire.TranscriptionDone(
                    model=self._model,
                    text=event.text,
                    usage=wire.Usage(prompt_audio_seconds=math.ceil(event.audio_seconds)),
                    language=event.language or self._language,
                    segments=self._turn_segments,
                )
            )
            self._turn_segments, self._turn_has_text = [], False
        elif isinstance(event, Error):
            detail = mistral_realtime_error(event.error)
            if event.segment_id is not None and not event.fatal:  # one utterance lost; the session goes on
                self._deltas.final(event.segment_id, "")
                self._lead.pop(event.segment_id, None)
                detail.message = f"segment {event.segment_id} could not be transcribed: {detail.message}"
            self._send(wire.ErrorEvent(error=detail))

    def _delta(self, segment_id: int, delta: str) -> None:
        if not delta:
            return
        if segment_id not in self._lead:
            self._lead[segment_id] = " " if self._turn_has_text else ""
            self._turn_has_text = True
            delta = self._lead[segment_id] + delta
        self._send(wire.TextDelta(text=delta))

    def _final(self, final: Final) -> None:
        if final.language and final.language != self._reported_language:
            self._reported_language = final.language
            self._send(wire.LanguageEvent(audio_language=final.language))
        self._delta(final.segment_id, self._deltas.final(final.segment_id, final.text))
        self._lead.pop(final.segment_id, None)
        if final.text:
            self._turn_segments.append(wire.SegmentChunk(text=final.text, start=final.start, end=final.end))
            self._send(wire.SegmentEvent(text=final.text, start=final.start, end=final.end))

    def _error_event(self, error: GatewayError, client_event_id: str | None = None) -> msgspec.Struct:
        return wire.ErrorEvent(error=mistral_realtime_error(error))
