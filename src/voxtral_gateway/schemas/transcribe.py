"""POST /transcribe/ request and response."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from voxtral_gateway.schemas.common import AudioFormat, LanguageCode, Temperature


class TranscribeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    audio_file: Annotated[
        bytes, Meta(description="The audio file, standard padded base64 (no `data:` prefix).")
    ]
    format: AudioFormat | None = None
    """Declared container; a hint only: the real container is detected from the bytes."""
    language: LanguageCode | None = None
    """Language spoken; omit it and the model detects it."""
    temperature: Temperature = 0.0


class TranscribeResponse(msgspec.Struct, kw_only=True):
    transcription: str
    language_detected: str | None
    """The requested language, else the one the model or a language identifier found."""
    confidence: float | None
    """Mean token probability from the model (0–1); null where the backend does not expose it."""
    processing_time_ms: float
    audio_duration_seconds: float
