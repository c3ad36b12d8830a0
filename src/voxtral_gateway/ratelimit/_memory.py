"""The sliding-window store in this process's memory: the same algorithm as the Lua script.

Exact within one worker process only (each granian worker has its own); set REDIS_URL for limits
that hold across workers and instances."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from voxtral_gateway.ratelimit._types import MICROS, WindowHit, WindowOutcome

_SWEEP_EVERY = 4096


def monotonic_us() -> int:
    return int(time.monotonic() * MICROS)


class _Window:
    __slots__ = ("arrivals", "window_us")

    def __init__(self, window_us: int):
        self.window_us = window_us
        self.arrivals: deque[int] = deque()


class InProcessWindowStore:
    """Sliding windows and stream slots in a dict; every method runs without awaiting, so it is atomic
    on the event loop. `clock` returns microseconds (tests pass a fake one)."""

    def __init__(self, clock: Callable[[], int] = monotonic_us):
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._slots: dict[str, dict[str, int]] = {}
        self._hits = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._windows.clear()
        self._slots.clear()

    async def hit(self, hit: WindowHit) -> WindowOutcome:
        now = self._clock()
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now)
        streams = 0
        slots: dict[str, int] | None = None
        if hit.stream_bucket is not None:
            slots = self._live_slots(hit.stream_bucket, now)
            streams = len(slots)
            if streams >= hit.max_streams:
                return WindowOutcome(
                    status="streams_full", remaining=0, reset_us=0, retry_after_us=0, active_streams=streams
                )

        window = self._windows.get(hit.bucket)
        if window is None:
            window = self._windows[hit.bucket] = _Window(hit.window_us)
        window.window_us = hit.window_us
        arrivals = window.arrivals
        while arrivals and arrivals[0] <= now - hit.window_us:
            arrivals.popleft()
        count = len(arrivals)
        if count >= hit.limit:
            retry = arrivals[count - hit.limit] + hit.window_us - now
            return WindowOutcome(
                status="limited", remaining=0, reset_us=retry, retry_after_us=retry, active_streams=streams
            )

        arrivals.append(now)
        reset = arrivals[0] + hit.window_us - now
        if slots is not None:
            slots[hit.member] = now + hit.slot_ttl_us
            streams += 1
        return WindowOutcome(
            status="admitted",
            remaining=hit.limit - count - 1,
            reset_us=reset,
            retry_after_us=0,
            active_streams=streams,
        )

    async def renew(self, stream_bucket: str, member: str, slot_ttl_us: int) -> None:
        slots = self._slots.get(stream_bucket)
        if slots is not None and member in slots:
            slots[member] = self._clock() + slot_ttl_us

    async def release(self, stream_bucket: str, member: str) -> None:
        slots = self._slots.get(stream_bucket)
        if slots is not None:
            slots.pop(member, None)
            if not slots:
                del self._slots[stream_bucket]

    def _live_slots(self, stream_bucket: str, now: int) -> dict[str, int]:
        slots = self._slots.setdefault(stream_bucket, {})
        for member in [m for m, expiry in slots.items() if expiry <= now]:
            del slots[member]
        return slots

    def _sweep(self, now: int) -> None:
        # Identities that stopped sending would otherwise keep their (empty) windows forever.
        idle = [
            key for key, w in self._windows.items() if not w.arrivals or w.arrivals[-1] <= now - w.window_us
        ]
        for key in idle:
            del self._windows[key]
