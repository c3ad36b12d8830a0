"""Types shared by several request and response schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from voxtral_gateway.services.language import SUPPORTED_LANGUAGES, LanguageCode

__all__ = ["SUPPORTED_LANGUAGES", "AudioFormat", "LanguageCode", "Temperature"]

AudioFormat = Literal["mp3", "wav", "flac", "m4a", "mp4", "aac", "ogg", "oga", "opus", "webm", "mka"]
"""What a client may declare; it is a hint, the real container is sniffed from the bytes."""

Temperature = Annotated[
    float, Meta(ge=0.0, le=2.0, description="Sampling temperature, 0.0–2.0; 0.0 is deterministic.")
]
