"""Mistral's side of `/v1/models`: the model card's capability flags (the card itself is shared)."""

from __future__ import annotations

from voxtral_gateway.schemas.mistral import AudioTranscriptionCapabilities, ModelCapabilities
from voxtral_gateway.services.language import SUPPORTED_LANGUAGES
from voxtral_gateway.services.models import ServedModel


def capabilities(model: ServedModel) -> ModelCapabilities:
    return ModelCapabilities(completion_chat=model.chat, audio=model.chat)


def transcription_capabilities() -> AudioTranscriptionCapabilities:
    """Offline transcription with segment timestamps; no diarization, `context_bias` ignored."""
    return AudioTranscriptionCapabilities(
        modes=["offline"], timestamp_granularities=["segment"], languages=list(SUPPORTED_LANGUAGES)
    )
