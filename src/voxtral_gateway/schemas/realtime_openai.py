"""OpenAI Realtime API, transcription sessions (`/v1/realtime?intent=transcription`): the events both ways.

Shapes follow the `openai` SDK's `types/realtime` (GA) and `types/beta/realtime` (beta, header
`OpenAI-Beta: realtime=v1`). Client events are decoded leniently (fields we do not use are accepted and
ignored, as OpenAI's server does); a field left out of an update keeps its value (`UNSET`). Every
server event carries `event_id`."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Threshold = Annotated[float, Meta(ge=0.0, le=1.0)]
Milliseconds = Annotated[int, Meta(ge=0, le=10_000)]


# --- session configuration (both ways) ----------------------------------------------------------


class PcmFormat(msgspec.Struct, tag="audio/pcm", tag_field="type", kw_only=True):
    """16-bit little-endian mono PCM; OpenAI takes only 24 kHz."""

    rate: Literal[24000] = 24000


class PcmuFormat(msgspec.Struct, tag="audio/pcmu", tag_field="type"):
    """G.711 μ-law, 8 kHz."""


class PcmaFormat(msgspec.Struct, tag="audio/pcma", tag_field="type"):
    """G.711 A-law, 8 kHz."""


AudioFormat = PcmFormat | PcmuFormat | PcmaFormat


class TranscriptionConfig(msgspec.Struct, kw_only=True):
    """`audio.input.transcription` (beta: `input_audio_transcription`)."""

    model: str | None = None
    language: str | None = None
    """ISO-639-1; None lets the model find it."""
    prompt: str | None = None
    """Accepted; the gateway's backends take no prompt for live audio."""


class ServerVadConfig(msgspec.Struct, tag="server_vad", tag_field="type", kw_only=True):
    """The server's VAD ends turns. `idle_timeout_ms`, `create_response` and `interrupt_response` mean
    nothing for transcription: accepted and ignored."""

    threshold: Threshold | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Annotated[int, Meta(ge=30, le=10_000)] | None = None


class SemanticVadConfig(msgspec.Struct, tag="semantic_vad", tag_field="type", kw_only=True):
    """A model of turn ends OpenAI has and the gateway has not: refused with an error."""

    eagerness: str | None = None


TurnDetectionConfig = ServerVadConfig | SemanticVadConfig


class NoiseReduction(msgspec.Struct, kw_only=True):
    """Accepted (reported back as set); the gateway does not filter noise."""

    type: str | None = None
    strength: float | None = None


class AudioInputConfig(msgspec.Struct, kw_only=True):
    format: AudioFormat | UnsetType = UNSET
    transcription: TranscriptionConfig | UnsetType = UNSET
    turn_detection: TurnDetectionConfig | UnsetType | None = UNSET
    """None: no VAD, the client commits its turns."""
    noise_reduction: NoiseReduction | UnsetType | None = UNSET


class AudioConfig(msgspec.Struct, kw_only=True):
    input: AudioInputConfig | UnsetType = UNSET


class TranscriptionSessionConfig(msgspec.Struct, kw_only=True):
    """GA `session.update`'s `session`. `type` must be `transcription` (a `realtime` conversation
    session is refused)."""

    type: str
    audio: AudioConfig | UnsetType = UNSET
    include: list[str] | UnsetType | None = UNSET


BetaAudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]


class BetaTurnDetection(msgspec.Struct, kw_only=True):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: Threshold | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Annotated[int, Meta(ge=30, le=10_000)] | None = None
    eagerness: str | None = None


class BetaSessionConfig(msgspec.Struct, kw_only=True):
    """Beta `transcription_session.update`'s `session`."""

    input_audio_format: BetaAudioFormat | UnsetType = UNSET
    input_audio_transcription: TranscriptionConfig | UnsetType | None = UNSET
    turn_detection: BetaTurnDetection | UnsetType | None = UNSET
    input_audio_noise_reduction: NoiseReduction | UnsetType | None = UNSET
    include: list[str] | UnsetType | None = UNSET


# --- client → server ----------------------------------------------------------------------------


class SessionUpdate(msgspec.Struct, tag="session.update", tag_field="type", kw_only=True):
    session: TranscriptionSessionConfig
    event_id: str | None = None


class BetaSessionUpdate(msgspec.Struct, tag="transcription_session.update", tag_field="type", kw_only=True):
    session: BetaSessionConfig
    event_id: str | None = None


class AudioAppend(msgspec.Struct, tag="input_audio_buffer.append", tag_field="type", kw_only=True):
    audio: bytes
    """Standard base64 of raw audio in the session's format."""
    event_id: str | None = None


class AudioCommit(msgspec.Struct, tag="input_audio_buffer.commit", tag_field="type", kw_only=True):
    event_id: str | None = None


class AudioClear(msgspec.Struct, tag="input_audio_buffer.clear", tag_field="type", kw_only=True):
    event_id: str | None = None


