"""The messages of one live stream waiting to be written to its client, bounded through the stream's input.

Events reach the outbox from callbacks that cannot wait (a final as its transcription returns, a partial as
the model decodes), so `put` never blocks. The bound comes from the input side instead: before taking
each client message, the stream's input loop awaits `room()`, which waits while `limit` messages or more
are waiting. A client that reads nothing therefore stops being read (its inbox fills, its socket's TCP
window closes, its sends block), and the outbox holds at most `limit` plus what the work already under way
emits (bounded by the stream's own limits: messages read ahead, audio buffered, utterances in flight).
`room()` raises `StreamIdle` when the client has read nothing for `stall_seconds`: the stream then ends as
at any limit."""

from __future__ import annotations

import asyncio
import collections
from typing import Generic, TypeVar

from voxtral_gateway.observability import metrics
from voxtral_gateway.services.live import limits

T = TypeVar("T")


class Outbox(Generic[T]):
    __slots__ = ("_has_items", "_has_room", "_items", "limit", "peak", "stall_seconds")

    def __init__(self, limit: int, stall_seconds: float):
        self.limit = limit
        """Messages waiting past which the stream takes no more input."""
        self.stall_seconds = stall_seconds
        """How long `room()` waits for the client to read before it gives up."""
        self.peak = 0
        """The most messages that were waiting at once."""
        self._items: collections.deque[T] = collections.deque()
        self._has_items = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        self.peak = max(self.peak, len(self._items))
        self._has_items.set()
        if len(self._items) >= self.limit:
            self._has_room.clear()

    async def get(self) -> T:
        while not self._items:
            self._has_items.clear()
            await self._has_items.wait()
        item = self._items.popleft()
        if len(self._items) < self.limit:
            self._has_room.set()
        return item

    async def room(self) -> None:
        """Wait until fewer than `limit` messages wait to be written."""
        if self._has_room.is_set():
            return
        metrics.WEBSOCKET_STREAMS_WAITING_ON_CLIENT.inc()
        try:
            async with asyncio.timeout(self.stall_seconds):
                await self._has_room.wait()
        except TimeoutError:
            raise limits.client_not_reading(self.stall_seconds, len(self._items)) from None
        finally:
            metrics.WEBSOCKET_STREAMS_WAITING_ON_CLIENT.dec()
