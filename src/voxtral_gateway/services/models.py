"""Which model names a request may ask for: the one the backend serves (and, for transcription in
OpenAI's dialect, `whisper-1`)."""

from __future__ import annotations

from collections.abc import Sequence

from voxtral_gateway.backends import SpeechBackend
from voxtral_gateway.errors import ModelNotFound

WHISPER_ALIAS = "whisper-1"
"""Accepted for transcription so scripts written for OpenAI's Whisper work unchanged."""


def served_model_ids(backend: SpeechBackend) -> list[str]:
    return [backend.model_name]


def check_model(backend: SpeechBackend, model: str, aliases: Sequence[str] = ()) -> None:
    """Refuse (404 naming `model`) a model that is neither served nor one of `aliases`."""
    allowed = served_model_ids(backend) + list(aliases)
    if model not in allowed:
        raise ModelNotFound(
            f"The model `{model}` does not exist or is not served here; use one of: {', '.join(allowed)}",
            field="model",
        )
