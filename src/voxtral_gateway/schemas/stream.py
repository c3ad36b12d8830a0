"""Messages of the live transcription WebSocket (`/stream/transcribe`), both ways: JSON objects tagged by
`type`. The seed's clients send chunk messages without a `type`; `parse_client_message` accepts them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from voxtral_gateway.schemas.common import AudioFormat, LanguageCode

PCM_FORMAT = "pcm_s16le"
StreamFormat = AudioFormat | Literal["pcm_s16le"]
"""A container (sniffed from the bytes; the name is a hint), or raw 16-bit little-endian mono PCM."""
SampleRate = Annotated[int, Meta(ge=8_000, le=48_000)]
ChunkId = Annotated[int, Meta(ge=0)]
Severity = Literal["warning", "error", "fatal"]
"""`warning`: noted, nothing lost (a duplicate chunk); `error`: this message or segment is lost, the
stream goes on; `fatal`: the stream ends, a close frame follows."""


# --- client → server ---------------------------------------------------------------------------


class AudioChunk(msgspec.Struct, tag="chunk", tag_field="type", kw_only=True, forbid_unknown_fields=True):
    """One piece of the audio stream, base64 in JSON (the seed's message; `type` may be omitted).

    Pieces are consecutive bytes of one stream cut anywhere (a file, MediaRecorder timeslices, MP3
    frames); a piece that is a whole WAV file (RIFF header) starts a new WAV segment."""

    chunk_id: ChunkId | None = None
    """0 or 1 for the first chunk, then +1 each; required for chunks carrying audio."""
    audio_data: bytes = b""
    """Standard padded base64."""
    format: StreamFormat | None = None
    """A hint: the real container is read from the first bytes; only the first chunk's counts."""
    language: LanguageCode | None = None
    is_final: bool = False
    """The last chunk: the gateway finishes the last utterance, sends `done` and closes (1000)."""
    sample_rate: SampleRate | None = None
    """For `pcm_s16le` audio in JSON chunks; default 16000."""


class StartStream(msgspec.Struct, tag="start", tag_field="type", kw_only=True, forbid_unknown_fields=True):
    """Announces binary WebSocket frames: raw PCM16 (the cheap path) or a container's bytes (e.g. a
    MediaRecorder's WebM/Opus). `type` may be omitted. End the stream with `{"is_final": true}`."""

    format: StreamFormat = PCM_FORMAT
    sample_rate: SampleRate = 16_000
    """Of `pcm_s16le` frames (resampled to 16 kHz if different)."""
    language: LanguageCode | None = None


ClientMessage = AudioChunk | StartStream


class _Envelope(msgspec.Struct):
    type: str | None = None
    chunk_id: msgspec.Raw = msgspec.Raw(b"")
    audio_data: msgspec.Raw = msgspec.Raw(b"")
    is_final: msgspec.Raw = msgspec.Raw(b"")


_BY_TAG: dict[str, type[AudioChunk] | type[StartStream]] = {"chunk": AudioChunk, "start": StartStream}


def parse_client_message(raw: bytes | str) -> ClientMessage:
    """A client's JSON message. Without `type`, a message with none of `chunk_id`, `audio_data` and
    `is_final` is a `start`; anything else is a `chunk`. Raises `msgspec.DecodeError` (not JSON) or
    `msgspec.ValidationError` (a field's value, an unknown field or type)."""
    try:
        return _parse(raw)
    except RecursionError:  # msgspec's recursion limit: deeply nested arrays or objects
        raise msgspec.DecodeError("JSON is nested too deeply") from None


def _parse(raw: bytes | str) -> ClientMessage:
    envelope = msgspec.json.decode(raw, type=_Envelope)
    tag = envelope.type
    if tag is None:
        carries_chunk = any(
            len(value) for value in (envelope.chunk_id, envelope.audio_data, envelope.is_final)
        )
        tag = "chunk" if carries_chunk else "start"
    kind = _BY_TAG.get(tag)
    if kind is None:
        raise msgspec.ValidationError(
            f"unknown message type {tag!r}; expected `chunk` or `start` - at `$.type`"
        )
    return msgspec.json.decode(raw, type=kind)


# --- server → client ---------------------------------------------------------------------------


class StreamLimits(msgspec.Struct, kw_only=True):
    max_message_bytes: int
    idle_timeout_seconds: float
    max_audio_seconds: float
    max_buffered_seconds: float
    reorder_window: int
    silence_seconds: float
    max_utterance_seconds: float
    partial_interval_seconds: float


class ReadyMessage(msgspec.Struct, tag="ready", tag_field="type", kw_only=True):
    """Sent once the stream is admitted, before any other message."""

    session_id: str
    sample_rate: int
    """The rate the audio is transcribed at; `start`/`end` times count samples at this rate."""
    backend: str
    model: str
    formats: list[str]
    """What can be streamed (the `format` values, for the containers that can be decoded as they arrive)."""
    limits: StreamLimits


class PartialMessage(msgspec.Struct, tag="partial", tag_field="type", kw_only=True):
    """Tentative text of the utterance in progress; a later partial or the final of the same
    `segment_id` replaces it."""

    segment_id: int
    start: float
    """Stream seconds."""
    end: float
    text: str


class FinalMessage(msgspec.Struct, tag="final", tag_field="type", kw_only=True):
    """Committed text of one utterance; finals come in `segment_id` order and never change."""

    segment_id: int
    start: float
    end: float
    text: str
    language: str | None
    confidence: float | None
    """Mean token probability (embedded engine); null on vLLM."""
    chunk_id: int | None
    """The chunk (or binary frame, counted from 1) that carried the utterance's last sample."""
    backend_ms: float
    """Time the model took for this utterance."""


class DoneMessage(msgspec.Struct, tag="done", tag_field="type", kw_only=True):
    """After the client's `is_final`: the whole transcript. The socket closes (1000) after it."""

    text: str
    language: str | None
    segments: int
    audio_duration_seconds: float
    processing_time_ms: float
    is_final: bool = True
    missing_chunk_ids: list[int] = msgspec.field(default_factory=list)
    """Chunks that never arrived (their audio is not in the transcript)."""
    failed_segment_ids: list[int] = msgspec.field(default_factory=list)
    """Utterances the model failed to transcribe (each was reported by an `error`)."""


class ErrorMessage(msgspec.Struct, tag="error", tag_field="type", kw_only=True):
    code: str
    """Stable, machine-readable: `invalid_message`, `duplicate_chunk`, `chunk_gap`, `message_too_big`..."""
    message: str
    severity: Severity = "error"
    chunk_id: int | None = None
    segment_id: int | None = None
    missing_chunk_ids: list[int] | None = None
    close_code: int | None = None
    """With `fatal`: the WebSocket close code that follows."""


ServerMessage = ReadyMessage | PartialMessage | FinalMessage | DoneMessage | ErrorMessage
