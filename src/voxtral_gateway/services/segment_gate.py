"""How many segments of one long file may be in flight: a guaranteed share, and more while the worker has
backend slots to spare.

vLLM's continuous batching takes many concurrent requests nearly as cheaply as one, so a long file is
fastest with all its segments in flight at once. Other requests must not wait behind it, though: past
its `share`, a segment starts only while `spare(own in flight)` says so: the worker is otherwise idle
(no other backend request in flight or waiting) and keeps a reserve of free slots
(`AdmissionGate.has_spare`). Segments already running are never stopped; when other work arrives, the
file stops growing and falls back to its share as its segments finish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class SegmentGate:
    """Per request. `share`: segments that may always run; `limit`: never more than this at once."""

    def __init__(self, share: int, limit: int, spare: Callable[[int], bool] | None = None):
        self.share = min(share, limit)
        self.limit = limit
        self._spare = spare
        self.in_flight = 0
        self.most = 0
        """The most segments in flight at once so far (for tests and logs)."""
        self._changed = asyncio.Condition()

    def _may_start(self) -> bool:
        if self.in_flight < self.share:
            return True
        return self.in_flight < self.limit and self._spare is not None and self._spare(self.in_flight)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait until this request may start one more segment, and count it in flight for the block."""
        async with self._changed:
            # Re-checked whenever one of this request's segments ends: at or above its share, one of
            # them is always running, so a waiter is never stranded.
            await self._changed.wait_for(self._may_start)
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()
