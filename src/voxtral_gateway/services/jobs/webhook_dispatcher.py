"""The webhook deliverers of one gateway process, apart from the job workers: a job worker is free as soon
as the job's outcome is written, however long its webhook takes.

The queue keeps each pending delivery with the time its next attempt is due (`JobQueue.claim_webhook`).
One loop claims due deliveries while fewer than `workers` attempts are in flight here; each attempt is
recorded, and a failed one becomes due again after the backoff, for whichever instance is free then. A
claim is a lease: a process that dies mid-attempt leaves the delivery to be due again at the lease's end;
one that stops (SIGTERM) gives it back at once."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress

import msgspec
import structlog

from voxtral_gateway.services.jobs.webhooks import WebhookSender
from voxtral_gateway.store import JobQueue, JobRecord, StoreUnavailable

log = structlog.get_logger(__name__)

_STORE_RETRY_SECONDS = 1.0


class DispatchPolicy(msgspec.Struct, frozen=True, kw_only=True):
    workers: int = 8
    """Attempts in flight at once in this process (JOBS_WEBHOOK_WORKERS); 0: none made here."""
    lease_seconds: float = 120.0
    """How long a claimed delivery is not due for anyone else: longer than one attempt can take (the
    fetcher's whole-request timeout), plus a margin."""
    poll_seconds: float = 1.0
    """How often the schedule is looked at when nothing wakes the loop (deliveries of other instances'
    jobs, retries coming due)."""


class WebhookDispatcher:
    def __init__(
        self,
        queue: JobQueue,
        sender: WebhookSender,
        policy: DispatchPolicy,
        draining: asyncio.Event | None = None,
    ):
        self._queue = queue
        self._sender = sender
        self.policy = policy
        self._draining = draining or asyncio.Event()
        self._due = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._attempts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.policy.workers > 0:
            self._loop_task = asyncio.create_task(self._dispatch(), name="voxtral-webhook-dispatch")

    def wake(self) -> None:
        """A delivery has just become due (a job finished here): look now rather than at the next poll."""
        self._due.set()

    @property
    def in_flight(self) -> int:
        return len(self._attempts)

    async def close(self) -> None:
        """Stop: attempts in flight are cancelled and their deliveries given back (due at once)."""
        tasks = [t for t in (self._loop_task, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop_task = None

    async def _dispatch(self) -> None:
        slots = asyncio.Semaphore(self.policy.workers)
        while not self._draining.is_set():  # a draining process takes no new delivery
            await slots.acquire()
            if self._draining.is_set():  # it began while every slot was busy
                slots.release()
                return
            try:
                record = await self._queue.claim_webhook(time.time(), self.policy.lease_seconds)
            except StoreUnavailable as exc:
                slots.release()
                log.warning("webhook_store_unavailable", error=str(exc))
                await asyncio.sleep(_STORE_RETRY_SECONDS)
                continue
            except Exception:  # the loop must outlive any one surprise
                slots.release()
                log.exception("webhook_dispatch_error")
                await asyncio.sleep(_STORE_RETRY_SECONDS)
                continue
            if record is None:
                slots.release()
                await self._wait_for_due()
                continue
            task = asyncio.create_task(self._deliver(record), name=f"voxtral-webhook-{record.id}")
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
            task.add_done_callback(lambda _task: slots.release())

    async def _wait_for_due(self) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), self.policy.poll_seconds)
        self._due.clear()

    async def _deliver(self, record: JobRecord) -> None:
        """One attempt of a claimed delivery, then its record: settled, or due again after the backoff."""
        job_id = record.id
        seen = record.state.webhook_attempts
        try:
            result = await self._queue.result(job_id) if record.state.status == "completed" else None
            outcome = await self._sender.attempt(record, result, seen + 1)
        except asyncio.CancelledError:
            await self._hand_back(job_id)
            raise
        except StoreUnavailable as exc:  # the result could not be read: the lease brings it back
            log.warning("webhook_result_unreadable", job_id=job_id, error=str(exc))
            return
        except Exception:  # likewise: the delivery is due again at the lease's end
            log.exception("webhook_attempt_crashed", job_id=job_id)
            return
        state, pause = self._sender.policy.after(seen + 1, outcome)
        retry_at = time.time() + pause if pause is not None else None
        while True:
            try:
                written = await self._queue.record_webhook(job_id, seen, state, retry_at)
                break
            except StoreUnavailable as exc:
                log.warning("webhook_record_waits_for_store", job_id=job_id, error=str(exc))
                await asyncio.sleep(_STORE_RETRY_SECONDS)
        if not written:
            log.info("webhook_attempt_superseded", job_id=job_id, attempt=seen + 1)

    async def _hand_back(self, job_id: str) -> None:
        try:
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._queue.release_webhook(job_id, time.time()))
            log.info("webhook_handed_back", job_id=job_id)
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning("webhook_not_handed_back", job_id=job_id, error=str(exc))
