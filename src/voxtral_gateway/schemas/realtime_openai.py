"""OpenAI Realtime API, transcription sessions (`/v1/realtime?intent=transcription`): the events both ways.

Shapes follow the `openai` SDK's `types/realtime` (GA) and `types/beta/realtime` (beta, header
`OpenAI-Beta: realtime=v1`). Client events declare every field the SDK's parameter types (and so LiveKit's
OpenAI plugin) may send; those that mean nothing in a transcription session are accepted and ignored
(`Ignored`), and any other field is an error (a typo is not silently dropped). A field left out of an
update keeps its value (`UNSET`). Every server event carries `event_id`."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

Threshold = Annotated[float, Meta(ge=0.0, le=1.0)]
Milliseconds = Annotated[int, Meta(ge=0, le=10_000)]
Ignored = msgspec.Raw | UnsetType
"""A field a client may send that has no effect in a transcription session: accepted, not read."""


class ClientShape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A shape clients send: a field it does not declare is refused (subclasses inherit this)."""


# --- session configuration (both ways) ----------------------------------------------------------


class PcmFormat(ClientShape, tag="audio/pcm", tag_field="type"):
    """16-bit little-endian mono PCM; OpenAI takes only 24 kHz."""

    rate: Literal[24000] = 24000


class PcmuFormat(ClientShape, tag="audio/pcmu", tag_field="type"):
    """G.711 μ-law, 8 kHz."""


class PcmaFormat(ClientShape, tag="audio/pcma", tag_field="type"):
    """G.711 A-law, 8 kHz."""


AudioFormat = PcmFormat | PcmuFormat | PcmaFormat


class TranscriptionConfig(ClientShape):
    """`audio.input.transcription` (beta: `input_audio_transcription`)."""

    model: str | None = None
    language: str | None = None
    """ISO-639-1; None lets the model find it."""
    prompt: str | None = None
    """Accepted; the gateway's backends take no prompt for live audio."""
    languages: list[str] | UnsetType | None = UNSET
    """The languages the audio may be in: one is taken as `language`; several leave it to the model."""
    keywords: Ignored = UNSET
    """Terms to bias the transcription towards: accepted, not used."""
    delay: Ignored = UNSET
    """A latency/accuracy trade-off of OpenAI's models: accepted, not used."""

    @property
    def single_language(self) -> str | None:
        """`language`, else the one language `languages` names."""
        if self.language:
            return self.language
        if isinstance(self.languages, list) and len(self.languages) == 1:
            return self.languages[0]
        return None


class ServerVadConfig(ClientShape, tag="server_vad", tag_field="type"):
    """The server's VAD ends turns. `idle_timeout_ms`, `create_response` and `interrupt_response` mean
    nothing for transcription (there are no responses): accepted and ignored."""

    threshold: Threshold | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Annotated[int, Meta(ge=30, le=10_000)] | None = None
    idle_timeout_ms: Ignored = UNSET
    create_response: Ignored = UNSET
    interrupt_response: Ignored = UNSET


class SemanticVadConfig(ClientShape, tag="semantic_vad", tag_field="type"):
    """A model of turn ends OpenAI has and the gateway has not: refused with an error."""

    eagerness: str | None = None
    create_response: Ignored = UNSET
    interrupt_response: Ignored = UNSET


TurnDetectionConfig = ServerVadConfig | SemanticVadConfig


class NoiseReduction(ClientShape):
    """Accepted (reported back as set); the gateway does not filter noise."""

    type: str | None = None
    strength: float | None = None


class AudioInputConfig(ClientShape):
    format: AudioFormat | UnsetType = UNSET
    transcription: TranscriptionConfig | UnsetType = UNSET
    turn_detection: TurnDetectionConfig | UnsetType | None = UNSET
    """None: no VAD, the client commits its turns."""
    noise_reduction: NoiseReduction | UnsetType | None = UNSET


class AudioConfig(ClientShape):
    input: AudioInputConfig | UnsetType = UNSET
    output: Ignored = UNSET
    """A conversation session's spoken answers: none in transcription mode."""


class TranscriptionSessionConfig(ClientShape):
    """GA `session.update`'s `session`. `type` must be `transcription` (a `realtime` conversation
    session is refused). The fields after `include` are those of a conversation session (the SDK's
    `RealtimeSessionCreateRequestParam`): they configure responses, which a transcription session does
    not give, so they are accepted and ignored."""

    type: str
    audio: AudioConfig | UnsetType = UNSET
    include: list[str] | UnsetType | None = UNSET
    model: Ignored = UNSET
    instructions: Ignored = UNSET
    max_output_tokens: Ignored = UNSET
    output_modalities: Ignored = UNSET
    parallel_tool_calls: Ignored = UNSET
    prompt: Ignored = UNSET
    reasoning: Ignored = UNSET
    tool_choice: Ignored = UNSET
    tools: Ignored = UNSET
    tracing: Ignored = UNSET
    truncation: Ignored = UNSET


BetaAudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]


class BetaTurnDetection(ClientShape):
    """`create_response` and `interrupt_response`: accepted and ignored (no responses)."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: Threshold | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Annotated[int, Meta(ge=30, le=10_000)] | None = None
    eagerness: str | None = None
    create_response: Ignored = UNSET
    interrupt_response: Ignored = UNSET


class BetaSessionConfig(ClientShape):
    """Beta `transcription_session.update`'s `session`. `client_secret` (the expiry of an ephemeral
    key) and `modalities` (always text here) are accepted and ignored."""

    input_audio_format: BetaAudioFormat | UnsetType = UNSET
    input_audio_transcription: TranscriptionConfig | UnsetType | None = UNSET
    turn_detection: BetaTurnDetection | UnsetType | None = UNSET
    input_audio_noise_reduction: NoiseReduction | UnsetType | None = UNSET
    include: list[str] | UnsetType | None = UNSET
    client_secret: Ignored = UNSET
    modalities: Ignored = UNSET


# --- client → server ----------------------------------------------------------------------------


class SessionUpdate(ClientShape, tag="session.update", tag_field="type"):
    session: TranscriptionSessionConfig
    event_id: str | None = None


class BetaSessionUpdate(ClientShape, tag="transcription_session.update", tag_field="type"):
    session: BetaSessionConfig
    event_id: str | None = None


class AudioAppend(ClientShape, tag="input_audio_buffer.append", tag_field="type"):
    audio: bytes
    """Standard base64 of raw audio in the session's format."""
    event_id: str | None = None


class AudioCommit(ClientShape, tag="input_audio_buffer.commit", tag_field="type"):
    event_id: str | None = None


class AudioClear(ClientShape, tag="input_audio_buffer.clear", tag_field="type"):
    event_id: str | None = None


ClientEvent = SessionUpdate | BetaSessionUpdate | AudioAppend | AudioCommit | AudioClear
_CLIENT_EVENT_DECODER = msgspec.json.Decoder(ClientEvent)


def parse_client_event(text: str | bytes) -> ClientEvent:
    """Raises `msgspec.DecodeError` (not JSON, or nested too deeply) or `msgspec.ValidationError` (unknown
    type, unknown field, bad field)."""
    try:
        return _CLIENT_EVENT_DECODER.decode(text)
    except RecursionError:  # msgspec's recursion limit: deeply nested arrays or objects
        raise msgspec.DecodeError("JSON is nested too deeply") from None


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
