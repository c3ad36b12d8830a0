"""Types shared by several request and response schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

LanguageCode = Literal["en", "es", "fr", "pt", "hi", "de", "nl", "it"]
SUPPORTED_LANGUAGES: tuple[str, ...] = LanguageCode.__args__

AudioFormat = Literal["mp3", "wav", "flac", "m4a", "mp4", "aac", "ogg", "oga", "opus", "webm", "mka"]
"""What a client may declare; it is a hint, the real container is sniffed from the bytes."""

Temperature = Annotated[
    float, Meta(ge=0.0, le=2.0, description="Sampling temperature, 0.0–2.0; 0.0 is deterministic.")
]
