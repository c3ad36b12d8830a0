"""Speech engines behind one interface: `vllm` (Voxtral over HTTP) and `embedded` (faster-whisper)."""

from voxtral_gateway.backends.base import (
    BackendHealth,
    SpeechBackend,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
    TranscriptSegment,
)
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.settings import Settings


def create_backend(settings: Settings, cpu_pool: CpuPool) -> SpeechBackend:
    """The backend the settings select (BACKEND, else vLLM when a server is named), given its groups;
    `cpu_pool` builds vLLM's request bodies."""
    if settings.resolved_backend == "vllm":
        from voxtral_gateway.backends.pool import VLLMPool

        return VLLMPool(
            settings.vllm, settings.timeouts, cpu_pool
        )  # one vLLM server or several (VOXTRAL_BACKENDS)
    from voxtral_gateway.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.embedded, cpu_queue_limit=settings.work.cpu_queue_limit)


__all__ = [
    "BackendHealth",
    "SpeechBackend",
    "Transcript",
    "TranscriptDelta",
    "TranscriptSegment",
    "TranscriptionOptions",
    "create_backend",
]