ClientEvent = SessionUpdate | BetaSessionUpdate | AudioAppend | AudioCommit | AudioClear
_CLIENT_EVENT_DECODER = msgspec.json.Decoder(ClientEvent)


def parse_client_event(text: str | bytes) -> ClientEvent:
    """Raises `msgspec.DecodeError` (not JSON) or `msgspec.ValidationError` (unknown type, bad field)."""
    return _CLIENT_EVENT_DECODER.decode(text)


# --- server → client ----------------------------------------------------------------------------


class AudioInputState(msgspec.Struct, kw_only=True):
    format: AudioFormat
    transcription: TranscriptionConfig
    turn_detection: ServerVadConfig | None
    noise_reduction: NoiseReduction | None


class AudioState(msgspec.Struct, kw_only=True):
    input: AudioInputState


class TranscriptionSessionState(msgspec.Struct, kw_only=True):
    """The whole effective configuration (`realtime_transcription_session_create_response.py`)."""

    id: str
    audio: AudioState
    expires_at: int
    include: list[str] | None = None
    type: Literal["transcription"] = "transcription"
    object: Literal["realtime.transcription_session"] = "realtime.transcription_session"


class BetaSessionState(msgspec.Struct, kw_only=True):
    id: str
    input_audio_format: BetaAudioFormat
    input_audio_transcription: TranscriptionConfig
    turn_detection: BetaTurnDetection | None
    input_audio_noise_reduction: NoiseReduction | None
    expires_at: int
    include: list[str] | None = None
    modalities: list[str] = msgspec.field(default_factory=lambda: ["text"])
    client_secret: None = None
    object: Literal["realtime.transcription_session"] = "realtime.transcription_session"


class SessionCreated(msgspec.Struct, tag="session.created", tag_field="type", kw_only=True):
    event_id: str
    session: TranscriptionSessionState


class SessionUpdated(msgspec.Struct, tag="session.updated", tag_field="type", kw_only=True):
    event_id: str
    session: TranscriptionSessionState


class BetaSessionCreated(msgspec.Struct, tag="transcription_session.created", tag_field="type", kw_only=True):
    event_id: str
    session: BetaSessionState


class BetaSessionUpdated(msgspec.Struct, tag="transcription_session.updated", tag_field="type", kw_only=True):
    event_id: str
    session: BetaSessionState


class SpeechStarted(msgspec.Struct, tag="input_audio_buffer.speech_started", tag_field="type", kw_only=True):
    event_id: str
    item_id: str
    audio_start_ms: int
    """Since the start of the session's audio, the prefix padding included."""


class SpeechStopped(msgspec.Struct, tag="input_audio_buffer.speech_stopped", tag_field="type", kw_only=True):
    event_id: str
    item_id: str
    audio_end_ms: int


class Committed(msgspec.Struct, tag="input_audio_buffer.committed", tag_field="type", kw_only=True):
    event_id: str
    item_id: str
    previous_item_id: str | None


class Cleared(msgspec.Struct, tag="input_audio_buffer.cleared", tag_field="type", kw_only=True):
    event_id: str


class TranscriptionDelta(
    msgspec.Struct,
    tag="conversation.item.input_audio_transcription.delta",
    tag_field="type",
    kw_only=True,
):
    event_id: str
    item_id: str
    delta: str
    content_index: int = 0


class DurationUsage(msgspec.Struct, tag="duration", tag_field="type", kw_only=True):
    seconds: float


class TranscriptLanguage(msgspec.Struct, kw_only=True):
    code: str


class TranscriptionCompleted(
    msgspec.Struct,
    tag="conversation.item.input_audio_transcription.completed",
    tag_field="type",
    kw_only=True,
):
    event_id: str
    item_id: str
    transcript: str
    usage: DurationUsage
    """The audio's duration, in seconds."""
    content_index: int = 0
    languages: list[TranscriptLanguage] | UnsetType = UNSET


class RealtimeErrorInfo(msgspec.Struct, kw_only=True):
    """`realtime_error.py`: `type` is `invalid_request_error` or `server_error`; `code` the gateway's
    error code; `param` the field at fault; `event_id` the client event that caused it."""

    type: str
    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None


class TranscriptionFailed(
    msgspec.Struct,
    tag="conversation.item.input_audio_transcription.failed",
    tag_field="type",
    kw_only=True,
):
    event_id: str
    item_id: str
    error: RealtimeErrorInfo
    content_index: int = 0


class ErrorEvent(msgspec.Struct, tag="error", tag_field="type", kw_only=True):
    event_id: str
    error: RealtimeErrorInfo


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | BetaSessionCreated
    | BetaSessionUpdated
    | SpeechStarted
    | SpeechStopped
    | Committed
    | Cleared
    | TranscriptionDelta
    | TranscriptionCompleted
    | TranscriptionFailed
    | ErrorEvent
)
