"""POST /understand/ request and response."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from voxtral_gateway.backends.chat import MAX_AUDIOS_PER_PROMPT, TokenUsage
from voxtral_gateway.schemas.common import AudioFormat


class AudioInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    data: Annotated[bytes, Meta(description="The audio file, standard padded base64.")]
    format: AudioFormat | None = None


class UnderstandRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    audio_files: Annotated[
        list[AudioInput],
        Meta(
            min_length=1, max_length=MAX_AUDIOS_PER_PROMPT, description="1 to 5 audio files (Voxtral's cap)."
        ),
    ]
    question: Annotated[str, Meta(description="What to ask about the audio (not blank).")]
    temperature: Annotated[float, Meta(ge=0.0, le=2.0)] = 0.2
    max_tokens: Annotated[int, Meta(ge=1)] = 500
    top_p: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.95
    stream: bool = False
    """Answer as server-sent events: `delta` events, then one `done` event with the full response."""


class AudioFileSummary(msgspec.Struct, kw_only=True):
    index: int
    audio_duration_seconds: float


class UnderstandResponse(msgspec.Struct, kw_only=True):
    answer: str
    model: str
    finish_reason: str | None
    usage: TokenUsage | None
    processing_time_ms: float
    audio_duration_seconds: float
    audio_files: list[AudioFileSummary]


class AnswerDeltaEvent(msgspec.Struct, kw_only=True):
    """The data of one `delta` server-sent event."""

    text: str
