"""The one retry policy (backends/retry.py), and the pool's failover built on it."""

from __future__ import annotations

import asyncio

import pytest

from voxtral_gateway.backends.base import TranscriptionOptions
from voxtral_gateway.backends.chat import SamplingParams
from voxtral_gateway.backends.pool import VLLMPool
from voxtral_gateway.backends.retry import CHAT_FAILOVER, TRANSCRIPTION_FAILOVER, RetryPolicy, retrying
from voxtral_gateway.errors import (
    UpstreamBusy,
    UpstreamDisconnected,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from voxtral_gateway.settings import load_settings


class Flaky:
    """Fails with the given errors, in order, then answers with the attempt number."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.attempts: list[int] = []

    async def __call__(self, attempt: int) -> int:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return attempt


async def test_retries_what_the_policy_names_up_to_its_attempts():
    policy = RetryPolicy(attempts=3, retry_on=(UpstreamError,))
    call = Flaky(UpstreamError("a"), UpstreamTimeout("b"))
    retried: list[tuple[str, int]] = []
    assert await retrying(policy, call, lambda error, n: retried.append((str(error), n))) == 3
    assert call.attempts == [1, 2, 3] and retried == [("a", 1), ("b", 2)]

    exhausted = Flaky(UpstreamError("1"), UpstreamError("2"), UpstreamError("3"))
    with pytest.raises(UpstreamError, match="3"):  # the last attempt's error propagates
        await retrying(policy, exhausted)
    assert exhausted.attempts == [1, 2, 3]


async def test_errors_outside_the_policy_and_excluded_ones_are_not_retried():
    policy = RetryPolicy(attempts=5, retry_on=(UpstreamError,), never_on=(UpstreamRejected,))
    refused = Flaky(UpstreamRejected("no", upstream_status=400))
    with pytest.raises(UpstreamRejected):
        await retrying(policy, refused)
    assert refused.attempts == [1]
    other = Flaky(ValueError("a bug"))
    with pytest.raises(ValueError):
        await retrying(policy, other)
    assert other.attempts == [1]


async def test_backoff_grows_with_each_attempt(monkeypatch):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    policy = RetryPolicy(attempts=3, retry_on=(UpstreamError,), backoff_seconds=0.2)
    assert await retrying(policy, Flaky(UpstreamError("a"), UpstreamError("b"))) == 3
    assert waits == [0.2, 0.4]


def test_failover_policies():
    assert TRANSCRIPTION_FAILOVER.allows_retry(UpstreamDisconnected("dropped"), 1)
    assert not TRANSCRIPTION_FAILOVER.allows_retry(UpstreamDisconnected("dropped"), 2)
    # Generation is not idempotent: a chat that reached a server is not sent again.
    assert CHAT_FAILOVER.allows_retry(UpstreamUnreachable("refused"), 1)
    assert not CHAT_FAILOVER.allows_retry(UpstreamDisconnected("dropped"), 1)
    assert TRANSCRIPTION_FAILOVER.at_most(1).attempts == 1


class _Server:
    def __init__(self, error: Exception | None, deltas_before_error: int = 0):
        self.error = error
        self.deltas_before_error = deltas_before_error
        self.calls = 0

    async def transcribe(self, audio, options):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return "transcript"

    async def stream_chat(self, body):
        self.calls += 1
        for n in range(self.deltas_before_error):
            yield f"delta {n}"
        if self.error is not None:
            raise self.error
        yield "last"


def _pool_with(*servers: _Server) -> VLLMPool:
    urls = ",".join(f"http://s{i}:1" for i in range(len(servers)))
    settings = load_settings({"VOXTRAL_BACKENDS": urls})
    pool = VLLMPool(settings.vllm, settings.timeouts)
    for member, server in zip(pool.members, servers, strict=True):
        member.backend = server  # type: ignore[assignment]
        member.state = "healthy"
    return pool


async def test_the_pool_fails_over_once_to_another_server():
    down, up = _Server(UpstreamUnreachable("refused")), _Server(None)
    pool = _pool_with(down, up)
    pool.members[1].in_flight = 1  # the failing server is chosen first
    assert await pool.transcribe(None, TranscriptionOptions()) == "transcript"  # type: ignore[arg-type]
    assert (down.calls, up.calls) == (1, 1)
    assert pool.members[0].state == "unhealthy"


async def test_one_server_is_tried_once():
    alone = _Server(UpstreamUnreachable("refused"))
    with pytest.raises(UpstreamUnreachable):
        await _pool_with(alone).transcribe(None, TranscriptionOptions())  # type: ignore[arg-type]
    assert alone.calls == 1


async def _streamed_chat(pool: VLLMPool) -> list[str]:
    return [delta async for delta in pool.chat_stream([], SamplingParams())]


async def test_a_streamed_chat_refused_before_its_first_delta_goes_to_another_server():
    busy, free = _Server(UpstreamBusy("queue full", retry_after_seconds=1)), _Server(None)
    pool = _pool_with(busy, free)
    pool.members[1].in_flight = 1  # the busy server is chosen first
    assert await _streamed_chat(pool) == ["last"]
    assert (busy.calls, free.calls) == (1, 1)
    assert pool.members[0].state == "healthy"  # busy is not down
    assert [member.in_flight for member in pool.members] == [0, 1]


async def test_a_streamed_chat_is_never_failed_over_once_a_delta_was_passed_on():
    # Whatever the error (even one the policy retries), a second server would start a new answer.
    failing, other = (
        _Server(UpstreamBusy("queue full", retry_after_seconds=1), deltas_before_error=1),
        _Server(None),
    )
    pool = _pool_with(failing, other)
    pool.members[1].in_flight = 1
    received: list[str] = []
    with pytest.raises(UpstreamBusy):
        async for delta in pool.chat_stream([], SamplingParams()):
            received.append(delta)
    assert received == ["delta 0"]
    assert (failing.calls, other.calls) == (1, 0)
