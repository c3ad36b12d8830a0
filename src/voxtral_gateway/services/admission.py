"""Admission control: at most `max_in_flight` backend requests at once in this worker process, at most
`queue_limit` waiting for a slot (first come, first served), none waiting longer than
`max_wait_seconds`. Everything past that is refused at once with `Overloaded` (503 + Retry-After):
the gateway never queues without bound and never lets a request time out silently in its queue."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from voxtral_gateway.errors import Overloaded
from voxtral_gateway.observability import metrics
from voxtral_gateway.settings import AdmissionLimits

# Weight of the newest observation in the moving average of slot hold times.
_SMOOTHING = 0.2
_MAX_RETRY_AFTER_SECONDS = 60


class AdmissionGate:
    """One per worker process, shared by every route, in front of the backend."""

    def __init__(self, limits: AdmissionLimits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._hold_seconds: float | None = None
        """Moving average of how long a request holds its slot (None until one has finished)."""

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def has_spare(self, own: int = 0) -> bool:
        """Whether work that can wait (a long file's segments past its share) may take a slot now:
        the worker is otherwise idle — no backend request but the caller's `own` in flight, nobody
        waiting — and a quarter of the slots (at least one) stay free for whatever arrives next."""
        reserve = max(1, self.limits.max_in_flight // 4)
        return (
            not self._waiters
            and self._in_flight - own <= 0
            and self._in_flight < self.limits.max_in_flight - reserve
        )

    def expected_wait(self, position: int) -> float | None:
        """Seconds until the request at `position` in the queue (1 = next) gets a slot, judging by
        recent hold times; None before any request has finished."""
        if self._hold_seconds is None:
            return None
        return math.ceil(position / self.limits.max_in_flight) * self._hold_seconds

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block. Raises `Overloaded` before the block when the queue is full,
        the expected wait is over the limit, or the wait reached it. A cancelled waiter leaves the
        queue at once (its work never starts)."""
        await self._acquire()
        started = self._clock()
        try:
            yield
        finally:
            self._observe(self._clock() - started)
            self._release()

    async def hold(self) -> Callable[[], None]:
        """One slot for something that lasts as long as its client (a realtime model session), not one
        request: taken as `slot()` takes one (queued, or refused with `Overloaded`), and kept until the
        returned release is called (once; later calls do nothing). Its time is left out of the hold
        times the expected wait is judged by: a session's minutes say nothing of a request's seconds."""
        await self._acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release()

        return release

    async def _acquire(self) -> None:
        if self._in_flight < self.limits.max_in_flight and not self._waiters:
            self._in_flight += 1
            self._publish()
            metrics.ADMISSION_WAIT.observe(0.0)
            return
        position = len(self._waiters) + 1
        if position > self.limits.queue_limit:
            self._refuse(
                "queue_full",
                f"the gateway is at capacity: {self._in_flight} backend requests running and "
                f"{len(self._waiters)} waiting (ADMISSION_QUEUE_LIMIT={self.limits.queue_limit}); retry shortly",
                self.expected_wait(position),
            )
        expected = self.expected_wait(position)
        if expected is not None and expected > self.limits.max_wait_seconds:
            self._refuse(
                "expected_wait",
                f"the gateway is at capacity: the wait for a backend slot would be about {expected:.0f} s, "
                f"over ADMISSION_MAX_WAIT_SECONDS={self.limits.max_wait_seconds:g}; retry later",
                expected,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._publish()
        queued_at = self._clock()
        try:
            async with asyncio.timeout(self.limits.max_wait_seconds):
                await waiter
        except BaseException as exc:
            granted = waiter.done() and not waiter.cancelled()
            if granted:  # the slot was handed over as the wait ended: pass it on
                self._release()
            else:
                self._waiters.remove(waiter)
                self._publish()
            if isinstance(exc, TimeoutError):
                self._refuse(
                    "waited_too_long",
                    f"no backend slot became free within ADMISSION_MAX_WAIT_SECONDS="
                    f"{self.limits.max_wait_seconds:g} s; retry later",
                    self.expected_wait(len(self._waiters) + 1),
                )
            raise
        metrics.ADMISSION_WAIT.observe(self._clock() - queued_at)

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to the next waiter: in_flight is unchanged
                self._publish()
                return
        self._in_flight -= 1
        self._publish()

    def _observe(self, held: float) -> None:
        previous = self._hold_seconds
        self._hold_seconds = held if previous is None else previous + _SMOOTHING * (held - previous)

    def _publish(self) -> None:
        metrics.BACKEND_IN_FLIGHT.set(self._in_flight)
        metrics.BACKEND_QUEUED.set(len(self._waiters))

    def _refuse(self, reason: str, message: str, expected_wait: float | None) -> None:
        metrics.ADMISSION_REJECTIONS.labels(reason).inc()
        retry_after = min(max(math.ceil(expected_wait or 1.0), 1), _MAX_RETRY_AFTER_SECONDS)
        raise Overloaded(
            message,
            retry_after_seconds=retry_after,
            details={"reason": reason, "in_flight": self._in_flight, "queued": len(self._waiters)},
        )
