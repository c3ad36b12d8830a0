"""Mistral's realtime transcription (`/v1/audio/transcriptions/realtime`): the events both ways.

Shapes follow the `mistralai` SDK (`extra/realtime/`, `client/models/realtimetranscription*.py`).
Client events declare every field the SDK (2.x, as LiveKit's Mistral plugin uses it, and 3.x) may send;
those the gateway has no use for are accepted and have no effect, and any other field is an error (a typo
is not silently dropped). The SDK sends `null` for a field it leaves unset in some versions, so every
optional field takes null."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

MAX_APPEND_BYTES = 262_144
"""The most decoded audio one `input_audio.append` may carry (the SDK's documented limit)."""

Encoding = Literal["pcm_s16le", "pcm_s32le", "pcm_f16le", "pcm_f32le", "pcm_mulaw", "pcm_alaw"]
SampleRate = Annotated[int, Meta(ge=8_000, le=48_000)]


class ClientShape(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A shape clients send: a field it does not declare is refused (subclasses inherit this)."""


class AudioFormat(ClientShape):
    encoding: Encoding
    sample_rate: SampleRate


class TurnDetection(ClientShape):
    """Mistral's turn detection. `start_threshold` and `min_silence_ms` map onto the gateway's VAD;
    the eager-end and end thresholds and `end_timeout_ms` belong to Mistral's model: accepted, ignored."""

    start_threshold: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    eager_end_threshold: float | None = None
    end_threshold: float | None = None
    min_silence_ms: Annotated[int, Meta(ge=30, le=10_000)] | None = None
    end_timeout_ms: int | None = None


class SessionConfig(ClientShape):
    """`session.update`'s `session`: only the fields set change. `audio_format` only before any audio;
    `target_streaming_delay_ms`, `diarize`, `context_bias` and `speaker_references` are accepted and
    have no effect here (utterances are transcribed whole once the VAD or a flush ends them)."""

    audio_format: AudioFormat | UnsetType | None = UNSET
    language: str | UnsetType | None = UNSET
    turn_detection: TurnDetection | UnsetType | None = UNSET
    target_streaming_delay_ms: int | UnsetType | None = UNSET
    diarize: bool | UnsetType | None = UNSET
    context_bias: list[str] | UnsetType | None = UNSET
    speaker_references: dict[str, str] | UnsetType | None = UNSET


# --- client → server ----------------------------------------------------------------------------


class SessionUpdate(ClientShape, tag="session.update", tag_field="type"):
    session: SessionConfig


class AudioAppend(ClientShape, tag="input_audio.append", tag_field="type"):
    audio: bytes
    """Standard base64 of raw audio in the session's `audio_format`; at most `MAX_APPEND_BYTES` decoded."""


class AudioFlush(ClientShape, tag="input_audio.flush", tag_field="type"):
    """End the turn: its `transcription.done` follows; the socket stays open for the next turn."""


class AudioEnd(ClientShape, tag="input_audio.end", tag_field="type"):
    """No more audio: the last `transcription.done`, then the server closes (1000)."""


ClientEvent = SessionUpdate | AudioAppend | AudioFlush | AudioEnd
_CLIENT_EVENT_DECODER = msgspec.json.Decoder(ClientEvent)


def parse_client_event(text: str | bytes) -> ClientEvent:
    """Raises `msgspec.DecodeError` (not JSON, or nested too deeply) or `msgspec.ValidationError` (unknown
    type, unknown field, bad field)."""
    try:
        return _CLIENT_EVENT_DECODER.decode(text)
    except RecursionError:  # msgspec's recursion limit: deeply nested arrays or objects
        raise msgspec.DecodeError("JSON is nested too deeply") from None


# --- server → client ----------------------------------------------------------------------------


class SessionState(msgspec.Struct, kw_only=True):
    request_id: str
    model: str
    audio_format: AudioFormat
    language: str | None = None
    turn_detection: TurnDetection | None = None
    target_streaming_delay_ms: int | None = None


class SessionCreated(msgspec.Struct, tag="session.created", tag_field="type", kw_only=True):
    session: SessionState


class SessionUpdated(msgspec.Struct, tag="session.updated", tag_field="type", kw_only=True):
    session: SessionState


class LanguageEvent(msgspec.Struct, tag="transcription.language", tag_field="type", kw_only=True):
    audio_language: str


class TextDelta(msgspec.Struct, tag="transcription.text.delta", tag_field="type", kw_only=True):
    text: str


class SegmentEvent(msgspec.Struct, tag="transcription.segment", tag_field="type", kw_only=True):
    text: str
    start: float | None
    end: float | None


class SegmentChunk(msgspec.Struct, kw_only=True):
    text: str
    start: float | None
    end: float | None
    type: Literal["transcription_segment"] = "transcription_segment"


class Usage(msgspec.Struct, kw_only=True):
    prompt_audio_seconds: int
    """Whole seconds (the SDK's `UsageInfo` takes an int), rounded up."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class TranscriptionDone(msgspec.Struct, tag="transcription.done", tag_field="type", kw_only=True):
    model: str
    text: str
    usage: Usage
    language: str | None
    segments: list[SegmentChunk]


class ErrorDetail(msgspec.Struct, kw_only=True):
    message: str
    code: int
    """The HTTP status the error would have had."""


class ErrorEvent(msgspec.Struct, tag="error", tag_field="type", kw_only=True):
    error: ErrorDetail


ServerEvent = (
    SessionCreated
    | SessionUpdated
    | LanguageEvent
    | TextDelta
    | SegmentEvent
    | TranscriptionDone
    | ErrorEvent
)
