"""The job queue's semantics, the same for both engines: Redis (the machine's server, db 11, a unique
prefix, cleaned up) and in process. Redis alone: a dead worker's job is claimed after the timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.redis_server import delete_prefix, unique_prefix
from voxtral_gateway.store import (
    DirectoryBlobStore,
    InProcessJobQueue,
    JobError,
    JobQueue,
    JobSpec,
    QueueFull,
    RedisJobQueue,
    StoreUnavailable,
    WebhookTarget,
)

REDIS_URL = "redis://127.0.0.1:6379/11"


def _spec(job_id: str, owner: str = "key:a") -> JobSpec:
    return JobSpec(id=job_id, owner=owner, created_at=time.time(), model="m")


@pytest.fixture(params=["redis", "in_process"])
async def queue(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[JobQueue]:
    if request.param == "in_process":
        yield InProcessJobQueue(queue_limit=5, ttl_seconds=60)
        return
    prefix = unique_prefix("jobs-queue")
    store = RedisJobQueue(
        REDIS_URL, prefix, DirectoryBlobStore(tmp_path), ttl_seconds=60, visibility_timeout_seconds=1
    )
    await store.start()
    try:
        yield store
    finally:
        await store.close()
        delete_prefix(REDIS_URL, prefix)


async def test_a_job_goes_from_queued_to_completed_once(queue: JobQueue):
    await queue.submit(_spec("job_1"), max_queued=10)
    assert (await queue.get("job_1")).state.status == "queued"
    delivery = await queue.next_delivery("c1", 1)
    assert delivery is not None and delivery.job_id == "job_1"
    assert await queue.start_run(delivery, max_running=2, now=time.time()) == "run"
    await queue.progress("job_1", 1, 3)
    running = await queue.get("job_1")
    assert (running.state.status, running.state.segments_done, running.state.segments_total) == (
        "running",
        1,
        3,
    )
    assert running.state.attempts == 1
    assert await queue.finish("job_1", time.time(), result=b'{"text":"a"}') is True
    # A second run of the same job (at-least-once delivery) does not overwrite the first result.
    assert await queue.finish("job_1", time.time(), result=b'{"text":"b"}') is False
    assert (
        await queue.finish("job_1", time.time(), error=JobError(code="x", message="y", status=500)) is False
    )
    assert await queue.result("job_1") == b'{"text":"a"}'
    done = await queue.get("job_1")
    assert done.state.status == "completed" and done.state.error is None
    assert await queue.start_run(delivery, max_running=2, now=time.time()) == "finished"
    await queue.acknowledge(delivery)
    assert await queue.next_delivery("c1", 0.1) is None


async def test_queued_jobs_per_owner_are_limited(queue: JobQueue):
    await queue.submit(_spec("job_1"), max_queued=2)
    await queue.submit(_spec("job_2"), max_queued=2)
    with pytest.raises(QueueFull) as refused:
        await queue.submit(_spec("job_3"), max_queued=2)
    assert refused.value.per_owner and refused.value.limit == 2
    await queue.submit(_spec("job_4", owner="key:b"), max_queued=2)  # another owner is not affected
    # Once a job starts it no longer counts as queued.
    delivery = await queue.next_delivery("c1", 1)
    assert await queue.start_run(delivery, max_running=5, now=time.time()) == "run"
    await queue.submit(_spec("job_5"), max_queued=2)


async def test_running_jobs_per_owner_are_limited(queue: JobQueue):
    for n in (1, 2):
        await queue.submit(_spec(f"job_{n}"), max_queued=10)
    first = await queue.next_delivery("c1", 1)
    second = await queue.next_delivery("c2", 1)
    assert await queue.start_run(first, max_running=1, now=time.time()) == "run"
    assert await queue.start_run(second, max_running=1, now=time.time()) == "wait"
    await queue.requeue(second)
    await queue.finish(first.job_id, time.time(), result=b"{}")
    await queue.acknowledge(first)
    again = await queue.next_delivery("c2", 1)
    assert again is not None and again.job_id == second.job_id
    assert await queue.start_run(again, max_running=1, now=time.time()) == "run"


async def test_cancel_only_unfinished_jobs(queue: JobQueue):
    await queue.submit(_spec("job_1"), max_queued=10)
    assert await queue.cancel("job_1", time.time()) is True
    assert (await queue.get("job_1")).state.status == "cancelled"
    assert await queue.cancel("job_1", time.time()) is False
    delivery = await queue.next_delivery("c1", 1)
    assert await queue.start_run(delivery, max_running=1, now=time.time()) == "finished"
    assert await queue.cancel("job_missing", time.time()) is False


async def test_owned_lists_newest_first_with_a_cursor(queue: JobQueue):
    for n in range(4):
        await queue.submit(JobSpec(id=f"job_{n}", owner="key:a", created_at=1000.0 + n, model="m"), 10)
    await queue.submit(JobSpec(id="job_other", owner="key:b", created_at=2000.0, model="m"), 10)
    assert [r.id for r in await queue.owned("key:a", 2, None)] == ["job_3", "job_2"]
    assert [r.id for r in await queue.owned("key:a", 10, 1002.0)] == ["job_1", "job_0"]


def _hooked(job_id: str, owner: str = "key:a") -> JobSpec:
    target = WebhookTarget(url="http://hooks.example.com/h", secret="whsec_" + "A" * 32)
    return JobSpec(id=job_id, owner=owner, created_at=time.time(), model="m", webhook=target)


async def _finished(queue: JobQueue, spec: JobSpec, now: float) -> None:
    await queue.submit(spec, max_queued=10)
    delivery = await queue.next_delivery("c1", 1)
    assert await queue.start_run(delivery, max_running=5, now=now) == "run"
    assert await queue.finish(spec.id, now, result=b"{}") is True
    await queue.acknowledge(delivery)


async def test_finishing_a_job_makes_its_webhook_due_and_a_claim_is_a_lease(queue: JobQueue):
    now = time.time()
    await _finished(queue, _spec("job_plain"), now)
    assert await queue.claim_webhook(now, 30) is None  # a job without a webhook has none to deliver
    await queue.submit(_hooked("job_1"), max_queued=10)
    await queue.schedule_webhook("job_1", now)  # nothing is due for a job that has not finished
    assert await queue.claim_webhook(now, 30) is None
    delivery = await queue.next_delivery("c1", 1)
    assert await queue.start_run(delivery, max_running=5, now=now) == "run"
    assert await queue.finish("job_1", now, result=b"{}") is True
    assert (await queue.get("job_1")).state.webhook_state == "pending"
    claimed = await queue.claim_webhook(now, 30)
    assert claimed is not None and claimed.id == "job_1" and claimed.state.webhook_attempts == 0
    # Claimed: nobody else gets it until the lease ends, then anyone does (its deliverer died).
    assert await queue.claim_webhook(now + 29, 30) is None
    again = await queue.claim_webhook(now + 31, 30)
    assert again is not None and again.id == "job_1"
    # Scheduling again (a takeover of the finished job's entry) keeps the delivery's time.
    await queue.schedule_webhook("job_1", now)
    assert await queue.claim_webhook(now + 31, 30) is None


async def test_an_attempt_is_recorded_once_and_a_retry_comes_due_after_its_pause(queue: JobQueue):
    now = time.time()
    await _finished(queue, _hooked("job_1"), now)
    claimed = await queue.claim_webhook(now, 30)
    assert await queue.record_webhook("job_1", 0, "pending", retry_at=now + 4) is True
    state = (await queue.get("job_1")).state
    assert (state.webhook_state, state.webhook_attempts) == ("pending", 1)
    # A deliverer whose lease ran out records nothing over the attempt made since.
    assert await queue.record_webhook("job_1", claimed.state.webhook_attempts, "delivered", None) is False
    assert await queue.claim_webhook(now + 3, 30) is None
    retry = await queue.claim_webhook(now + 4, 30)
    assert retry is not None and retry.state.webhook_attempts == 1
    assert await queue.record_webhook("job_1", 1, "delivered", None) is True
    state = (await queue.get("job_1")).state
    assert (state.webhook_state, state.webhook_attempts) == ("delivered", 2)
    assert await queue.claim_webhook(now + 1000, 30) is None  # settled: unscheduled
    await queue.schedule_webhook("job_1", now)  # and not scheduled again once settled
    assert await queue.claim_webhook(now + 1000, 30) is None
    assert await queue.record_webhook("job_gone", 0, "delivered", None) is False
    assert await queue.get("job_gone") is None  # nothing is created for an unknown job


async def test_a_released_delivery_is_due_at_once_and_a_cancelled_jobs_webhook_too(queue: JobQueue):
    now = time.time()
    await _finished(queue, _hooked("job_1"), now)
    assert (await queue.claim_webhook(now, 300)).id == "job_1"
    await queue.release_webhook("job_1", now + 1)  # its deliverer stops: due now, not at the lease's end
    assert (await queue.claim_webhook(now + 1, 300)).id == "job_1"
    # A queued job cancelled: its webhook is due without waiting for a worker to reach it.
    await queue.submit(_hooked("job_2"), max_queued=10)
    assert await queue.cancel("job_2", now + 2) is True
    cancelled = await queue.claim_webhook(now + 2, 300)
    assert cancelled is not None and cancelled.id == "job_2" and cancelled.state.status == "cancelled"


async def test_a_dead_workers_job_is_claimed_after_the_visibility_timeout(tmp_path):
    prefix = unique_prefix("jobs-claim")
    store = RedisJobQueue(
        REDIS_URL, prefix, DirectoryBlobStore(tmp_path), ttl_seconds=60, visibility_timeout_seconds=1
    )
    await store.start()
    try:
        await store.submit(_spec("job_1"), max_queued=10)
        taken = await store.next_delivery("dead", 1)
        assert await store.start_run(taken, max_running=1, now=time.time()) == "run"
        # Within the timeout nobody else gets it; the holder can renew.
        assert await store.next_delivery("alive", 0.1) is None
        assert await store.keep_claim(taken, "dead") is True
        await asyncio.sleep(1.2)
        claimed = await store.next_delivery("alive", 0.1)
        assert claimed is not None and claimed.job_id == "job_1" and claimed.claimed
        # The running set already holds the job: the owner's limit of 1 lets its new worker run it.
        assert await store.start_run(claimed, max_running=1, now=time.time()) == "run"
        assert (await store.get("job_1")).state.attempts == 2
        # The old holder learns it lost the job when it renews.
        assert await store.keep_claim(taken, "dead") is False
        assert await store.keep_claim(claimed, "alive") is True
    finally:
        await store.close()
        delete_prefix(REDIS_URL, prefix)


async def test_redis_down_is_store_unavailable(tmp_path):
    store = RedisJobQueue(
        "redis://127.0.0.1:1/0",
        "x",
        DirectoryBlobStore(tmp_path),
        ttl_seconds=60,
        visibility_timeout_seconds=5,
    )
    await store.start()
    try:
        with pytest.raises(StoreUnavailable):
            await store.submit(_spec("job_1"), max_queued=10)
        with pytest.raises(StoreUnavailable):
            await store.next_delivery("c", 0.1)
    finally:
        await store.close()


async def test_in_process_queue_has_a_global_bound():
    queue = InProcessJobQueue(queue_limit=2, ttl_seconds=60)
    await queue.submit(_spec("job_1", owner="a"), 10)
    await queue.submit(_spec("job_2", owner="b"), 10)
    with pytest.raises(QueueFull) as refused:
        await queue.submit(_spec("job_3", owner="c"), 10)
    assert not refused.value.per_owner


async def test_directory_blobs_are_written_whole_and_refuse_path_keys(tmp_path):
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    await blobs.put("job_1", b"audio")
    assert await blobs.get("job_1") == b"audio"
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == ["job_1"]
    await blobs.delete("job_1")
    await blobs.delete("job_1")
    assert await blobs.get("job_1") is None
    with pytest.raises(ValueError, match="plain name"):
        await blobs.put("../escape", b"x")


async def test_idle_consumers_without_pending_jobs_are_forgotten(tmp_path):
    prefix = unique_prefix("jobs-prune")
    store = RedisJobQueue(
        REDIS_URL,
        prefix,
        DirectoryBlobStore(tmp_path),
        ttl_seconds=60,
        visibility_timeout_seconds=60,
        consumer_retention_seconds=0.2,
    )
    await store.start()
    try:
        await store.submit(_spec("job_1"), max_queued=10)
        await store.submit(_spec("job_2"), max_queued=10)
        holding = await store.next_delivery("holds-a-job", 0.1)
        done = await store.next_delivery("idle", 0.1)
        assert holding is not None and done is not None
        await store.acknowledge(done)
        await asyncio.sleep(0.3)
        assert await store.prune_consumers() == 1  # "idle" only: the other still holds job_1
        assert await store.keep_claim(holding, "holds-a-job") is True
    finally:
        await store.close()
        delete_prefix(REDIS_URL, prefix)


async def test_an_unwritable_blob_directory_is_named():
    blobs = DirectoryBlobStore("/proc/voxtral-gateway-job-uploads")  # nothing can be created under /proc
    problem = await blobs.problem()
    assert problem is not None and problem.startswith("JOBS_BLOB_DIR /proc/voxtral-gateway-job-uploads")
    assert await DirectoryBlobStore("/tmp/voxtral-gateway-blob-check").problem() is None
