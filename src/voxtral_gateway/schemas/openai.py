"""OpenAI-compatible request and response shapes (`/v1/...`), as the official SDKs expect them.

Where one body satisfies both OpenAI's and Mistral's SDK (the JSON transcription, the model card, chat
completions and their chunks), it is defined here once, with Mistral's keys beside OpenAI's
(`schemas/mistral.py` holds the shapes only Mistral has)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from voxtral_gateway.backends.chat import TokenUsage
from voxtral_gateway.schemas.mistral import (
    AudioTranscriptionCapabilities,
    ModelCapabilities,
    TranscriptionSegmentChunk,
)

# --- errors ------------------------------------------------------------------------------------


class OpenAIErrorInfo(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorResponse(msgspec.Struct):
    error: OpenAIErrorInfo


# --- models ------------------------------------------------------------------------------------


class ModelCard(msgspec.Struct, kw_only=True):
    """OpenAI's model object and Mistral's `BaseModelCard` in one (each SDK ignores the other's keys)."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    type: Literal["base"] = "base"
    """Mistral's SDK needs it to tell a base model from a fine-tuned one."""
    capabilities: ModelCapabilities
    aliases: list[str]
    """Other names requests may use for this model (MODEL_ALIASES)."""
    audio_transcription_capabilities: AudioTranscriptionCapabilities


class ModelList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- audio transcriptions ----------------------------------------------------------------------

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]


class DurationUsage(msgspec.Struct, kw_only=True):
    """The audio's duration in whole seconds (rounded up), under OpenAI's and Mistral's names."""

    type: Literal["duration"] = "duration"
    seconds: int
    prompt_audio_seconds: int


class TranscriptionJson(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`response_format=json`: OpenAI's `Transcription` and Mistral's `TranscriptionResponse` in one."""

    model: str
    text: str
    language: str | None
    """ISO 639-1; always present (Mistral's SDK requires the key), null when it could not be told."""
    segments: list[TranscriptionSegmentChunk] | None = None
    """Only when Mistral's `timestamp_granularities=segment` asks for them."""
    usage: DurationUsage


class VerboseSegment(msgspec.Struct, kw_only=True):
    id: int
    start: float
    end: float
    text: str


class TranscriptionVerboseJson(msgspec.Struct, kw_only=True):
    task: Literal["transcribe"] = "transcribe"
    language: str
    duration: float
    text: str
    segments: list[VerboseSegment]
    usage: DurationUsage


class TranscriptDeltaEvent(msgspec.Struct, kw_only=True, tag_field="type", tag="transcript.text.delta"):
    delta: str


class TranscriptDoneEvent(msgspec.Struct, kw_only=True, tag_field="type", tag="transcript.text.done"):
    text: str
    usage: DurationUsage


# --- chat completions --------------------------------------------------------------------------


class InputAudio(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    data: bytes
    """Standard base64 of the audio file (any container the gateway decodes)."""
    format: str | None = None


class AudioUrl(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str
    """A `data:audio/<subtype>;base64,...` URL, or an http(s) URL the gateway fetches (guarded)."""


class TextContentPart(msgspec.Struct, kw_only=True, tag_field="type", tag="text", forbid_unknown_fields=True):
    text: str


class InputAudioContentPart(
    msgspec.Struct, kw_only=True, tag_field="type", tag="input_audio", forbid_unknown_fields=True
):
    input_audio: InputAudio | str
    """OpenAI's object, or Mistral's plain base64 string."""


class AudioUrlContentPart(
    msgspec.Struct, kw_only=True, tag_field="type", tag="audio_url", forbid_unknown_fields=True
):
    audio_url: AudioUrl | str
    """OpenAI's object, or the URL as a plain string (as Mistral's API writes its URL parts)."""


class SdkWrappedContentPart(
    msgspec.Struct, kw_only=True, tag_field="type", tag="UNKNOWN", forbid_unknown_fields=True
):
    """How Mistral's SDK sends a part it has no class for (OpenAI's `input_audio` object, `audio_url`):
    the caller's part, as written, under `raw`. The gateway reads `raw`."""

    raw: TextContentPart | InputAudioContentPart | AudioUrlContentPart
    is_unknown: bool = True


ContentPart = TextContentPart | InputAudioContentPart | AudioUrlContentPart | SdkWrappedContentPart


class ChatMessageIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]
    prefix: bool = False
    """Mistral's (its SDK sends `false` on every assistant message): `true`, an answer to continue, is
    refused."""


class StreamOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    include_usage: bool = False


class ChatCompletionRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: str
    messages: Annotated[list[ChatMessageIn], Meta(min_length=1)]
    temperature: Annotated[float, Meta(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Meta(gt=0.0, le=1.0)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Meta(ge=1, le=1)] = 1
    """Only one choice is supported."""
    user: str | None = None
    """Accepted for compatibility; not used."""


class ChatResponseMessage(msgspec.Struct, kw_only=True):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(msgspec.Struct, kw_only=True):
    index: int = 0
    message: ChatResponseMessage
    finish_reason: str | None


class ChatCompletion(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: TokenUsage | None


class ChatDelta(msgspec.Struct, kw_only=True, omit_defaults=True):
    role: str | None = None
    content: str | None = None


class ChatChunkChoice(msgspec.Struct, kw_only=True):
    index: int = 0
    delta: ChatDelta
    finish_reason: str | None = None


class ChatCompletionChunk(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: TokenUsage | None = None
