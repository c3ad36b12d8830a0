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

    # --- webhook deliveries: apart from the job workers, by due time --------------------------------
    # A finished job whose webhook is pending is scheduled (`finish` and `cancel` do it in the same step);
    # a deliverer claims the delivery due soonest, makes one attempt and records it, which either
    # settles the delivery or makes it due again after the backoff.

    async def schedule_webhook(self, job_id: str, due: float) -> None:
        """Make a finished job's pending webhook due at `due` (unix time); nothing happens when it is
        already scheduled, not pending, or the job is not finished."""
        ...

    async def claim_webhook(self, now: float, lease_seconds: float) -> JobRecord | None:
        """The job whose webhook is due soonest, if one is due by `now`, claimed: it is not due again for
        `lease_seconds` (if its deliverer dies, another takes it over then). Deliveries of jobs that have
        expired are dropped on the way."""
        ...

    async def record_webhook(
        self, job_id: str, seen_attempts: int, state: WebhookState, retry_at: float | None
    ) -> bool:
        """Record one attempt of a claimed delivery: `webhook_attempts` becomes `seen_attempts + 1` and the
        state `state`; `pending` with `retry_at` makes it due again then, anything else unschedules it.
        False, and nothing written, when another deliverer recorded an attempt since `seen_attempts` was
        read (this claim's lease had run out) or the job is gone."""
        ...

    async def release_webhook(self, job_id: str, due: float) -> None:
        """Give a claimed delivery back (its deliverer is stopping): due at `due`, if still scheduled."""
        ...

    async def keep_claim(self, delivery: Delivery, consumer: str) -> bool:
        """Renew the worker's claim (before the visibility timeout); False when another worker has it."""
        ...

    async def requeue(self, delivery: Delivery) -> None:
        """Put the job back at the end of the queue (its owner runs its maximum already)."""
        ...

    async def acknowledge(self, delivery: Delivery) -> None: ...
