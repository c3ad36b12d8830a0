"""The long-lived objects of one worker process, built and torn down by the app's lifespan."""

from __future__ import annotations

import time

from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.backends import SpeechBackend, create_backend
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.fetching import UrlFetchConfig, UrlFetcher
from voxtral_gateway.memory import tune_allocator
from voxtral_gateway.observability.metrics import worker_exiting
from voxtral_gateway.ratelimit import AccessControl
from voxtral_gateway.runtime.shutdown import ShutdownCoordinator
from voxtral_gateway.services.admission import AdmissionGate
from voxtral_gateway.services.batch import BatchService
from voxtral_gateway.services.guarded_backend import GuardedBackend
from voxtral_gateway.services.health import HealthService, JobsSnapshot
from voxtral_gateway.services.jobs import (
    DispatchPolicy,
    JobLimits,
    JobRunner,
    JobService,
    RunnerPolicy,
    WebhookDispatcher,
    WebhookPolicy,
    WebhookSender,
    job_queue,
)
from voxtral_gateway.services.live import LiveCollaborators, LiveTranscription
from voxtral_gateway.services.live.config import StreamConfig, stream_config
from voxtral_gateway.services.models import ModelCatalog
from voxtral_gateway.services.transcription import SegmentPolicy, TranscriptionService
from voxtral_gateway.services.understanding import UnderstandingLimits, UnderstandingService
from voxtral_gateway.settings import Settings


class Runtime:
    """What request handlers need: the backend, the pools and the services on top, each built from its
    own settings group (the Settings object itself stays here)."""

    def __init__(self, settings: Settings):
        self.started_at = time.monotonic()
        self.started_wall_time = time.time()  # the models list's `created`
        limits, work = settings.limits, settings.work
        # API keys, client identity and rate limits (AccessMiddleware; WebSockets call stream_slot).
        self.access = AccessControl.from_settings(settings.rate_limits, settings.auth)
        # SIGTERM handling; `shutting_down` is set when draining starts (streams end gracefully on it).
        self.shutdown = ShutdownCoordinator(settings.server.shutdown_timeout_seconds)
        self.shutting_down = self.shutdown.draining
        # The engine (vLLM pool or embedded) behind admission control, measured (services/guarded_backend.py).
        self.admission = AdmissionGate(settings.admission)
        self.decode_pool = CpuPool("decode", work.decode_workers, work.cpu_queue_limit, metric="decode")
        self.backend: SpeechBackend = GuardedBackend(
            create_backend(settings, self.decode_pool), self.admission
        )
        self.audio_limits = AudioLimits(
            max_bytes=limits.max_file_size_bytes,
            max_duration_seconds=limits.max_audio_duration_seconds,
        )
        self.stream_config: StreamConfig = stream_config(settings.streaming)
        # The served model and its aliases (MODEL_ALIASES).
        self.models = ModelCatalog(self.backend, settings.models.alias_table)
        # Client-given URLs (`file_url`, webhooks) through the SSRF guard (URL_FETCH_*).
        url_fetch = settings.url_fetch
        self.url_fetcher = UrlFetcher(
            UrlFetchConfig(
                max_bytes=limits.max_file_size_bytes,
                allowlist=url_fetch.allowlist_entries,
                connect_timeout_seconds=url_fetch.connect_timeout_seconds,
                read_timeout_seconds=url_fetch.read_timeout_seconds,
                total_timeout_seconds=url_fetch.total_timeout_seconds,
                max_redirects=url_fetch.max_redirects,
            )
        )
        self.transcription = TranscriptionService(
            self.backend,
            self.decode_pool,
            self.audio_limits,
            SegmentPolicy(
                max_seconds=work.segment_max_seconds,
                search_seconds=work.segment_search_seconds,
                concurrency=work.segment_concurrency,
                share=work.segment_share,
                retries=work.segment_retries,
            ),
            fetcher=self.url_fetcher,
            spare=self.admission.has_spare,
        )
        self.live = LiveTranscription(
            LiveCollaborators(
                backend=self.backend,
                cpu_pool=self.decode_pool,
                audio_limits=self.audio_limits,
                check_language=self.transcription.check_language,
                language_of=self.transcription.language_of,
            ),
            self.stream_config,
        )
        self.understanding = UnderstandingService(
            self.backend,
            self.transcription,
            UnderstandingLimits(
                max_total_seconds=limits.understanding_max_total_seconds,
                max_total_bytes=limits.max_request_size_bytes,
                max_question_chars=limits.understanding_max_question_chars,
                max_tokens=limits.understanding_max_tokens,
            ),
            self.models,
        )
        self.batch = BatchService(
            self.transcription,
            max_files=limits.batch_max_files,
            max_total_bytes=limits.max_request_size_bytes,
            concurrency=work.batch_concurrency,
        )
        # Asynchronous jobs: Redis Streams shared by every instance (JOBS_REDIS_URL/REDIS_URL), else in process.
        jobs = settings.jobs
        queue = job_queue(jobs, settings.rate_limits.redis_url)
        self.jobs = JobService(
            queue,
            self.transcription,
            JobLimits(
                max_queued_per_owner=jobs.max_queued_per_key, default_webhook_secret=jobs.webhook_secret
            ),
        )
        # Webhooks are delivered apart from the job workers (JOBS_WEBHOOK_WORKERS attempts at once): a
        # receiver that fails or hangs delays only its own deliveries, never a transcription.
        self.webhooks = WebhookDispatcher(
            queue,
            WebhookSender(
                self.url_fetcher,
                WebhookPolicy(
                    max_attempts=jobs.webhook_max_attempts,
                    backoff_seconds=jobs.webhook_backoff_seconds,
                    backoff_max_seconds=jobs.webhook_backoff_max_seconds,
                ),
            ),
            DispatchPolicy(
                workers=jobs.webhook_workers,
                # A claim outlasts the longest attempt (the fetcher's whole-request limit).
                lease_seconds=url_fetch.total_timeout_seconds + jobs.visibility_timeout_seconds,
            ),
            draining=self.shutting_down,
        )
        self.job_runner = JobRunner(
            queue,
            self.transcription,
            self.url_fetcher,
            RunnerPolicy(
                workers=jobs.workers,
                max_running_per_owner=jobs.max_running_per_key,
                visibility_timeout_seconds=jobs.visibility_timeout_seconds,
                max_attempts=jobs.max_attempts,
            ),
            draining=self.shutting_down,
            webhook_due=self.webhooks.wake,
        )
        self.health = HealthService(
            self.backend,
            self.admission,
            self.started_at,
            jobs=lambda: JobsSnapshot(
                engine=queue.kind, durable=queue.durable, workers=jobs.workers, problem=self.jobs.problem
            ),
        )

    async def start(self) -> None:
        tune_allocator()
        self.shutdown.install_signal_handler()
        await self.access.start()
        await self.backend.start()
        await self.jobs.start()
        self.job_runner.start()
        self.webhooks.start()

    async def close(self) -> None:
        try:
            await self.shutdown.close()
            await self.job_runner.close()
            await self.webhooks.close()
            await self.jobs.queue.close()
            await self.url_fetcher.close()
            await self.access.close()
            await self.backend.close()
            self.decode_pool.shutdown()
            worker_exiting()
        finally:
            self.shutdown.give_back_signal()
