"""A stream's CPU work (decoding, VAD) where it costs least: on the event loop when it is tiny, in the
decode pool when it is not. "Tiny" is predicted from what the stream's work has cost so far."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import Overloaded
from voxtral_gateway.services.live.config import StreamConfig

T = TypeVar("T")


class CpuWork:
    """One per stream: its measured cost per input byte decides inline vs pool for the next message."""

    def __init__(self, pool: CpuPool, config: StreamConfig):
        self._pool = pool
        self._config = config
        self.seconds_per_byte = config.initial_seconds_per_byte

    async def run(self, size: int, func: Callable[..., T], *args: Any) -> T:
        """`func(*args)` for `size` bytes of input: inline if predicted under `inline_budget_seconds`
        (a thread hop costs more than that), else in the decode pool, retrying every
        `overloaded_retry_seconds` while it is full. Raises the pool's `Overloaded` once it has stayed
        full for `overloaded_max_wait_seconds`."""
        config = self._config
        inline = (
            size <= config.inline_decode_bytes
            and self.seconds_per_byte * size <= config.inline_budget_seconds
        )
        timed = _Timed(func, args)
        if inline:
            result = timed()
        else:
            result = await self._in_pool(timed)
        if size:
            self.seconds_per_byte = 0.7 * self.seconds_per_byte + 0.3 * timed.elapsed / size
        return result

    async def _in_pool(self, timed: _Timed) -> Any:
        config = self._config
        give_up = time.monotonic() + config.overloaded_max_wait_seconds
        while True:
            try:
                return await self._pool.run(timed)
            except Overloaded:
                if time.monotonic() + config.overloaded_retry_seconds > give_up:
                    raise
                await asyncio.sleep(config.overloaded_retry_seconds)


class _Timed:
    """A call that remembers the CPU time it took (on whichever thread runs it). CPU time, not wall time:
    on a busy machine a call descheduled halfway would otherwise look costly, and the stream's small
    messages would all be sent to the pool, where they queue behind every other stream's."""

    __slots__ = ("args", "elapsed", "func")

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]):
        self.func, self.args, self.elapsed = func, args, 0.0

    def __call__(self) -> Any:
        started = time.thread_time()
        try:
            return self.func(*self.args)
        finally:
            self.elapsed = time.thread_time() - started
