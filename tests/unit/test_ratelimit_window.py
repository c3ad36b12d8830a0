"""The sliding-window algorithm, in process and in Redis (the machine's server, own key prefix)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
import redis

from tests.support.redis_server import SHARED_REDIS_URL, delete_prefix, unique_prefix
from voxtral_gateway.ratelimit import InProcessWindowStore, RedisWindowStore, StoreUnavailable, WindowHit

MS = 1000
SECOND = 1_000_000
_members = itertools.count()


def hit(bucket: str, limit: int, window_us: int, **stream: object) -> WindowHit:
    return WindowHit(bucket=bucket, limit=limit, window_us=window_us, member=f"m{next(_members)}", **stream)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000 * SECOND

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=["in_process", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[tuple[object, str]]:
    prefix = unique_prefix("window")
    if request.param == "in_process":
        yield InProcessWindowStore(), prefix
        return
    store = RedisWindowStore(SHARED_REDIS_URL, timeout_seconds=2.0)
    await store.start()
    try:
        yield store, prefix
    finally:
        await store.close()
        delete_prefix(SHARED_REDIS_URL, prefix)


async def test_admits_the_limit_then_refuses_without_counting_the_refusals(store):
    store, prefix = store
    bucket = f"{prefix}:rl:{{ip:a}}:general"
    outcomes = [await store.hit(hit(bucket, 3, 10 * SECOND)) for _ in range(6)]
    assert [o.status for o in outcomes] == ["admitted"] * 3 + ["limited"] * 3
    assert [o.remaining for o in outcomes] == [2, 1, 0, 0, 0, 0]
    first_refusal, last_refusal = outcomes[3], outcomes[5]
    # The wait is until the oldest request leaves the window; refusals do not push it back.
    assert 9 * SECOND < first_refusal.retry_after_us <= 10 * SECOND
    assert last_refusal.retry_after_us <= first_refusal.retry_after_us
    assert first_refusal.reset_us == first_refusal.retry_after_us
    assert 9 * SECOND < outcomes[0].reset_us <= 10 * SECOND
    if isinstance(store, RedisWindowStore):
        assert redis.Redis.from_url(SHARED_REDIS_URL).zcard(bucket) == 3


async def test_concurrent_hits_admit_exactly_the_limit(store):
    store, prefix = store
    bucket = f"{prefix}:rl:{{ip:b}}:transcription"
    outcomes = await asyncio.gather(*(store.hit(hit(bucket, 7, 10 * SECOND)) for _ in range(40)))
    assert sum(o.status == "admitted" for o in outcomes) == 7
    assert sorted(o.remaining for o in outcomes if o.status == "admitted") == list(range(7))


async def test_the_window_slides_one_request_at_a_time(store):
    store, prefix = store
    bucket = f"{prefix}:rl:{{ip:c}}:batch"
    window = 600 * MS
    assert (await store.hit(hit(bucket, 2, window))).status == "admitted"  # A at t0
    await asyncio.sleep(0.3)
    assert (await store.hit(hit(bucket, 2, window))).status == "admitted"  # B at t0 + 0.3
    refused = await store.hit(hit(bucket, 2, window))
    assert refused.status == "limited"
    assert 200 * MS < refused.retry_after_us <= 300 * MS  # when A leaves
    await asyncio.sleep(refused.retry_after_us / SECOND + 0.03)
    # A has left, B has not: exactly one more (a fixed window would have let two through).
    assert [(await store.hit(hit(bucket, 2, window))).status for _ in range(2)] == ["admitted", "limited"]


async def test_window_keys_expire_with_the_window():
    store = RedisWindowStore(SHARED_REDIS_URL, timeout_seconds=2.0)
    prefix = unique_prefix("expiry")
    await store.start()
    try:
        bucket = f"{prefix}:rl:{{ip:d}}:general"
        await store.hit(hit(bucket, 5, 3 * SECOND))
        ttl_ms = redis.Redis.from_url(SHARED_REDIS_URL).pttl(bucket)
        assert 0 < ttl_ms <= 3000
    finally:
        await store.close()
        delete_prefix(SHARED_REDIS_URL, prefix)


async def test_stream_slots_cap_concurrent_streams_and_refusals_cost_nothing(store):
    store, prefix = store
    bucket, slots = f"{prefix}:rl:{{ip:e}}:transcription", f"{prefix}:streams:{{ip:e}}"

    def stream(member: str) -> WindowHit:
        return WindowHit(
            bucket=bucket,
            limit=10,
            window_us=10 * SECOND,
            member=member,
            stream_bucket=slots,
            max_streams=2,
            slot_ttl_us=10 * SECOND,
        )

    first, second, third = [await store.hit(stream(m)) for m in ("s1", "s2", "s3")]
    assert (first.status, first.active_streams) == ("admitted", 1)
    assert (second.status, second.active_streams, second.remaining) == ("admitted", 2, 8)
    assert (third.status, third.active_streams) == ("streams_full", 2)
    await store.release(slots, "s1")
    again = await store.hit(stream("s4"))
    assert (again.status, again.remaining) == ("admitted", 7)  # the refused stream was not counted


async def test_a_slot_that_is_not_renewed_expires(store):
    store, prefix = store
    bucket, slots = f"{prefix}:rl:{{ip:f}}:transcription", f"{prefix}:streams:{{ip:f}}"

    def stream(member: str) -> WindowHit:
        return WindowHit(
            bucket=bucket,
            limit=10,
            window_us=10 * SECOND,
            member=member,
            stream_bucket=slots,
            max_streams=1,
            slot_ttl_us=1000 * MS,
        )

    # Leases of 1 s, so that a loaded machine's pauses (up to 0.4 s here) do not change the outcome.
    assert (await store.hit(stream("held"))).status == "admitted"
    await asyncio.sleep(0.6)
    await store.renew(slots, "held", 1000 * MS)  # a live stream renews its lease
    await asyncio.sleep(0.6)  # past the first lease's end
    assert (await store.hit(stream("other"))).status == "streams_full"
    await asyncio.sleep(0.5)  # its worker "crashed": no renewal, the lease runs out
    assert (await store.hit(stream("other"))).status == "admitted"


async def test_in_process_times_are_exact_with_a_fake_clock():
    clock = FakeClock()
    store = InProcessWindowStore(clock=clock)
    window = 60 * SECOND
    for _ in range(3):
        await store.hit(hit("k", 3, window))
        clock.now += 10 * SECOND
    # Arrivals at 0, 10, 20 s; now 30 s.
    refused = await store.hit(hit("k", 3, window))
    assert (refused.status, refused.retry_after_us) == ("limited", 30 * SECOND)
    clock.now += 30 * SECOND  # t = 60 s: the arrival at 0 s has left (the window is (t-60, t])
    admitted = await store.hit(hit("k", 3, window))
    assert (admitted.status, admitted.remaining, admitted.reset_us) == ("admitted", 0, 10 * SECOND)
    # A lower limit (a per-key override) waits until enough requests have left.
    lower = await store.hit(hit("k", 1, window))
    assert (lower.status, lower.retry_after_us) == ("limited", 60 * SECOND)


async def test_in_process_forgets_idle_identities():
    clock = FakeClock()
    store = InProcessWindowStore(clock=clock)
    for n in range(5000):
        await store.hit(hit(f"idle-{n}", 5, SECOND))
        clock.now += 1000
    assert len(store._windows) < 5000


async def test_a_redis_that_never_answers_times_out_as_unavailable():
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(1 << 20)
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass  # the test's loop ends first; asyncio would log the cancelled handler as an error
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisWindowStore(f"redis://127.0.0.1:{port}/0", timeout_seconds=0.2)
    await store.start()  # not fatal: the script is loaded on NOSCRIPT later
    # The server would close after 5 s (a connection error); the 0.2 s timeout comes first.
    with pytest.raises(StoreUnavailable, match="TimeoutError"):
        await store.hit(hit("k", 1, SECOND))
    await store.close()
    server.close()
