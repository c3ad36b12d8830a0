"""The job workers of one gateway process: take a job from the queue, transcribe it (reporting progress),
write its result once, make its webhook due, and only then acknowledge it. The webhook itself is delivered
by the `WebhookDispatcher`, so a worker is free for the next job as soon as the outcome is written.

While a worker holds a job it renews its claim every few seconds; if it dies, the claim lapses and
another worker (on any instance) takes the job over after JOBS_VISIBILITY_TIMEOUT_SECONDS. So a job runs
at least once, its result is written once (the first run to finish wins) and its webhook is scheduled
before the job leaves the queue."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from contextlib import suppress

import msgspec
import structlog

from voxtral_gateway.errors import GatewayError, Overloaded, UpstreamError, UpstreamRejected
from voxtral_gateway.fetching import UrlFetcher
from voxtral_gateway.observability.job_metrics import (
    JOB_DURATION,
    JOBS_FINISHED,
    JOBS_RUNNING,
    JOBS_TAKEN_OVER,
)
from voxtral_gateway.services.transcription import (
    AudioFile,
    SegmentDone,
    TranscriptionDone,
    TranscriptionOptions,
    TranscriptionResult,
    TranscriptionService,
)
from voxtral_gateway.store import Delivery, JobError, JobQueue, JobRecord, StoreUnavailable

log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()
_STORE_RETRY_SECONDS = 1.0


class RunnerPolicy(msgspec.Struct, frozen=True, kw_only=True):
    workers: int = 2
    max_running_per_owner: int = 4
    visibility_timeout_seconds: float = 60.0
    max_attempts: int = 3
    """Runs of a job failing for a passing reason (the model unavailable, overloaded) before it fails."""
    retry_pause_seconds: float = 2.0
    poll_seconds: float = 2.0
    """How long one wait for a new job blocks (also how often dead workers' jobs are looked for)."""

    @property
    def renew_seconds(self) -> float:
        """Claims are renewed three times per visibility timeout (and checked for cancellation)."""
        return min(self.visibility_timeout_seconds / 3, 5.0)


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        transcription: TranscriptionService,
        fetcher: UrlFetcher,
        policy: RunnerPolicy,
        draining: asyncio.Event | None = None,
        webhook_due: Callable[[], None] = lambda: None,
    ):
        """`webhook_due` is called when a job finished here has a webhook to deliver (it wakes the
        deliverers)."""
        self._draining = draining or asyncio.Event()
        self._queue = queue
        self._transcription = transcription
        self._fetcher = fetcher
        self._webhook_due = webhook_due
        self.policy = policy
        self._tasks: list[asyncio.Task[None]] = []
        self.busy = 0
        """Jobs this process is working on now."""

    def start(self) -> None:
        base = f"{socket.gethostname()}:{os.getpid()}"
        self._tasks = [
            asyncio.create_task(self._work(f"{base}:{n}"), name=f"voxtral-job-worker-{n}")
            for n in range(self.policy.workers)
        ]

    async def close(self) -> None:
        """Stop the workers. A job in flight goes back to the queue (with Redis another instance takes
        it at once; if even that fails, after the visibility timeout)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _work(self, consumer: str) -> None:
        while not self._draining.is_set():  # a draining worker (SIGTERM) takes no new job
            try:
                delivery = await self._queue.next_delivery(consumer, self.policy.poll_seconds)
                if delivery is not None:
                    await self._handle(delivery, consumer)
            except StoreUnavailable as exc:
                log.warning("jobs_store_unavailable", consumer=consumer, error=str(exc))
                await asyncio.sleep(_STORE_RETRY_SECONDS)
            except Exception:  # a worker must outlive any one job's surprise
                log.exception("job_worker_error", consumer=consumer)
                await asyncio.sleep(_STORE_RETRY_SECONDS)

    async def _handle(self, delivery: Delivery, consumer: str) -> None:
        outcome = await self._queue.start_run(delivery, self.policy.max_running_per_owner, time.time())
        if outcome == "wait":  # the owner runs its maximum already: back of the queue
            await self._queue.requeue(delivery)
            await asyncio.sleep(self.policy.poll_seconds / 4)
            return
        if outcome == "gone":  # its record expired (JOBS_TTL_SECONDS): its upload goes too
            await self._queue.blobs.delete(delivery.job_id)
            await self._queue.acknowledge(delivery)
            return
        if delivery.claimed:
            JOBS_TAKEN_OVER.inc()
        control = _RunControl()
        self.busy += 1
        work = asyncio.ensure_future(self._settle(delivery, outcome == "run", control))
        watcher = asyncio.ensure_future(self._keep_claim(delivery, consumer, work, control))
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                await self._hand_back(delivery)
                raise
            log.warning("job_claim_lost", job_id=delivery.job_id, consumer=consumer)
        finally:
            self.busy -= 1
            watcher.cancel()
            with suppress(asyncio.CancelledError):
                await watcher

    async def _hand_back(self, delivery: Delivery) -> None:
        """The runner is closing mid-job: requeue the job so another worker need not wait for the
        visibility timeout (a finished job's outcome is kept: the next worker only settles it)."""
        try:
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._queue.requeue(delivery))
            log.info("job_handed_back", job_id=delivery.job_id)
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning("job_not_handed_back", job_id=delivery.job_id, error=str(exc))

    async def _settle(self, delivery: Delivery, run: bool, control: _RunControl) -> None:
        """Run the job (unless it finished already), make its webhook due if pending, acknowledge."""
        job_id = delivery.job_id
        if run:
            await self._run(job_id, control)
        record = await self._queue.get(job_id)
        if record is not None and record.finished and record.state.webhook_state == "pending":
            # Finishing scheduled it already; this covers a job finished by a gateway that delivered
            # webhooks in its job workers (a rolling upgrade): it keeps a scheduled delivery's time.
            await self._queue.schedule_webhook(job_id, time.time())
            self._webhook_due()
        if record is None or record.finished:
            await self._queue.blobs.delete(job_id)
            await self._queue.acknowledge(delivery)

    async def _run(self, job_id: str, control: _RunControl) -> None:
        record = await self._queue.get(job_id)
        if record is None:
            return
        log.info("job_started", job_id=job_id, attempt=record.state.attempts)
        transcription = asyncio.ensure_future(self._transcribe_with_retries(record))
        control.transcription = transcription
        started = time.monotonic()
        JOBS_RUNNING.inc()
        try:
            outcome = await self._outcome(job_id, transcription)
        finally:
            JOBS_RUNNING.dec()
        if outcome is not None:
            JOB_DURATION.observe(time.monotonic() - started)
            await self._finish(job_id, result=outcome[0], error=outcome[1])

    async def _outcome(
        self, job_id: str, transcription: asyncio.Future[TranscriptionResult]
    ) -> tuple[bytes | None, JobError | None] | None:
        """The job's result or error to write; None when the job was cancelled while it ran."""
        try:
            result = await transcription
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            log.info("job_cancelled_while_running", job_id=job_id)
            return None
        except GatewayError as exc:
            return None, _job_error(exc)
        except Exception as exc:
            log.exception("job_crashed", job_id=job_id)
            message = f"the job failed: {type(exc).__name__}"
            return None, JobError(code="internal_error", message=message, status=500)
        return _encoder.encode(result), None

    async def _finish(
        self, job_id: str, *, result: bytes | None = None, error: JobError | None = None
    ) -> None:
        """Write the outcome, retrying while the store is unreachable: a finished job is never dropped."""
        while True:
            try:
                won = await self._queue.finish(job_id, time.time(), result=result, error=error)
                break
            except StoreUnavailable as exc:
                log.warning("job_finish_waits_for_store", job_id=job_id, error=str(exc))
                await asyncio.sleep(_STORE_RETRY_SECONDS)
        status = "completed" if result is not None else "failed"
        if won:
            JOBS_FINISHED.labels(status).inc()
        log.info("job_finished", job_id=job_id, status=status, written=won)

    async def _transcribe_with_retries(self, record: JobRecord) -> TranscriptionResult:
        attempts = self.policy.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._transcribe(record)
            except UpstreamRejected:
                raise
            except (UpstreamError, Overloaded) as exc:
                if attempt == attempts:
                    raise
                pause = self.policy.retry_pause_seconds * attempt
                log.warning("job_retry", job_id=record.id, attempt=attempt, error=exc.message, pause=pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _transcribe(self, record: JobRecord) -> TranscriptionResult:
        spec = record.spec
        if spec.file_url is not None:
            fetched = await self._fetcher.fetch(spec.file_url, field="file_url")
            file = AudioFile(data=fetched.data, declared_format=None, field="file_url")
        else:
            data = await self._queue.blobs.get(spec.id)
            if data is None:
                raise GatewayError(
                    f"the upload of job {spec.id} is missing from the blob store (JOBS_BLOB_DIR)"
                )
            file = AudioFile(data=data, declared_format=None, field="file")
        options = TranscriptionOptions(language=spec.language, temperature=spec.temperature)
        async for event in self._transcription.transcribe_events(file, options):
            if isinstance(event, SegmentDone):
                with suppress(StoreUnavailable):  # progress is a courtesy; the result is what matters
                    await self._queue.progress(spec.id, event.index + 1, event.count)
            elif isinstance(event, TranscriptionDone):
                return event.result
        raise AssertionError("transcribe_events ends with TranscriptionDone")

    async def _keep_claim(
        self, delivery: Delivery, consumer: str, work: asyncio.Future[None], control: _RunControl
    ) -> None:
        """Renew the claim; stop the work if another worker has taken the job over, and stop its
        transcription if the job was cancelled."""
        while True:
            await asyncio.sleep(self.policy.renew_seconds)
            try:
                if not await self._queue.keep_claim(delivery, consumer):
                    work.cancel()
                    return
                record = await self._queue.get(delivery.job_id)
            except StoreUnavailable as exc:
                log.warning("job_claim_not_renewed", job_id=delivery.job_id, error=str(exc))
                continue
            running = control.transcription
            if record is not None and record.state.status == "cancelled" and running and not running.done():
                running.cancel()


def _job_error(exc: GatewayError) -> JobError:
    return JobError(code=exc.code, message=exc.message, status=exc.effective_status, field=exc.field)


class _RunControl:
    """What the claim keeper may stop: the transcription of the job (on cancellation)."""

    def __init__(self) -> None:
        self.transcription: asyncio.Future[TranscriptionResult] | None = None
