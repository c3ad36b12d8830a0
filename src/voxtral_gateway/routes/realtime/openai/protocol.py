"""OpenAI Realtime transcription sessions over a live session; knows nothing of sockets.

Client events (`schemas/realtime_openai.py`) become session inputs: the session's configuration
(format, language, turn detection), audio appended, turns committed or cleared. The session's events
become OpenAI's: speech started/stopped and committed per utterance (an utterance is an item), partial
texts as `delta`s, each final as `completed`, a failed utterance as `failed`. The GA and beta forms differ
only in the session events; the rest is the same on the wire."""

from __future__ import annotations

import secrets
import time

import msgspec
from msgspec import UNSET

from voxtral_gateway.errors import GatewayError, InvalidRequest
from voxtral_gateway.routes.error_wire import openai_realtime_error
from voxtral_gateway.routes.realtime.base import DeltaText, RealtimeAdapter, invalid_event
from voxtral_gateway.schemas import realtime_openai as wire
from voxtral_gateway.services.live import (
    AudioInput,
    ClientTurns,
    Error,
    Final,
    LiveEvent,
    LiveTranscription,
    Partial,
    ServerVad,
    SpeechStarted,
    SpeechStopped,
    TurnDetection,
)
from voxtral_gateway.services.models import ModelCatalog

_SESSION_LIFETIME_SECONDS = 3600
_RAW_FORMAT: dict[str, tuple[str, int]] = {
    "audio/pcm": ("pcm_s16le", 24_000),
    "audio/pcmu": ("pcm_mulaw", 8_000),
    "audio/pcma": ("pcm_alaw", 8_000),
}
_BETA_FORMATS: dict[str, wire.AudioFormat] = {
    "pcm16": wire.PcmFormat(),
    "g711_ulaw": wire.PcmuFormat(),
    "g711_alaw": wire.PcmaFormat(),
}


class SemanticVadUnsupported(InvalidRequest):
    code = "unsupported_turn_detection"


class CommitEmpty(InvalidRequest):
    code = "input_audio_buffer_commit_empty"


class _Settings(msgspec.Struct, kw_only=True):
    """The session's effective configuration, as OpenAI reports it."""

    format: wire.AudioFormat
    transcription: wire.TranscriptionConfig
    turn_detection: TurnDetection
    noise_reduction: wire.NoiseReduction | None = None
    include: list[str] | None = None


