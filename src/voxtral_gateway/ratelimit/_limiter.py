"""The rate limiter of one worker: a window store (Redis or in-process), the policy when the store
fails."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Literal, Protocol

import msgspec
import structlog

from voxtral_gateway.errors import RateLimited, RateLimiterUnavailable, TooManyStreams
from voxtral_gateway.ratelimit._tiers import Tier
from voxtral_gateway.ratelimit._types import (
    MICROS,
    RateDecision,
    StoreUnavailable,
    StreamAdmission,
    WindowHit,
    WindowOutcome,
    decision_from,
)

log = structlog.get_logger(__name__)

StoreKind = Literal["redis", "in_process"]


class WindowStore(Protocol):
    """Where windows and stream slots live. Methods raise `StoreUnavailable` when it cannot answer."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def hit(self, hit: WindowHit) -> WindowOutcome: ...
    async def renew(self, stream_bucket: str, member: str, slot_ttl_us: int) -> None: ...
    async def release(self, stream_bucket: str, member: str) -> None: ...


class LimiterConfig(msgspec.Struct, frozen=True, kw_only=True):
    window_seconds: float
    key_prefix: str
    fail_open: bool
    slot_ttl_seconds: float = 30.0
    """A stream's slot lease; renewed every third of it, so a crashed worker's slots expire."""
    retry_store_after_seconds: float = 1.0
    """After a store failure, requests skip the store this long, then one request probes it."""
    warn_interval_seconds: float = 30.0


class RateLimiter:
    """Counts requests per identity and tier in a sliding window (one store call per request)."""

    def __init__(
        self,
        store: WindowStore,
        kind: StoreKind,
        config: LimiterConfig,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.kind: StoreKind = kind
        self.config = config
        self._clock = clock
        self._window_us = int(config.window_seconds * MICROS)
        self._members = itertools.count()
        self._instance = os.urandom(6).hex()  # request ids are unique across workers and instances
        self._down_until = 0.0
        self._probing = False
        self._warned_at = -1e18
        self._failures_since_warning = 0

    async def start(self) -> None:
        await self.store.start()

    async def close(self) -> None:
        await self.store.close()

    async def admit(self, identity: str, tier: Tier, limit: int) -> RateDecision | None:
        """Count one request, or raise `RateLimited` (not counted). None: the store is down and the
        policy is fail-open (served without a limit). Raises `RateLimiterUnavailable` when fail-closed."""
        hit = WindowHit(
            bucket=self._bucket(identity, tier), limit=limit, window_us=self._window_us, member=self._member()
        )
        outcome = await self._hit(hit)
        if outcome is None:
            return None
        decision = decision_from(outcome, tier, limit, self.config.window_seconds)
        if not decision.allowed:
            raise _rate_limited(decision)
        return decision

    @asynccontextmanager
    async def stream_slot(
        self, identity: str, limit: int, max_streams: int
    ) -> AsyncIterator[StreamAdmission]:
        """Count a stream against the transcription tier and hold one of the identity's stream slots
        while the block runs (in one store call). Raises `TooManyStreams` or `RateLimited` (nothing
        counted), or `RateLimiterUnavailable` (fail-closed)."""
        member = self._member()
        streams_bucket = f"{self.config.key_prefix}:streams:{{{identity}}}"
        ttl_us = int(self.config.slot_ttl_seconds * MICROS)
        hit = WindowHit(
            bucket=self._bucket(identity, "transcription"),
            limit=limit,
            window_us=self._window_us,
            member=member,
            stream_bucket=streams_bucket,
            max_streams=max_streams,
            slot_ttl_us=ttl_us,
        )
        outcome = await self._hit(hit)
        if outcome is None:
            yield StreamAdmission(identity=identity, decision=None, active_streams=0, max_streams=max_streams)
            return
        if outcome.status == "streams_full":
            raise TooManyStreams(
                f"{outcome.active_streams} of {max_streams} streams (MAX_STREAMS_PER_IDENTITY) are "
                "already open for this client",
                details={"active_streams": outcome.active_streams, "max_streams": max_streams},
            )
        decision = decision_from(outcome, "transcription", limit, self.config.window_seconds)
        if not decision.allowed:
            raise _rate_limited(decision)
        renewer = asyncio.create_task(self._renew_until_cancelled(streams_bucket, member, ttl_us))
        try:
            yield StreamAdmission(
                identity=identity,
                decision=decision,
                active_streams=outcome.active_streams,
                max_streams=max_streams,
            )
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            try:
                await self.store.release(streams_bucket, member)
            except StoreUnavailable as exc:
                log.warning(
                    "stream_slot_release_failed", error=str(exc), expires_in_s=self.config.slot_ttl_seconds
                )

    def _bucket(self, identity: str, tier: Tier) -> str:
        # The braces are a Redis Cluster hash tag: an identity's windows and slots share a slot.
        return f"{self.config.key_prefix}:rl:{{{identity}}}:{tier}"

    def _member(self) -> str:
        return f"{self._instance}:{next(self._members)}"

    async def _hit(self, hit: WindowHit) -> WindowOutcome | None:
        if not self._store_usable():
            return self._unavailable("skipped while the store recovers")
        try:
            outcome = await self.store.hit(hit)
        except StoreUnavailable as exc:
            self._failed()
            return self._unavailable(str(exc))
        self._succeeded()
        return outcome

    def _store_usable(self) -> bool:
        if not self._down_until:
            return True
        if self._clock() < self._down_until or self._probing:
            return False
        self._probing = True  # this request probes; the others keep skipping until it answers
        return True

    def _succeeded(self) -> None:
        if self._down_until:
            log.info("rate_limit_store_recovered", store=self.kind)
        self._down_until = 0.0
        self._probing = False

    def _failed(self) -> None:
        self._down_until = self._clock() + self.config.retry_store_after_seconds
        self._probing = False

    def _unavailable(self, reason: str) -> None:
        self._failures_since_warning += 1
        now = self._clock()
        if now - self._warned_at >= self.config.warn_interval_seconds:
            log.warning(
                "rate_limit_store_unavailable",
                store=self.kind,
                policy="fail_open" if self.config.fail_open else "fail_closed",
                requests_affected=self._failures_since_warning,
                error=reason,
            )
            self._warned_at = now
            self._failures_since_warning = 0
        if self.config.fail_open:
            return None
        raise RateLimiterUnavailable(
            "the rate limiter's store is unreachable and RATE_LIMIT_FAIL_OPEN is false; retry shortly",
            retry_after_seconds=max(1, round(self.config.retry_store_after_seconds)),
        )

    async def _renew_until_cancelled(self, streams_bucket: str, member: str, ttl_us: int) -> None:
        interval = self.config.slot_ttl_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.store.renew(streams_bucket, member, ttl_us)
            except StoreUnavailable as exc:
                log.warning("stream_slot_renew_failed", error=str(exc))


def _rate_limited(decision: RateDecision) -> RateLimited:
    seconds = decision.retry_after_seconds
    return RateLimited(
        f"rate limit of {decision.limit} requests per {decision.window_seconds:g} s for the "
        f"{decision.tier} tier exceeded; retry in {seconds} s",
        tier=decision.tier,
        retry_after_seconds=seconds,
        headers=decision.headers(),
        details={
            "tier": decision.tier,
            "limit": decision.limit,
            "window_seconds": decision.window_seconds,
            "retry_after_seconds": seconds,
            "retry_after_ms": decision.retry_after_ms,
        },
    )
