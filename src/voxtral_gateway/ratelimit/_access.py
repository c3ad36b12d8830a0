"""Access to the gateway, per request or stream: who is calling (API key, else client address),
may they (401/403), and how much (the tier's rate limit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

from voxtral_gateway.auth import DEFAULT_KEYS_FILE, ApiKeyStore, KeyLimits, bearer_key, query_key
from voxtral_gateway.errors import Forbidden, Unauthorized
from voxtral_gateway.observability.request_id import current_request
from voxtral_gateway.ratelimit._client_address import ClientAddressResolver
from voxtral_gateway.ratelimit._limiter import LimiterConfig, RateLimiter
from voxtral_gateway.ratelimit._memory import InProcessWindowStore
from voxtral_gateway.ratelimit._redis import RedisWindowStore
from voxtral_gateway.ratelimit._tiers import Tier, tier_of
from voxtral_gateway.ratelimit._types import RateDecision, StreamAdmission, TierLimits
from voxtral_gateway.settings import AuthSettings, RateLimitSettings

_AUTH_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="voxtral-gateway"'}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling. `identity` names the rate-limit buckets: `key:<id>` or `ip:<address>`."""

    identity: str
    key_id: str | None = None
    key_name: str | None = None
    limits: KeyLimits | None = None


class AccessControl:
    """API keys, client identity and rate limits for one worker; built by `from_settings`, started and
    closed by the app's lifespan (the Redis pool is created in `start`)."""

    def __init__(
        self,
        *,
        keys: ApiKeyStore | None,
        limiter: RateLimiter | None,
        addresses: ClientAddressResolver,
        limits: TierLimits,
        max_streams: int,
    ):
        self.keys = keys
        self.limiter = limiter
        self.addresses = addresses
        self.limits = limits
        self.max_streams = max_streams

    @classmethod
    def from_settings(cls, rate_limits: RateLimitSettings, auth: AuthSettings) -> AccessControl:
        """Raises `KeysFileError` when API_KEYS_FILE is set and unreadable (keys must not silently vanish)."""
        keys_path = Path(auth.api_keys_file) if auth.api_keys_file else None
        if keys_path is None and DEFAULT_KEYS_FILE.is_file():
            keys_path = DEFAULT_KEYS_FILE
        limiter: RateLimiter | None = None
        if rate_limits.enabled:
            config = LimiterConfig(
                window_seconds=rate_limits.window_seconds,
                key_prefix=rate_limits.key_prefix,
                fail_open=rate_limits.fail_open,
            )
            if rate_limits.redis_url:
                store = RedisWindowStore(rate_limits.redis_url, rate_limits.redis_timeout_seconds)
                limiter = RateLimiter(store, "redis", config)
            else:
                limiter = RateLimiter(InProcessWindowStore(), "in_process", config)
        return cls(
            keys=ApiKeyStore(keys_path) if keys_path is not None else None,
            limiter=limiter,
            addresses=ClientAddressResolver(rate_limits.trusted_proxies.networks),
            limits=TierLimits(
                general=rate_limits.general_limit,
                transcription=rate_limits.transcription,
                understanding=rate_limits.understanding,
                batch=rate_limits.batch,
            ),
            max_streams=rate_limits.max_streams_per_identity,
        )

    @property
    def active(self) -> bool:
        """False when there is neither a key file nor a limiter: the middleware is then left out."""
        return self.keys is not None or self.limiter is not None

    async def start(self) -> None:
        if self.limiter is not None:
            await self.limiter.start()

    async def close(self) -> None:
        if self.limiter is not None:
            await self.limiter.close()

    def principal(self, scope: Any) -> Principal:
        """The caller of an HTTP or WebSocket scope. Raises `Unauthorized` (keys configured, none sent)
        or `Forbidden` (unknown or disabled key). Without configured keys a sent key is ignored."""
        authorization: str | None = None
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
        if self.keys is not None:
            key = bearer_key(authorization)
            if key is None and scope["type"] == "websocket":
                key = query_key(scope.get("query_string", b""))
            if key is None:
                raise Unauthorized(
                    "this route needs an API key: send `Authorization: Bearer <key>`",
                    field="Authorization",
                    headers=_AUTH_CHALLENGE,
                )
            record = self.keys.verify(key)
            if record is None or record.disabled:
                raise Forbidden("the API key is unknown or disabled", field="Authorization")
            return Principal(
                identity=f"key:{record.id}", key_id=record.id, key_name=record.name, limits=record.limits
            )
        client = scope.get("client")
        address = self.addresses.resolve(client[0] if client else None, forwarded_for)
        return Principal(identity=f"ip:{address}")

    def limit_for(self, principal: Principal, tier: Tier) -> int:
        override = getattr(principal.limits, tier) if principal.limits is not None else None
        return override if override is not None else self.limits.of(tier)

    def max_streams_for(self, principal: Principal) -> int:
        override = principal.limits.max_streams if principal.limits is not None else None
        return override if override is not None else self.max_streams

    async def admit_request(self, scope: Any) -> RateDecision | None:
        """For an HTTP request: check its key and count it in its path's tier. None when the path is open
        (health, docs, metrics), limits are off, or the store is down and failing open. Raises
        `Unauthorized`, `Forbidden`, `RateLimited` or `RateLimiterUnavailable`."""
        tier = tier_of(scope["path"], scope.get("method", "GET"))
        if tier is None:
            return None
        if (context := current_request()) is not None:
            context.rate_limit_tier = tier  # labels the request's metrics (a 429 by tier)
        principal = self.principal(scope)
        if self.limiter is None:
            return None
        return await self.limiter.admit(principal.identity, tier, self.limit_for(principal, tier))

    @asynccontextmanager
    async def stream_slot(self, scope: Any) -> AsyncIterator[StreamAdmission]:
        """Admit a WebSocket stream for as long as the block runs.

        On entry: checks the API key (the `Authorization` header, or the `api_key` query parameter), counts
        the stream once against the transcription tier and takes one of the identity's
        MAX_STREAMS_PER_IDENTITY slots, all in one store call; on exit the slot is released (in Redis a slot
        is a lease renewed while the block runs, so a crashed worker's slots expire within 30 s).

        Raises, before the block runs (send the client an `error` message from `error_detail(exc)`, then
        close with `4000 + status_of(exc)`): `Unauthorized` 401, `Forbidden` 403, `RateLimited` 429
        (`retry_after_seconds`, `tier`), `TooManyStreams` 429, `RateLimiterUnavailable` 503.

            async with runtime.access.stream_slot(socket.scope) as admission:
                await socket.accept()
                ...  # admission.identity, admission.decision (None when unlimited)
        """
        principal = self.principal(scope)
        if self.limiter is None:
            yield StreamAdmission(identity=principal.identity, decision=None, active_streams=0, max_streams=0)
            return
        async with self.limiter.stream_slot(
            principal.identity, self.limit_for(principal, "transcription"), self.max_streams_for(principal)
        ) as admission:
            yield admission
