"""The long-lived objects of one worker process, built and torn down by the app's lifespan."""

from __future__ import annotations

import time

from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.backends import SpeechBackend, create_backend
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.lifecycle import ShutdownCoordinator
from voxtral_gateway.memory import tune_allocator
from voxtral_gateway.observability.metrics import worker_exiting
from voxtral_gateway.ratelimit import AccessControl
from voxtral_gateway.services.admission import AdmissionGate, AdmissionLimits
from voxtral_gateway.services.batch import BatchService
from voxtral_gateway.services.guarded_backend import GuardedBackend
from voxtral_gateway.services.live import LiveCollaborators, LiveTranscription
from voxtral_gateway.services.transcription import SegmentPolicy, TranscriptionService
from voxtral_gateway.services.understanding import UnderstandingLimits, UnderstandingService
from voxtral_gateway.settings import Settings
from voxtral_gateway.streaming import stream_config


class Runtime:
    """What request handlers need: settings, the backend, the pools and the services on top."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.started_at = time.monotonic()
        self.started_wall_time = time.time()
        # API keys, client identity and rate limits (AccessMiddleware; WebSockets call stream_slot).
        self.access = AccessControl.from_settings(settings)
        # SIGTERM handling; `shutting_down` is set when draining starts (streams end gracefully on it).
        self.shutdown = ShutdownCoordinator(settings.shutdown_timeout_seconds)
        self.shutting_down = self.shutdown.draining
        # The engine (vLLM pool or embedded) behind admission control, measured (services/guarded_backend.py).
        self.admission = AdmissionGate(
            AdmissionLimits(
                max_in_flight=settings.admission_max_in_flight,
                queue_limit=settings.admission_queue_limit,
                max_wait_seconds=settings.admission_max_wait_seconds,
            )
        )
        self.backend: SpeechBackend = GuardedBackend(create_backend(settings), self.admission)
        self.decode_pool = CpuPool(
            "decode", settings.decode_workers, settings.cpu_queue_limit, metric="decode"
        )
        self.audio_limits = AudioLimits(
            max_bytes=settings.max_file_size_bytes,
            max_duration_seconds=settings.max_audio_duration_seconds,
        )
        self.transcription = TranscriptionService(
            self.backend,
            self.decode_pool,
            self.audio_limits,
            SegmentPolicy(
                max_seconds=settings.segment_max_seconds,
                search_seconds=settings.segment_search_seconds,
                concurrency=settings.segment_concurrency,
                retries=settings.segment_retries,
            ),
        )
        self.live = LiveTranscription(
            LiveCollaborators(
                backend=self.backend,
                cpu_pool=self.decode_pool,
                audio_limits=self.audio_limits,
                check_language=self.transcription.check_language,
                language_of=self.transcription.language_of,
            ),
            stream_config(settings),
        )
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
        tune_allocator()
        self.shutdown.install_signal_handler()
        await self.access.start()
        await self.backend.start()

    async def close(self) -> None:
        await self.shutdown.close()
        await self.access.close()
        await self.backend.close()
        self.decode_pool.shutdown()
        worker_exiting()
