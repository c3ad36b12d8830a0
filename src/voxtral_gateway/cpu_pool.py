"""A bounded pool for CPU-bound work (decoding, the embedded model), off the event loop."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from voxtral_gateway.errors import Overloaded
from voxtral_gateway.observability.server_timing import TimedCall

P = ParamSpec("P")
T = TypeVar("T")


class CpuPool:
    """Runs blocking callables on `workers` threads with at most `queue_limit` callers waiting.

    Past that, `run` raises `Overloaded` at once instead of queueing without bound."""

    def __init__(self, name: str, workers: int, queue_limit: int, metric: str | None = None):
        self.name = name
        self.workers = workers
        self.queue_limit = queue_limit
        self.metric = metric
        """The Server-Timing metric a job's run time counts towards (its wait is always `queue`)."""
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._slots.locked() and self._waiting >= self.queue_limit:
            raise Overloaded(
                f"the {self.name} pool is busy ({self.workers} running, {self._waiting} waiting); retry shortly"
            )
        waiting_since = time.perf_counter()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            loop = asyncio.get_running_loop()
            # A cancelled caller leaves the job running to completion on its thread, but a job
            # that has not started yet is dropped by the executor's cancel.
            job = TimedCall(functools.partial(func, *args, **kwargs))
            try:
                return await loop.run_in_executor(self._executor, job)
            finally:
                job.record(waiting_since, self.metric)
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
