"""Jobs in Redis: a stream read by one consumer group (every worker of every instance), job state in
hashes with a TTL, per-owner sets for the queued and running limits, and a sorted set of the webhook
deliveries to make, by due time.

Delivery is at least once. A worker acknowledges a job only when it is finished and its webhook is
settled; a worker that dies leaves the entry pending, and after the visibility timeout another worker
takes it over with XAUTOCLAIM. A running worker renews its claim (XCLAIM to itself, which resets the
entry's idle time) well before the timeout. Finishing is idempotent: the first run to finish wins.

A webhook is delivered apart from the job's worker: finishing a job with a pending webhook puts it in the
schedule (due now); a deliverer claims it by moving its time to the end of a lease, and after each attempt
either removes it (delivered, or given up) or moves its time to the next retry. A deliverer that dies
leaves its claim to lapse: the delivery is due again at the lease's end, for any instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from voxtral_gateway.store import _redis_scripts as scripts
from voxtral_gateway.store.blobs import BlobStore
from voxtral_gateway.store.job_queue import QueueFull, StoreUnavailable
from voxtral_gateway.store.records import (
    Delivery,
    JobError,
    JobRecord,
    JobSpec,
    JobState,
    StartOutcome,
    WebhookState,
)

log = structlog.get_logger(__name__)

GROUP = "workers"
_CLAIMS_PER_CALL = 8
"""Deliveries of expired jobs dropped in one `claim_webhook` before it answers None for now."""
_T = TypeVar("_T")
_spec_decoder = msgspec.json.Decoder(JobSpec)
_error_decoder = msgspec.json.Decoder(JobError)
_encoder = msgspec.json.Encoder()


class RedisJobQueue:
    """The durable `JobQueue`: one per worker process, its client made in `start` (on the serving loop)."""

    durable = True
    kind = "redis"

    def __init__(
        self,
        url: str,
        prefix: str,
        blobs: BlobStore,
        *,
        ttl_seconds: float,
        visibility_timeout_seconds: float,
        call_timeout_seconds: float = 5.0,
        consumer_retention_seconds: float = 600.0,
    ):
        self._retention_ms = int(consumer_retention_seconds * 1000)
        self._last_prune = time.monotonic()
        self.blobs = blobs
        self._url = url
        self._prefix = prefix
        self._ttl = max(1, int(ttl_seconds))
        self._visibility_ms = int(visibility_timeout_seconds * 1000)
        self._call_timeout = call_timeout_seconds
        self._stream = f"{prefix}:stream"
        self._webhooks = f"{prefix}:webhooks"
        self._client: Redis | None = None
        self._scripts: dict[str, Any] = {}

    # --- keys --------------------------------------------------------------------------------------

    def _job(self, job_id: str) -> str:
        return f"{self._prefix}:job:{job_id}"

    def _queued(self, owner: str) -> str:
        return f"{self._prefix}:queued:{owner}"

    def _running(self, owner: str) -> str:
        return f"{self._prefix}:running:{owner}"

    def _index(self, owner: str) -> str:
        return f"{self._prefix}:owner:{owner}"

    # --- life --------------------------------------------------------------------------------------

    async def start(self) -> None:
        client = Redis.from_url(self._url, socket_connect_timeout=self._call_timeout, decode_responses=False)
        self._client = client
        for name in (
            "SUBMIT",
            "START",
            "FINISH",
            "UPDATE_IF",
            "SCHEDULE_WEBHOOK",
            "CLAIM_WEBHOOK",
            "RECORD_WEBHOOK",
        ):
            self._scripts[name] = client.register_script(getattr(scripts, name))
        try:
            await self._ensure_group()
        except StoreUnavailable as exc:
            log.warning("jobs_redis_unreachable_at_start", error=str(exc))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def _redis(self) -> Redis:
        if self._client is None:
            raise StoreUnavailable("the job store is not started")
        return self._client

    async def _call(self, make: Callable[[], Awaitable[_T]], seconds: float | None = None) -> _T:
        try:
            async with asyncio.timeout(seconds or self._call_timeout):
                return await make()
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis lost the stream (restarted without persistence)
                await self._ensure_group()
            raise StoreUnavailable(f"Redis refused: {exc}") from exc
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"Redis is unreachable: {type(exc).__name__}: {exc}") from exc

    async def _ensure_group(self) -> None:
        try:
            async with asyncio.timeout(self._call_timeout):
                await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreUnavailable(f"Redis refused: {exc}") from exc
        except (RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"Redis is unreachable: {type(exc).__name__}: {exc}") from exc

    # --- the API's side ----------------------------------------------------------------------------

    async def submit(self, spec: JobSpec, max_queued: int) -> None:
        webhook = "pending" if spec.webhook else "none"
        admitted = await self._call(
            lambda: self._scripts["SUBMIT"](
                keys=[self._job(spec.id), self._queued(spec.owner), self._index(spec.owner), self._stream],
                args=[spec.id, _encoder.encode(spec), repr(spec.created_at), max_queued, self._ttl, webhook],
            )
        )
        if not admitted:
            raise QueueFull(max_queued, per_owner=True)

    async def get(self, job_id: str) -> JobRecord | None:
        fields = await self._call(
            lambda: self._redis.hmget(self._job(job_id), *_STATE_FIELDS)  # type: ignore[arg-type]
        )
        return _record(fields)

    async def result(self, job_id: str) -> bytes | None:
        return await self._call(lambda: self._redis.hget(self._job(job_id), "result"))  # type: ignore[return-value]

    async def owned(self, owner: str, limit: int, before: float | None) -> list[JobRecord]:
        index = self._index(owner)
        top = f"({before!r}" if before is not None else "+inf"
        ids = await self._call(lambda: self._redis.zrevrangebyscore(index, top, "-inf", start=0, num=limit))
        records: list[JobRecord] = []
        expired: list[bytes] = []
        for job_id in ids:
            record = await self.get(job_id.decode())
            if record is None:
                expired.append(job_id)
            else:
                records.append(record)
        if expired:
            await self._call(lambda: self._redis.zrem(index, *expired))
        return records

    async def cancel(self, job_id: str, now: float) -> bool:
        record = await self.get(job_id)
        if record is None:
            return False
        return await self._finish_script(record.spec, "cancelled", now, [])

    # --- the workers' side -------------------------------------------------------------------------

    async def next_delivery(self, consumer: str, block_seconds: float) -> Delivery | None:
        redis = self._redis
        if time.monotonic() - self._last_prune > self._retention_ms / 1000:
            self._last_prune = time.monotonic()
            await self.prune_consumers()
        claimed = await self._call(
            lambda: redis.xautoclaim(self._stream, GROUP, consumer, self._visibility_ms, "0-0", count=1)
        )
        for message_id, fields in claimed[1]:
            if fields:
                log.info("job_claimed_from_dead_worker", job_id=fields[b"job"].decode(), consumer=consumer)
                return Delivery(job_id=fields[b"job"].decode(), message_id=message_id.decode(), claimed=True)
        block_ms = max(1, int(block_seconds * 1000))
        answer = await self._call(
            lambda: redis.xreadgroup(GROUP, consumer, {self._stream: ">"}, count=1, block=block_ms),
            seconds=block_seconds + self._call_timeout,
        )
        for _stream, messages in answer or []:
            for message_id, fields in messages:
                return Delivery(job_id=fields[b"job"].decode(), message_id=message_id.decode())
        return None

    async def prune_consumers(self) -> int:
        """Forget consumers (workers of gateways long gone) that hold nothing and have not read for the
        retention time; a live worker reads every few seconds. Returns how many were removed."""
        redis = self._redis
        consumers = await self._call(lambda: redis.xinfo_consumers(self._stream, GROUP))
        removed = 0
        for consumer in consumers:
            if consumer["pending"] == 0 and consumer["idle"] > self._retention_ms:
                name = _text(consumer["name"])
                await self._call(lambda name=name: redis.xgroup_delconsumer(self._stream, GROUP, name))
                removed += 1
        return removed

    async def start_run(self, delivery: Delivery, max_running: int, now: float) -> StartOutcome:
        record = await self.get(delivery.job_id)
        if record is None:
            return "gone"
        owner = record.spec.owner
        outcome = await self._call(
            lambda: self._scripts["START"](
                keys=[self._job(delivery.job_id), self._queued(owner), self._running(owner)],
                args=[delivery.job_id, max_running, repr(now), self._ttl],
            )
        )
        return outcome.decode()  # type: ignore[no-any-return]

    async def progress(self, job_id: str, done: int, total: int) -> None:
        await self._call(
            lambda: self._scripts["UPDATE_IF"](
                keys=[self._job(job_id)],
                args=[
                    "running",
                    "segments_done",
                    done,
                    "segments_total",
                    total,
                    "updated_at",
                    repr(time.time()),
                ],
            )
        )

    async def finish(
        self, job_id: str, now: float, *, result: bytes | None = None, error: JobError | None = None
    ) -> bool:
        record = await self.get(job_id)
        if record is None:
            return False
        if result is not None:
            return await self._finish_script(record.spec, "completed", now, ["result", result])
        return await self._finish_script(record.spec, "failed", now, ["error", _encoder.encode(error)])

    async def _finish_script(self, spec: JobSpec, status: str, now: float, fields: list[Any]) -> bool:
        done = await self._call(
            lambda: self._scripts["FINISH"](
                keys=[
                    self._job(spec.id),
                    self._queued(spec.owner),
                    self._running(spec.owner),
                    self._webhooks,
                ],
                args=[spec.id, status, repr(now), self._ttl, *fields],
            )
        )
        return bool(done)

    async def schedule_webhook(self, job_id: str, due: float) -> None:
        await self._call(
            lambda: self._scripts["SCHEDULE_WEBHOOK"](
                keys=[self._job(job_id), self._webhooks], args=[job_id, repr(due)]
            )
        )

    async def claim_webhook(self, now: float, lease_seconds: float) -> JobRecord | None:
        for _ in range(_CLAIMS_PER_CALL):
            claimed = await self._call(
                lambda: self._scripts["CLAIM_WEBHOOK"](
                    keys=[self._webhooks], args=[repr(now), repr(now + lease_seconds)]
                )
            )
            if claimed is None:
                return None
            job_id = claimed.decode()
            record = await self.get(job_id)
            if record is not None:
                return record
            await self._call(lambda job_id=job_id: self._redis.zrem(self._webhooks, job_id))
        return None

    async def record_webhook(
        self, job_id: str, seen_attempts: int, state: WebhookState, retry_at: float | None
    ) -> bool:
        retry = repr(retry_at) if state == "pending" and retry_at is not None else ""
        written = await self._call(
            lambda: self._scripts["RECORD_WEBHOOK"](
                keys=[self._job(job_id), self._webhooks],
                args=[job_id, seen_attempts, state, seen_attempts + 1, retry],
            )
        )
        return bool(written)

    async def release_webhook(self, job_id: str, due: float) -> None:
        await self._call(lambda: self._redis.zadd(self._webhooks, {job_id: due}, xx=True))

    async def keep_claim(self, delivery: Delivery, consumer: str) -> bool:
        redis = self._redis
        pending = await self._call(
            lambda: redis.xpending_range(self._stream, GROUP, delivery.message_id, delivery.message_id, 1)
        )
        if not pending or _text(pending[0]["consumer"]) != consumer:
            return False
        # XCLAIM to the same consumer resets the idle time: the visibility timeout starts again.
        await self._call(
            lambda: redis.xclaim(self._stream, GROUP, consumer, 0, [delivery.message_id], justid=True)
        )
        return True

    async def requeue(self, delivery: Delivery) -> None:
        async def move() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self._stream, {"job": delivery.job_id})
                pipe.xack(self._stream, GROUP, delivery.message_id)
                pipe.xdel(self._stream, delivery.message_id)
                await pipe.execute()

        await self._call(move)

    async def acknowledge(self, delivery: Delivery) -> None:
        async def ack() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self._stream, GROUP, delivery.message_id)
                pipe.xdel(self._stream, delivery.message_id)
                await pipe.execute()

        await self._call(ack)


_STATE_FIELDS = (
    "spec",
    "status",
    "updated_at",
    "started_at",
    "finished_at",
    "segments_done",
    "segments_total",
    "attempts",
    "error",
    "webhook_state",
    "webhook_attempts",
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record(fields: list[bytes | None]) -> JobRecord | None:
    raw = dict(zip(_STATE_FIELDS, fields, strict=True))
    if raw["spec"] is None or raw["status"] is None:
        return None
    try:
        state = JobState(
            status=raw["status"].decode(),  # type: ignore[arg-type]
            updated_at=float(raw["updated_at"] or 0),
            started_at=float(raw["started_at"]) if raw["started_at"] else None,
            finished_at=float(raw["finished_at"]) if raw["finished_at"] else None,
            segments_done=int(raw["segments_done"] or 0),
            segments_total=int(raw["segments_total"]) if raw["segments_total"] else None,
            attempts=int(raw["attempts"] or 0),
            error=_error_decoder.decode(raw["error"]) if raw["error"] else None,
            webhook_state=(raw["webhook_state"] or b"none").decode(),  # type: ignore[arg-type]
            webhook_attempts=int(raw["webhook_attempts"] or 0),
        )
        return JobRecord(spec=_spec_decoder.decode(raw["spec"]), state=state)
    except (ValueError, msgspec.DecodeError) as exc:
        raise StoreUnavailable(f"a job record in Redis is malformed: {exc}") from exc
