"""The job queue both engines implement: Redis Streams (durable, shared) and in process (neither)."""

from __future__ import annotations

from typing import Protocol

from voxtral_gateway.store.blobs import BlobStore
from voxtral_gateway.store.records import Delivery, JobError, JobRecord, JobSpec, StartOutcome, WebhookState


class StoreUnavailable(Exception):
    """The job store could not be reached (Redis down); nothing was written."""


class QueueFull(Exception):
    """Refused: the owner's queued jobs (`per_owner` true) or the whole queue is at its limit."""

    def __init__(self, limit: int, per_owner: bool):
        super().__init__(f"{limit} jobs already queued")
        self.limit = limit
        self.per_owner = per_owner


class JobQueue(Protocol):
    durable: bool
    """True when jobs survive a restart of this process (they are in Redis)."""
    kind: str
    blobs: BlobStore

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def submit(self, spec: JobSpec, max_queued: int) -> None:
        """Record the job as queued and hand it to the workers. Raises QueueFull, StoreUnavailable."""
        ...

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def result(self, job_id: str) -> bytes | None:
        """The encoded result of a completed job."""
        ...

    async def owned(self, owner: str, limit: int, before: float | None) -> list[JobRecord]:
        """The owner's jobs, newest first, created before `before` (unix time) when given."""
        ...

    async def cancel(self, job_id: str, now: float) -> bool:
        """Mark a job that has not finished as cancelled; False when it had already finished."""
        ...

    async def next_delivery(self, consumer: str, block_seconds: float) -> Delivery | None:
        """A job for `consumer` to run: one left by a dead worker first, else a new one (waits up to
        `block_seconds`). Raises StoreUnavailable."""
        ...

    async def start_run(self, delivery: Delivery, max_running: int, now: float) -> StartOutcome: ...

    async def progress(self, job_id: str, done: int, total: int) -> None: ...

    async def finish(
        self, job_id: str, now: float, *, result: bytes | None = None, error: JobError | None = None
    ) -> bool:
        """Completed (with `result`) or failed (with `error`), once: False when already finished (another
        worker's run of the same job got there first, or it was cancelled)."""
        ...

    async def set_webhook(self, job_id: str, state: WebhookState, attempts: int) -> None: ...

    async def keep_claim(self, delivery: Delivery, consumer: str) -> bool:
        """Renew the worker's claim (before the visibility timeout); False when another worker has it."""
        ...

    async def requeue(self, delivery: Delivery) -> None:
        """Put the job back at the end of the queue (its owner runs its maximum already)."""
        ...

    async def acknowledge(self, delivery: Delivery) -> None: ...
