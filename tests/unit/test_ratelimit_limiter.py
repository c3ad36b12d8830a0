"""The limiter's policy around its store: refusals, failing open or closed, recovery, stream slots."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from voxtral_gateway.errors import RateLimited, RateLimiterUnavailable, TooManyStreams
from voxtral_gateway.ratelimit import (
    InProcessWindowStore,
    LimiterConfig,
    RateLimiter,
    StoreUnavailable,
    WindowHit,
    WindowOutcome,
)
from voxtral_gateway.routes.error_wire import status_of


class FlakyStore:
    """The in-process store, which can be switched off like an unreachable Redis."""

    def __init__(self) -> None:
        self.inner = InProcessWindowStore()
        self.down = False
        self.calls = 0
        self.renewals = 0
        self.released: list[str] = []

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def hit(self, hit: WindowHit) -> WindowOutcome:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("ConnectionError: refused")
        return await self.inner.hit(hit)

    async def renew(self, stream_bucket: str, member: str, slot_ttl_us: int) -> None:
        self.renewals += 1
        await self.inner.renew(stream_bucket, member, slot_ttl_us)

    async def release(self, stream_bucket: str, member: str) -> None:
        self.released.append(member)
        await self.inner.release(stream_bucket, member)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(store: FlakyStore, clock: Clock | None = None, **config: object) -> RateLimiter:
    settings: dict[str, object] = {"window_seconds": 60.0, "key_prefix": "t", "fail_open": True, **config}
    return RateLimiter(store, "redis", LimiterConfig(**settings), clock=clock or Clock())


async def test_refusal_names_the_tier_and_when_to_retry():
    rl = limiter(FlakyStore())
    decisions = [await rl.admit("ip:1", "understanding", 2) for _ in range(2)]
    assert [d.remaining for d in decisions] == [1, 0]
    assert decisions[0].headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "60",
        "RateLimit-Policy": "2;w=60",
    }
    with pytest.raises(RateLimited) as refused:
        await rl.admit("ip:1", "understanding", 2)
    error = refused.value
    assert (status_of(error), error.code, error.tier, error.retry_after_seconds) == (
        429,
        "rate_limited",
        "understanding",
        60,
    )
    assert error.headers["Retry-After"] == "60"
    assert error.headers["RateLimit-Remaining"] == "0"
    assert error.details["tier"] == "understanding"
    assert "understanding tier" in error.message
    # Identities and tiers are separate buckets.
    assert await rl.admit("ip:2", "understanding", 2) is not None
    assert await rl.admit("ip:1", "batch", 2) is not None


async def test_fail_open_serves_warns_once_per_interval_and_recovers():
    store, clock = FlakyStore(), Clock()
    rl = limiter(store, clock, retry_store_after_seconds=1.0, warn_interval_seconds=30.0)
    assert await rl.admit("ip:1", "general", 1) is not None
    store.down = True
    with capture_logs() as logs:
        assert [await rl.admit("ip:1", "general", 1) for _ in range(5)] == [None] * 5
    warnings = [entry for entry in logs if entry["event"] == "rate_limit_store_unavailable"]
    assert len(warnings) == 1 and warnings[0]["policy"] == "fail_open"
    # One failed call, then the store is left alone until the retry time.
    assert store.calls == 2

    clock.now += 1.5  # one probe, which fails again
    assert await rl.admit("ip:1", "general", 1) is None
    assert store.calls == 3

    store.down = False
    clock.now += 1.5
    with pytest.raises(RateLimited):  # limits are back, with the count Redis kept
        await rl.admit("ip:1", "general", 1)
    assert store.calls == 4


async def test_fail_closed_answers_503_until_the_store_is_back():
    store, clock = FlakyStore(), Clock()
    rl = limiter(store, clock, fail_open=False)
    store.down = True
    with pytest.raises(RateLimiterUnavailable) as unavailable:
        await rl.admit("ip:1", "transcription", 5)
    error = unavailable.value
    assert (status_of(error), error.code, error.retry_after_seconds) == (503, "rate_limiter_unavailable", 1)
    store.down = False
    clock.now += 1.1
    decision = await rl.admit("ip:1", "transcription", 5)
    assert decision is not None and decision.remaining == 4


async def test_one_probe_at_a_time_while_the_store_recovers():
    store, clock = FlakyStore(), Clock()
    rl = limiter(store, clock)
    store.down = True
    await rl.admit("ip:1", "general", 5)
    clock.now += 2
    gate = asyncio.Event()
    original = store.hit

    async def slow_hit(hit: WindowHit) -> WindowOutcome:
        await gate.wait()
        return await original(hit)

    store.hit = slow_hit  # type: ignore[method-assign]
    store.down = False
    probe = asyncio.create_task(rl.admit("ip:1", "general", 5))
    await asyncio.sleep(0)
    assert await rl.admit("ip:1", "general", 5) is None  # does not pile onto the probe
    gate.set()
    assert (await probe) is not None
    assert await rl.admit("ip:1", "general", 5) is not None


async def test_stream_slot_is_held_renewed_and_released():
    store = FlakyStore()
    rl = limiter(store, slot_ttl_seconds=0.06)
    async with rl.stream_slot("key:k1", 10, 1) as admission:
        assert admission.decision is not None and admission.decision.tier == "transcription"
        assert (admission.active_streams, admission.max_streams) == (1, 1)
        with pytest.raises(TooManyStreams) as full:
            async with rl.stream_slot("key:k1", 10, 1):
                pass
        assert full.value.status_code == 429 and full.value.details == {"active_streams": 1, "max_streams": 1}
        await asyncio.sleep(0.1)
        assert store.renewals >= 2
    assert len(store.released) == 1
    async with rl.stream_slot("key:k1", 10, 1) as again:
        assert again.decision is not None and again.decision.remaining == 8  # the refusal was not counted


async def test_streams_count_against_the_transcription_tier():
    rl = limiter(FlakyStore())
    await rl.admit("ip:9", "transcription", 2)
    async with rl.stream_slot("ip:9", 2, 4):
        pass
    with pytest.raises(RateLimited):
        async with rl.stream_slot("ip:9", 2, 4):
            pass


async def test_stream_slot_fails_open_without_a_slot():
    store = FlakyStore()
    store.down = True
    rl = limiter(store)
    async with rl.stream_slot("ip:1", 10, 1) as admission:
        assert admission.decision is None
    assert store.released == []