class OpenAIRealtimeSession(RealtimeAdapter):
    """One `/v1/realtime?intent=transcription` session. `beta`: the client sent `OpenAI-Beta: realtime=v1`
    (its session events are `transcription_session.*`)."""

    def __init__(
        self, *, session_id: str, live: LiveTranscription, models: ModelCatalog, model: str | None, beta: bool
    ):
        """`model`: from the URL, already checked (`models.resolve`); a session's model must be served or
        one of its aliases (MODEL_ALIASES)."""
        super().__init__(session_id=session_id, live=live, turn_detection=ServerVad())
        self.beta = beta
        self._object_id = f"sess_{session_id}"
        self._expires_at = int(time.time()) + _SESSION_LIFETIME_SECONDS
        self._settings = _Settings(
            format=wire.PcmFormat(),
            transcription=wire.TranscriptionConfig(model=model),
            turn_detection=ServerVad(),
        )
        self._models = models
        self._deltas = DeltaText()
        self._previous_item: str | None = None

    # --- session events -------------------------------------------------------------------------

    def opening_messages(self) -> list[msgspec.Struct]:
        return [self._session_event(created=True)]

    def _session_event(self, *, created: bool) -> msgspec.Struct:
        event_id = _event_id()
        if self.beta:
            state = self._beta_state()
            return (
                wire.BetaSessionCreated(event_id=event_id, session=state)
                if created
                else wire.BetaSessionUpdated(event_id=event_id, session=state)
            )
        ga = self._ga_state()
        return (
            wire.SessionCreated(event_id=event_id, session=ga)
            if created
            else wire.SessionUpdated(event_id=event_id, session=ga)
        )

    def _server_vad(self) -> wire.ServerVadConfig | None:
        detection = self._settings.turn_detection
        if isinstance(detection, ClientTurns):
            return None
        rules = self.config.endpoint
        return wire.ServerVadConfig(
            threshold=detection.threshold if detection.threshold is not None else 0.5,
            prefix_padding_ms=round(
                1000
                * (
                    detection.prefix_padding_seconds
                    if detection.prefix_padding_seconds is not None
                    else rules.padding_seconds
                )
            ),
            silence_duration_ms=round(
                1000
                * (
                    detection.silence_seconds
                    if detection.silence_seconds is not None
                    else rules.silence_seconds
                )
            ),
        )

    def _ga_state(self) -> wire.TranscriptionSessionState:
        settings = self._settings
        return wire.TranscriptionSessionState(
            id=self._object_id,
            expires_at=self._expires_at,
            include=settings.include,
            audio=wire.AudioState(
                input=wire.AudioInputState(
                    format=settings.format,
                    transcription=settings.transcription,
                    turn_detection=self._server_vad(),
                    noise_reduction=settings.noise_reduction,
                )
            ),
        )

    def _beta_state(self) -> wire.BetaSessionState:
        settings = self._settings
        vad = self._server_vad()
        beta_format = next(
            name for name, value in _BETA_FORMATS.items() if type(value) is type(settings.format)
        )
        return wire.BetaSessionState(
            id=self._object_id,
            expires_at=self._expires_at,
            include=settings.include,
            input_audio_format=beta_format,  # type: ignore[arg-type]
            input_audio_transcription=settings.transcription,
            turn_detection=None
            if vad is None
            else wire.BetaTurnDetection(
                threshold=vad.threshold,
                prefix_padding_ms=vad.prefix_padding_ms,
                silence_duration_ms=vad.silence_duration_ms,
            ),
            input_audio_noise_reduction=settings.noise_reduction,
        )

    # --- client events → session inputs ---------------------------------------------------------

    async def _handle(self, text: str) -> bool:
        try:
            event = wire.parse_client_event(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._reject(invalid_event(exc), _client_event_id(text))
            return False
        if isinstance(event, wire.AudioAppend):
            await self._append(event.audio)
        elif isinstance(event, wire.AudioCommit):
            if self.session.commit() is None:
                self._reject(
                    CommitEmpty(
                        "nothing to commit: no audio (or, with server VAD, no speech) since the last turn"
                    ),
                    event.event_id,
                )
        elif isinstance(event, wire.AudioClear):
            self.session.clear()
            self._send(wire.Cleared(event_id=_event_id()))
        elif isinstance(event, wire.SessionUpdate):
            self._update_ga(event)
        else:
            self._update_beta(event)
        return False

    async def _append(self, audio: bytes) -> None:
        if not audio:
            return
        if not self.session.audio_declared:
            encoding, rate = _RAW_FORMAT[_format_name(self._settings.format)]
            self.session.declare_audio(AudioInput(format=encoding, sample_rate=rate, raw=True))
        self._appends += 1
        await self.session.feed(audio, self._appends)

    def _update_ga(self, event: wire.SessionUpdate) -> None:
        config = event.session
        if config.type != "transcription":
            self._reject(
                InvalidRequest(
                    f"session.type {config.type!r} is not served here: only transcription sessions "
                    '(session.type "transcription")',
                    field="session.type",
                ),
                event.event_id,
            )
            return
        audio_input = config.audio.input if config.audio is not UNSET else UNSET
        changes = _Changes()
        if audio_input is not UNSET:
            changes.format = audio_input.format
            changes.transcription = audio_input.transcription
            changes.noise_reduction = audio_input.noise_reduction
            if isinstance(audio_input.turn_detection, wire.SemanticVadConfig):
                self._reject(_semantic_vad("session.audio.input.turn_detection.type"), event.event_id)
                return
            changes.turn_detection = _turns_of(audio_input.turn_detection)
        changes.include = config.include
        self._apply(changes, event.event_id, prefix="session.audio.input.")

    def _update_beta(self, event: wire.BetaSessionUpdate) -> None:
        config = event.session
        changes = _Changes()
        if config.input_audio_format is not UNSET:
            changes.format = _BETA_FORMATS[config.input_audio_format]
        if config.input_audio_transcription is not UNSET:
            changes.transcription = config.input_audio_transcription or wire.TranscriptionConfig()
        detection = config.turn_detection
        if detection is not UNSET:
            if detection is not None and detection.type == "semantic_vad":
                self._reject(_semantic_vad("session.turn_detection.type"), event.event_id)
                return
            changes.turn_detection = (
                ClientTurns()
                if detection is None
                else _turns_of(
                    wire.ServerVadConfig(
                        threshold=detection.threshold,
                        prefix_padding_ms=detection.prefix_padding_ms,
                        silence_duration_ms=detection.silence_duration_ms,
                    )
                )
            )
        changes.noise_reduction = config.input_audio_noise_reduction
        changes.include = config.include
        self._apply(changes, event.event_id, prefix="session.")

    def _apply(self, changes: _Changes, client_event_id: str | None, prefix: str) -> None:
        """Check every change first; apply all or none, then report the session."""
        settings = self._settings
        if (
            changes.format is not UNSET
            and self.session.audio_declared
            and _format_name(changes.format) != _format_name(settings.format)
        ):
            self._reject(
                InvalidRequest(
                    "the audio format cannot change once audio has been appended",
                    field=prefix + ("format" if prefix.endswith("input.") else "input_audio_format"),
                ),
                client_event_id,
            )
            return
        transcription = changes.transcription
        if transcription is not UNSET:
            try:
                if transcription.model is not None:
                    self._models.resolve(transcription.model)
                language = transcription.single_language
                if language:
                    self.session.set_language(language)
            except GatewayError as exc:
                exc.field = exc.field and prefix + "transcription." + exc.field
                self._reject(exc, client_event_id)
                return
            merged = wire.TranscriptionConfig(
                model=transcription.model or settings.transcription.model,
                language=language or settings.transcription.language,
                prompt=transcription.prompt or settings.transcription.prompt,
            )
            settings.transcription = merged
        if changes.format is not UNSET:
            settings.format = changes.format
        if changes.turn_detection is not UNSET:
            settings.turn_detection = changes.turn_detection
            self.session.set_turn_detection(changes.turn_detection)
        if changes.noise_reduction is not UNSET:
            settings.noise_reduction = changes.noise_reduction
        if changes.include is not UNSET:
            settings.include = changes.include
        self._send(self._session_event(created=False))

    # --- session events → server events ---------------------------------------------------------

    def _on_event(self, event: LiveEvent) -> None:
        vad = isinstance(self.session.turn_detection, ServerVad)
        if isinstance(event, SpeechStarted):
            if vad:
                item = self._item_id(event.segment_id)
                self._send(
                    wire.SpeechStarted(event_id=_event_id(), item_id=item, audio_start_ms=_ms(event.start))
                )
        elif isinstance(event, SpeechStopped):
            self._stopped(event, vad)
        elif isinstance(event, Partial):
            delta = self._deltas.partial(event.segment_id, event.text, event.growing)
            if delta:
                self._send(
                    wire.TranscriptionDelta(
                        event_id=_event_id(), item_id=self._item_id(event.segment_id), delta=delta
                    )
                )
        elif isinstance(event, Final):
            self._completed(event)
        elif isinstance(event, Error):
            self._error(event)

    def _stopped(self, event: SpeechStopped, vad: bool) -> None:
        item = self._item_id(event.segment_id)
        if vad and event.reason != "cleared" and event.reason != "commit":
            self._send(wire.SpeechStopped(event_id=_event_id(), item_id=item, audio_end_ms=_ms(event.end)))
        if event.transcribed:
            self._send(
                wire.Committed(event_id=_event_id(), item_id=item, previous_item_id=self._previous_item)
            )
            self._previous_item = item

    def _completed(self, final: Final) -> None:
        item = self._item_id(final.segment_id)
        delta = self._deltas.final(final.segment_id, final.text)
        if delta:
            self._send(wire.TranscriptionDelta(event_id=_event_id(), item_id=item, delta=delta))
        self._send(
            wire.TranscriptionCompleted(
                event_id=_event_id(),
                item_id=item,
                transcript=final.text,
                usage=wire.DurationUsage(seconds=round(final.end - final.start, 3)),
                languages=[wire.TranscriptLanguage(code=final.language)] if final.language else UNSET,
            )
        )

    def _error(self, event: Error) -> None:
        if event.segment_id is not None and not event.fatal:
            self._deltas.final(event.segment_id, "")
            self._send(
                wire.TranscriptionFailed(
                    event_id=_event_id(),
                    item_id=self._item_id(event.segment_id),
                    error=openai_realtime_error(event.error),
                )
            )
            return
        self._send(self._error_event(event.error))

    def _error_event(self, error: GatewayError, client_event_id: str | None = None) -> msgspec.Struct:
        return wire.ErrorEvent(event_id=_event_id(), error=openai_realtime_error(error, client_event_id))

    def _item_id(self, segment_id: int) -> str:
        return f"item_{self.session_id}_{segment_id:04d}"


class _Changes:
    """One session update's changes (`UNSET`: left as it is)."""

    __slots__ = ("format", "include", "noise_reduction", "transcription", "turn_detection")

    def __init__(self) -> None:
        self.format: wire.AudioFormat | msgspec.UnsetType = UNSET
        self.transcription: wire.TranscriptionConfig | msgspec.UnsetType = UNSET
        self.turn_detection: TurnDetection | msgspec.UnsetType = UNSET
        self.noise_reduction: wire.NoiseReduction | msgspec.UnsetType | None = UNSET
        self.include: list[str] | msgspec.UnsetType | None = UNSET


def _turns_of(config: wire.ServerVadConfig | msgspec.UnsetType | None) -> TurnDetection | msgspec.UnsetType:
    """OpenAI's turn detection → ours: `server_vad`'s parameters onto our VAD, null → client commits."""
    if config is UNSET:
        return UNSET
    if config is None:
        return ClientTurns()
    assert isinstance(config, wire.ServerVadConfig)
    return ServerVad(
        threshold=config.threshold,
        prefix_padding_seconds=None if config.prefix_padding_ms is None else config.prefix_padding_ms / 1000,
        silence_seconds=None if config.silence_duration_ms is None else config.silence_duration_ms / 1000,
    )


def _semantic_vad(field: str) -> SemanticVadUnsupported:
    return SemanticVadUnsupported(
        "semantic_vad is not available here; use server_vad (threshold, prefix_padding_ms, "
        "silence_duration_ms) or null to commit turns yourself",
        field=field,
    )


def _format_name(audio_format: wire.AudioFormat) -> str:
    return type(audio_format).__struct_config__.tag  # type: ignore[return-value]


class _EventIdProbe(msgspec.Struct):
    event_id: object = None


def _client_event_id(text: str) -> str | None:
    try:
        value = msgspec.json.decode(text, type=_EventIdProbe).event_id
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _event_id() -> str:
    return "event_" + secrets.token_hex(10)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
