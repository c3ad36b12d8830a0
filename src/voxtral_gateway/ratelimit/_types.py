"""The values that cross the rate limiter's boundaries: limits, one window hit, its outcome, decisions."""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from voxtral_gateway.ratelimit._tiers import Tier

MICROS = 1_000_000


class StoreUnavailable(Exception):
    """The window store could not answer (Redis down, slow or refusing); the failure policy decides."""


class TierLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Requests admitted per window, for each tier."""

    general: int
    transcription: int
    understanding: int
    batch: int

    def of(self, tier: Tier) -> int:
        return int(getattr(self, tier))


class WindowHit(msgspec.Struct, frozen=True, kw_only=True):
    """One request to count in a sliding window; with `stream_bucket`, also take a stream slot.

    `member` must be unique per hit (it names the request in the window and the stream's slot)."""

    bucket: str
    limit: int
    window_us: int
    member: str
    stream_bucket: str | None = None
    max_streams: int = 0
    slot_ttl_us: int = 0


WindowStatus = Literal["admitted", "limited", "streams_full"]


class WindowOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What the store decided. Times are microseconds from the store's own clock's `now`."""

    status: WindowStatus
    remaining: int
    reset_us: int
    """Until the oldest counted request leaves the window (one more request becomes possible)."""
    retry_after_us: int
    """0 when admitted; else until this request would be admitted."""
    active_streams: int = 0


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """The limiter's answer for one request in one tier, and the headers that tell the client."""

    tier: Tier
    allowed: bool
    limit: int
    remaining: int
    window_seconds: float
    reset_ms: int
    retry_after_ms: int

    @property
    def reset_seconds(self) -> int:
        return math.ceil(self.reset_ms / 1000)

    @property
    def retry_after_seconds(self) -> int:
        # Rounded up and at least 1: a client that waits this long is admitted.
        return max(1, math.ceil(self.retry_after_ms / 1000))

    def headers(self) -> dict[str, str]:
        """RateLimit-* (IETF draft names) always; Retry-After when refused."""
        window = f"{self.window_seconds:g}"
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def decision_from(outcome: WindowOutcome, tier: Tier, limit: int, window_seconds: float) -> RateDecision:
    return RateDecision(
        tier=tier,
        allowed=outcome.status == "admitted",
        limit=limit,
        remaining=max(0, outcome.remaining),
        window_seconds=window_seconds,
        reset_ms=math.ceil(max(0, outcome.reset_us) / 1000),
        retry_after_ms=math.ceil(max(0, outcome.retry_after_us) / 1000),
    )


class StreamAdmission(msgspec.Struct, frozen=True, kw_only=True):
    """A stream admitted by `RateLimiter.stream_slot`: its transcription-tier decision and slot count.

    `decision` is None when the store was unavailable and the policy is fail-open (no slot held)."""

    identity: str
    decision: RateDecision | None
    active_streams: int
    max_streams: int
