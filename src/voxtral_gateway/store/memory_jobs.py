"""Jobs in this process: a bounded asyncio queue and dictionaries. Nothing survives a restart.

Webhook deliveries wait in a dictionary of due times, one entry at most per job held (so it is bounded by
the jobs this process keeps), claimed and recorded as the Redis engine does."""

from __future__ import annotations

import asyncio
import itertools
import time

import msgspec

from voxtral_gateway.store.blobs import MemoryBlobStore
from voxtral_gateway.store.job_queue import QueueFull
from voxtral_gateway.store.records import (
    Delivery,
    JobError,
    JobRecord,
    JobSpec,
    JobState,
    StartOutcome,
    WebhookState,
)


class InProcessJobQueue:
    """The `JobQueue` of a gateway without Redis: one per worker process, `queue_limit` jobs waiting."""

    durable = False
    kind = "in_process"

    def __init__(self, queue_limit: int, ttl_seconds: float):
        self.blobs = MemoryBlobStore()
        self._ttl = ttl_seconds
        self._limit = queue_limit
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._records: dict[str, JobRecord] = {}
        self._results: dict[str, bytes] = {}
        self._running: dict[str, set[str]] = {}
        self._webhooks_due: dict[str, float] = {}
        """Finished jobs whose webhook is pending, by when its next attempt is due (unix time)."""
        self._sequence = itertools.count(1)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _expire(self) -> None:
        cutoff = time.time() - self._ttl
        for job_id in [i for i, r in self._records.items() if r.finished and r.state.updated_at < cutoff]:
            del self._records[job_id]
            self._results.pop(job_id, None)
            self._webhooks_due.pop(job_id, None)

    def _update(self, job_id: str, **changes: object) -> None:
        record = self._records[job_id]
        state = msgspec.structs.replace(record.state, **changes)
        self._records[job_id] = JobRecord(spec=record.spec, state=state)

    async def submit(self, spec: JobSpec, max_queued: int) -> None:
        self._expire()
        if self._queue.qsize() >= self._limit:
            raise QueueFull(self._limit, per_owner=False)
        queued = sum(
            1 for r in self._records.values() if r.spec.owner == spec.owner and r.state.status == "queued"
        )
        if queued >= max_queued:
            raise QueueFull(max_queued, per_owner=True)
        webhook: WebhookState = "pending" if spec.webhook else "none"
        self._records[spec.id] = JobRecord(
            spec=spec, state=JobState(status="queued", updated_at=spec.created_at, webhook_state=webhook)
        )
        self._queue.put_nowait(Delivery(job_id=spec.id, message_id=str(next(self._sequence))))

    async def get(self, job_id: str) -> JobRecord | None:
        return self._records.get(job_id)

    async def result(self, job_id: str) -> bytes | None:
        return self._results.get(job_id)

    async def owned(self, owner: str, limit: int, before: float | None) -> list[JobRecord]:
        self._expire()
        mine = [
            r
            for r in self._records.values()
            if r.spec.owner == owner and (before is None or r.spec.created_at < before)
        ]
        mine.sort(key=lambda r: r.spec.created_at, reverse=True)
        return mine[:limit]

    async def cancel(self, job_id: str, now: float) -> bool:
        record = self._records.get(job_id)
        if record is None or record.finished:
            return False
        self._update(job_id, status="cancelled", finished_at=now, updated_at=now)
        self._running.get(record.spec.owner, set()).discard(job_id)
        self._schedule(job_id, now)
        return True

    async def next_delivery(self, consumer: str, block_seconds: float) -> Delivery | None:
        try:
            return await asyncio.wait_for(self._queue.get(), block_seconds)
        except TimeoutError:
            return None

    async def start_run(self, delivery: Delivery, max_running: int, now: float) -> StartOutcome:
        record = self._records.get(delivery.job_id)
        if record is None:
            return "gone"
        if record.finished:
            return "finished"
        running = self._running.setdefault(record.spec.owner, set())
        if delivery.job_id not in running and len(running) >= max_running:
            return "wait"
        running.add(delivery.job_id)
        self._update(
            delivery.job_id,
            status="running",
            started_at=now,
            updated_at=now,
            attempts=record.state.attempts + 1,
        )
        return "run"

    async def progress(self, job_id: str, done: int, total: int) -> None:
        record = self._records.get(job_id)
        if record is not None and record.state.status == "running":
            self._update(job_id, segments_done=done, segments_total=total, updated_at=time.time())

    async def finish(
        self, job_id: str, now: float, *, result: bytes | None = None, error: JobError | None = None
    ) -> bool:
        record = self._records.get(job_id)
        if record is None:
            return False
        self._running.get(record.spec.owner, set()).discard(job_id)
        if record.finished:
            return False
        if result is not None:
            self._results[job_id] = result
            self._update(job_id, status="completed", finished_at=now, updated_at=now)
        else:
            self._update(job_id, status="failed", error=error, finished_at=now, updated_at=now)
        self._schedule(job_id, now)
        return True

    def _schedule(self, job_id: str, due: float) -> None:
        record = self._records.get(job_id)
        if record is not None and record.finished and record.state.webhook_state == "pending":
            self._webhooks_due.setdefault(job_id, due)

    async def schedule_webhook(self, job_id: str, due: float) -> None:
        self._schedule(job_id, due)

    async def claim_webhook(self, now: float, lease_seconds: float) -> JobRecord | None:
        while self._webhooks_due:
            job_id = min(self._webhooks_due, key=self._webhooks_due.__getitem__)
            if self._webhooks_due[job_id] > now:
                return None
            record = self._records.get(job_id)
            if record is None:
                del self._webhooks_due[job_id]
                continue
            self._webhooks_due[job_id] = now + lease_seconds
            return record
        return None

    async def record_webhook(
        self, job_id: str, seen_attempts: int, state: WebhookState, retry_at: float | None
    ) -> bool:
        record = self._records.get(job_id)
        if record is None or record.state.webhook_state != "pending":
            self._webhooks_due.pop(job_id, None)
            return False
        if record.state.webhook_attempts != seen_attempts:
            return False
        self._update(job_id, webhook_state=state, webhook_attempts=seen_attempts + 1)
        if state == "pending" and retry_at is not None:
            self._webhooks_due[job_id] = retry_at
        else:
            self._webhooks_due.pop(job_id, None)
        return True

    async def release_webhook(self, job_id: str, due: float) -> None:
        if job_id in self._webhooks_due:
            self._webhooks_due[job_id] = due

    async def keep_claim(self, delivery: Delivery, consumer: str) -> bool:
        return True

    async def requeue(self, delivery: Delivery) -> None:
        self._queue.put_nowait(delivery)

    async def acknowledge(self, delivery: Delivery) -> None:
        return None  # a job taken from the queue is gone from it
