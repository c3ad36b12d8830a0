"""The long-lived objects of one worker process, built and torn down by the app's lifespan."""

from __future__ import annotations

import time

from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.backends import SpeechBackend, create_backend
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.services.batch import BatchService
from voxtral_gateway.services.transcription import TranscriptionService
from voxtral_gateway.services.understanding import UnderstandingLimits, UnderstandingService
from voxtral_gateway.settings import Settings


class Runtime:
    """What request handlers need: settings, the backend, the pools and the services on top."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.started_at = time.monotonic()
        self.backend: SpeechBackend = create_backend(settings)
        self.decode_pool = CpuPool("decode", settings.decode_workers, settings.cpu_queue_limit)
        self.audio_limits = AudioLimits(
            max_bytes=settings.max_file_size_bytes,
            max_duration_seconds=settings.max_audio_duration_seconds,
        )
        self.transcription = TranscriptionService(self.backend, self.decode_pool, self.audio_limits)
        self.understanding = UnderstandingService(
            self.backend,
            self.transcription,
            UnderstandingLimits(
                max_total_seconds=settings.understanding_max_total_seconds,
                max_total_bytes=settings.max_request_size_bytes,
                max_question_chars=settings.understanding_max_question_chars,
                max_tokens=settings.understanding_max_tokens_limit,
            ),
        )
        self.batch = BatchService(
            self.transcription,
            max_files=settings.batch_max_files,
            max_total_bytes=settings.max_request_size_bytes,
            concurrency=settings.batch_concurrency,
        )

    async def start(self) -> None:
        await self.backend.start()

    async def close(self) -> None:
        await self.backend.close()
        self.decode_pool.shutdown()
