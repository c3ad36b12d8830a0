"""The jobs use case as the API sees it: submit, read (status, result, the caller's list), cancel.

Every read is scoped to the caller: a job that belongs to someone else is "not found"."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import msgspec
import structlog

from voxtral_gateway.errors import (
    InvalidRequest,
    JobNotFound,
    JobStateConflict,
    JobsUnavailable,
    TooManyJobs,
)
from voxtral_gateway.observability.job_metrics import JOBS_FINISHED, JOBS_SUBMITTED
from voxtral_gateway.services.jobs.signing import new_secret, secret_problem
from voxtral_gateway.services.transcription import TranscriptionResult, TranscriptionService
from voxtral_gateway.store import (
    BlobStore,
    JobQueue,
    JobRecord,
    JobSpec,
    QueueFull,
    StoreUnavailable,
    WebhookTarget,
)

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
_result_decoder = msgspec.json.Decoder(TranscriptionResult)


class JobSubmission(msgspec.Struct, frozen=True, kw_only=True):
    """A transcription to run later: an upload (`audio`) or a `file_url`, its options, a webhook."""

    owner: str
    model: str
    audio: bytes | None = None
    file_url: str | None = None
    filename: str | None = None
    language: str | None = None
    temperature: float = 0.0
    response_format: str = "json"
    webhook_url: str | None = None
    webhook_secret: str | None = None


class SubmittedJob(msgspec.Struct, frozen=True, kw_only=True):
    record: JobRecord
    generated_secret: str | None
    """The webhook secret made for this job when none was given or configured (shown only now)."""


class JobLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_queued_per_owner: int
    default_webhook_secret: str | None = None


class JobService:
    def __init__(self, queue: JobQueue, transcription: TranscriptionService, limits: JobLimits):
        """Raises ValueError when JOBS_WEBHOOK_SECRET is set and cannot sign (start-up fails, naming it)."""
        default_secret = limits.default_webhook_secret
        if default_secret is not None and (problem := secret_problem(default_secret)) is not None:
            raise ValueError(f"JOBS_WEBHOOK_SECRET {problem}")
        self.queue = queue
        self._transcription = transcription
        self._limits = limits

    problem: str | None = None
    """Why jobs cannot be accepted (the blob directory is not writable), found by `start`."""

    @property
    def durable(self) -> bool:
        return self.queue.durable

    async def start(self) -> None:
        """Connect the queue (Redis being down is not fatal: it is retried) and check the blob store."""
        await self.queue.start()
        self.problem = await self.queue.blobs.problem()
        if self.problem is not None:
            log.error("jobs_blob_store_unusable", problem=self.problem)

    async def submit(self, submission: JobSubmission) -> SubmittedJob:
        """Store the upload and queue the job. Raises InvalidRequest (422), TooManyJobs (429: the owner's
        queued jobs are at JOBS_MAX_QUEUED_PER_KEY), JobsUnavailable (503: Redis down or, in process,
        the queue full); when it raises, nothing was queued."""
        if (submission.audio is None) == (submission.file_url is None):
            raise InvalidRequest("send exactly one of `file` (an upload) and `file_url`", field="file")
        self._transcription.check_language(submission.language)
        webhook, generated = self._webhook(submission)
        spec = JobSpec(
            id=f"job_{uuid.uuid4().hex}",
            owner=submission.owner,
            created_at=time.time(),
            model=submission.model,
            language=submission.language,
            temperature=submission.temperature,
            response_format=submission.response_format,
            file_url=submission.file_url,
            filename=submission.filename,
            webhook=webhook,
        )
        blobs = self.queue.blobs
        try:
            if submission.audio is not None:
                await blobs.put(spec.id, submission.audio)
            await self.queue.submit(spec, self._limits.max_queued_per_owner)
        except QueueFull as exc:
            await _quietly_delete(blobs, spec.id)
            if exc.per_owner:
                raise TooManyJobs(
                    f"{exc.limit} jobs of this caller are already queued (JOBS_MAX_QUEUED_PER_KEY); "
                    "submit more when some have started",
                    headers={"Retry-After": "5"},
                    details={"limit": exc.limit},
                ) from None
            raise JobsUnavailable(
                f"the job queue of this gateway is full ({exc.limit} jobs, JOBS_QUEUE_LIMIT)",
                retry_after_seconds=5,
            ) from None
        except OSError as exc:
            await _quietly_delete(blobs, spec.id)
            raise JobsUnavailable(
                f"the upload cannot be stored: {exc.strerror or exc} (JOBS_BLOB_DIR)", retry_after_seconds=30
            ) from None
        except StoreUnavailable as exc:
            await _quietly_delete(blobs, spec.id)
            raise JobsUnavailable(f"jobs cannot be queued now: {exc}", retry_after_seconds=2) from None
        JOBS_SUBMITTED.inc()
        record = await self._get(spec.id)
        return SubmittedJob(record=record, generated_secret=generated)

    def _webhook(self, submission: JobSubmission) -> tuple[WebhookTarget | None, str | None]:
        if submission.webhook_url is None:
            if submission.webhook_secret is not None:
                raise InvalidRequest("`webhook_secret` needs a `webhook_url`", field="webhook_secret")
            return None, None
        secret = submission.webhook_secret or self._limits.default_webhook_secret
        generated = None
        if secret is None:
            secret = generated = new_secret()
        problem = secret_problem(secret)
        if problem is not None:
            raise InvalidRequest(f"webhook_secret {problem}", field="webhook_secret")
        return WebhookTarget(url=submission.webhook_url, secret=secret), generated

    async def status(self, owner: str, job_id: str) -> JobRecord:
        """The caller's job. Raises JobNotFound (404), JobsUnavailable (503)."""
        record = await self._get(job_id)
        if record.spec.owner != owner:
            raise _not_found(job_id)
        return record

    async def result(self, owner: str, job_id: str) -> tuple[JobRecord, TranscriptionResult]:
        """A completed job's transcription. Raises JobNotFound, JobStateConflict (409: not completed)."""
        record = await self.status(owner, job_id)
        if record.state.status != "completed":
            raise JobStateConflict(
                f"job {job_id} is {record.state.status}; its result exists once it is completed",
                field="job_id",
                details={"status": record.state.status},
            )
        encoded = await _stored(self.queue.result(job_id))
        if encoded is None:
            raise _not_found(job_id)
        return record, _result_decoder.decode(encoded)

    async def owned(self, owner: str, limit: int, before: float | None = None) -> list[JobRecord]:
        """The caller's jobs, newest first (at most `limit`, created before `before` when given)."""
        return await _stored(self.queue.owned(owner, limit, before))

    async def cancel(self, owner: str, job_id: str) -> JobRecord:
        """Cancel a queued or running job (a running one stops at its next check, within seconds).
        Raises JobNotFound, JobStateConflict (409: it had already finished)."""
        record = await self.status(owner, job_id)
        if not await _stored(self.queue.cancel(job_id, time.time())):
            raise JobStateConflict(
                f"job {job_id} has already finished ({(await self._get(job_id)).state.status})",
                field="job_id",
            )
        JOBS_FINISHED.labels("cancelled").inc()
        return await self._get(record.id)

    async def _get(self, job_id: str) -> JobRecord:
        record = await _stored(self.queue.get(job_id))
        if record is None:
            raise _not_found(job_id)
        return record


def _not_found(job_id: str) -> JobNotFound:
    return JobNotFound(f"no job {job_id!r} (jobs are kept for JOBS_TTL_SECONDS)", field="job_id")


async def _stored(call: Awaitable[_T]) -> _T:
    try:
        return await call
    except StoreUnavailable as exc:
        raise JobsUnavailable(f"the job store cannot be reached now: {exc}", retry_after_seconds=2) from None


async def _quietly_delete(blobs: BlobStore, key: str) -> None:
    with contextlib.suppress(OSError):
        await blobs.delete(key)
