"""Rate limits per identity and route tier (a sliding window in Redis, or in process) and the middleware
that applies them with API keys."""

from voxtral_gateway.ratelimit._access import AccessControl, Principal
from voxtral_gateway.ratelimit._limiter import LimiterConfig, RateLimiter
from voxtral_gateway.ratelimit._memory import InProcessWindowStore
from voxtral_gateway.ratelimit._middleware import AccessMiddleware
from voxtral_gateway.ratelimit._redis import RedisWindowStore
from voxtral_gateway.ratelimit._tiers import TIERS, Tier, is_open_path, normalize_path, tier_of
from voxtral_gateway.ratelimit._types import (
    RateDecision,
    StoreUnavailable,
    StreamAdmission,
    TierLimits,
    WindowHit,
    WindowOutcome,
)

__all__ = [
    "TIERS",
    "AccessControl",
    "AccessMiddleware",
    "InProcessWindowStore",
    "LimiterConfig",
    "Principal",
    "RateDecision",
    "RateLimiter",
    "RedisWindowStore",
    "StoreUnavailable",
    "StreamAdmission",
    "Tier",
    "TierLimits",
    "WindowHit",
    "WindowOutcome",
    "is_open_path",
    "normalize_path",
    "tier_of",
]
