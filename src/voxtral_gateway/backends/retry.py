"""One retry policy for calls to a speech engine: which errors are worth another attempt, how many
attempts in all, and how long to wait between them.

    await retrying(TRANSCRIPTION_FAILOVER, lambda attempt: send(attempt), on_retry=log_it)

The pool's failover uses it (each attempt goes to another server); a caller retrying whole requests
(segments of a long file, CPU work refused while a pool is full) builds its own `RetryPolicy`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

from voxtral_gateway.errors import UpstreamBusy, UpstreamDisconnected, UpstreamUnreachable

T = TypeVar("T")


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    attempts: Annotated[int, Meta(ge=1)]
    """Attempts in all, the first included (1: never retried)."""
    retry_on: tuple[type[Exception], ...]
    """Errors worth another attempt."""
    never_on: tuple[type[Exception], ...] = ()
    """Subclasses of `retry_on` that are not (e.g. a request the model refused: it would be again)."""
    backoff_seconds: float = 0.0
    """The wait before attempt n + 1 is n × this (0: at once)."""

    def allows_retry(self, error: Exception, attempt: int) -> bool:
        """Whether `error`, raised by attempt number `attempt` (from 1), is tried again."""
        return (
            attempt < self.attempts
            and isinstance(error, self.retry_on)
            and not isinstance(error, self.never_on)
        )

    def at_most(self, attempts: int) -> RetryPolicy:
        """The same policy with no more than `attempts` attempts (e.g. one per server of a pool)."""
        return msgspec.structs.replace(self, attempts=max(1, min(self.attempts, attempts)))


TRANSCRIPTION_FAILOVER = RetryPolicy(
    attempts=2, retry_on=(UpstreamUnreachable, UpstreamDisconnected, UpstreamBusy)
)
"""A transcription changes nothing on the server: one that could not connect, whose connection
dropped, or that a full queue refused, is sent once more (to another server of a pool)."""

CHAT_FAILOVER = RetryPolicy(attempts=2, retry_on=(UpstreamUnreachable, UpstreamBusy))
"""Generation is not idempotent: only a request that never started on a server (no connection, or
refused by its full queue) is sent again."""


async def retrying(
    policy: RetryPolicy,
    call: Callable[[int], Awaitable[T]],
    on_retry: Callable[[Exception, int], None] | None = None,
) -> T:
    """`call(attempt)` (attempt counts from 1) until it returns or raises an error the policy does not
    retry; that error, or the last attempt's, propagates. `on_retry(error, attempt)` runs before each
    retry (logs, metrics)."""
    attempt = 1
    while True:
        try:
            return await call(attempt)
        except Exception as error:
            if not policy.allows_retry(error, attempt):
                raise
            if on_retry is not None:
                on_retry(error, attempt)
            if policy.backoff_seconds:
                await asyncio.sleep(policy.backoff_seconds * attempt)
            attempt += 1
