"""Mistral's side of `POST /v1/chat/completions` (shared with OpenAI's): its `input_audio` part is a
plain base64 string, and its streams carry usage without being asked."""

from __future__ import annotations

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.base64_text import strict_base64
from voxtral_gateway.schemas.openai import ContentPart, SdkWrappedContentPart
from voxtral_gateway.services.understanding import AudioFile


def unwrapped(part: ContentPart) -> ContentPart:
    """The part as the caller wrote it: Mistral's SDK wraps parts it has no class for (OpenAI's
    `input_audio` object, `audio_url`) as `{"type": "UNKNOWN", "raw": <the part>}`."""
    return part.raw if isinstance(part, SdkWrappedContentPart) else part


def input_audio_string_file(value: str, field: str) -> AudioFile:
    """Mistral's `{"type": "input_audio", "input_audio": "<base64>"}` as an audio file (the container
    is sniffed from the bytes)."""
    try:
        data = strict_base64(value)
    except ValueError as exc:  # binascii.Error, or a non-ASCII character (a plain ValueError)
        raise InvalidRequest(
            f"{field} is not standard padded base64 ({exc}); send the audio file's bytes in base64",
            field=field,
        ) from exc
    return AudioFile(data=data, field=field)


def check_prefix(prefix: bool, field: str) -> None:
    """Mistral's `prefix: true` (continue this assistant message) is not something the gateway does."""
    if prefix:
        raise InvalidRequest(
            f"{field}=true is not supported: assistant messages are context, not an answer to continue",
            field=field,
        )


def streams_usage(include_usage_asked: bool, dialect: str) -> bool:
    """Whether a streamed answer ends with a usage chunk: OpenAI's clients ask for it
    (`stream_options.include_usage`); Mistral's API always sends it."""
    return include_usage_asked or dialect == "mistral"
