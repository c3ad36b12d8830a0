"""Mistral's wire shapes (`/v1/...` as the `mistralai` SDK parses them), where they differ from OpenAI's.

Read from the SDK's models (`mistralai/client/models/`): `TranscriptionResponse`,
`TranscriptionStreamEvents`, `BaseModelCard`, `ModelCapabilities`. Shapes both SDKs accept (the JSON
transcription, the chat completion and its chunks, the model card) live in `schemas/openai.py`."""

from __future__ import annotations

from typing import Literal

import msgspec

# --- errors ------------------------------------------------------------------------------------


class MistralErrorResponse(msgspec.Struct, kw_only=True):
    """Mistral's error body: flat, `message` a string (the SDK puts the raw body in its exception)."""

    object: Literal["error"] = "error"
    message: str
    type: str
    """`invalid_request_error` (4xx) or `server_error` (5xx)."""
    param: str | None
    """The request field at fault, when there is one."""
    code: str | None
    """The gateway's stable error code (`model_not_found`, `audio_undecodable`, ...)."""


class MistralStreamError(msgspec.Struct, kw_only=True, tag_field="type", tag="error"):
    """The server-sent event that ends a stream which failed after its 200 (`event: error`)."""

    error: MistralErrorResponse


# --- transcription ---------------------------------------------------------------------------


class TranscriptionSegmentChunk(msgspec.Struct, kw_only=True):
    """One timed piece of the transcript (times in seconds in the original audio)."""

    type: Literal["transcription_segment"] = "transcription_segment"
    text: str
    start: float
    end: float


class MistralTranscriptionUsage(msgspec.Struct, kw_only=True):
    prompt_audio_seconds: int
    """The audio's duration, rounded up to whole seconds (the SDK wants an integer)."""


class TranscriptionStreamLanguage(
    msgspec.Struct, kw_only=True, tag_field="type", tag="transcription.language"
):
    """The audio's language, as soon as it is known (requested, else the model's, else identified)."""

    audio_language: str


class TranscriptionStreamSegment(msgspec.Struct, kw_only=True, tag_field="type", tag="transcription.segment"):
    """A timed segment (only when `timestamp_granularities` asks for `segment`)."""

    text: str
    start: float
    end: float


class TranscriptionStreamTextDelta(
    msgspec.Struct, kw_only=True, tag_field="type", tag="transcription.text.delta"
):
    """Text to append to what came before (with its separating space)."""

    text: str


class TranscriptionStreamDone(
    msgspec.Struct, kw_only=True, tag_field="type", tag="transcription.done", omit_defaults=True
):
    """The last event: the whole transcription, as the JSON response would give it."""

    model: str
    text: str
    language: str | None
    """Always present (Mistral's SDK requires the key); null when it could not be told."""
    usage: MistralTranscriptionUsage
    segments: list[TranscriptionSegmentChunk] | None = None


TranscriptionStreamEvent = (
    TranscriptionStreamLanguage
    | TranscriptionStreamSegment
    | TranscriptionStreamTextDelta
    | TranscriptionStreamDone
    | MistralStreamError
)


# --- models ------------------------------------------------------------------------------------


class ModelCapabilities(msgspec.Struct, kw_only=True):
    """What the model can do, as Mistral's model card says it (every flag the SDK knows is sent)."""

    completion_chat: bool
    """Chat (questions about audio): only Voxtral on vLLM."""
    audio: bool
    """Audio input in chat."""
    audio_transcription: bool = True
    audio_transcription_realtime: bool = False
    function_calling: bool = False
    completion_fim: bool = False
    fine_tuning: bool = False
    vision: bool = False
    classification: bool = False


class AudioTranscriptionCapabilities(msgspec.Struct, kw_only=True):
    """What `/v1/audio/transcriptions` supports for this model (mistralai 3.x reads it)."""

    modes: list[str]
    diarization: bool = False
    context_bias: bool = False
    """False: `context_bias` is accepted and ignored (see docs/mistral.md)."""
    timestamp_granularities: list[str]
    languages: list[str] | None = None
