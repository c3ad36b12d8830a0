"""Speech engines behind one interface: `vllm` (Voxtral over HTTP) and `embedded` (faster-whisper)."""

from voxtral_gateway.backends.base import (
    BackendHealth,
    SpeechBackend,
    Transcript,
    TranscriptionOptions,
    TranscriptSegment,
)
from voxtral_gateway.settings import Settings


def create_backend(settings: Settings) -> SpeechBackend:
    """The backend the settings select."""
    if settings.resolved_backend == "vllm":
        from voxtral_gateway.backends.pool import VLLMPool

        return VLLMPool(settings)  # one vLLM server or several (VOXTRAL_BACKENDS)
    from voxtral_gateway.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings)


__all__ = [
    "BackendHealth",
    "SpeechBackend",
    "Transcript",
    "TranscriptSegment",
    "TranscriptionOptions",
    "create_backend",
]
