"""Notice a client that goes away while its request is being worked on.

Neither granian (ASGI) nor Litestar cancels a request handler when the client disconnects: the
handler runs to the end and its upstream work with it. granian's `receive()` does tell, though: once
the request body has been read, the next `receive()` returns `http.disconnect` when the client leaves
(and blocks until then). `ReceiveWatcher` gives the app the usual `receive` and, once the body is
complete, keeps one `receive()` pending on the side to catch that message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from litestar.types import Message, Receive, Scope

DISCONNECT: Message = {"type": "http.disconnect"}
_EMPTY_BODY: Message = {"type": "http.request", "body": b"", "more_body": False}


def expects_body(scope: Scope) -> bool:
    """Whether the request carries a body the app might read (HTTP/2 may send one without a length)."""
    length: bytes | None = None
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            length = value.strip()
    if length is not None:
        return length not in (b"", b"0")
    return scope.get("http_version") not in ("1.0", "1.1")


class ReceiveWatcher:
    """Wraps the server's `receive`. The app reads its body through `receive` as before (lazily: a
    body over the route's limit is still refused before it is all buffered); from then on a watcher
    task waits for `http.disconnect` and calls `on_disconnect` once when it comes."""

    def __init__(self, receive: Receive, on_disconnect: Callable[[], None], body_expected: bool):
        self._receive = receive
        self._on_disconnect = on_disconnect
        self._body_complete = not body_expected
        # Without a body the watcher reads the server's (empty) body message; the app gets its own.
        self._owe_empty_body = not body_expected
        self.disconnected = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start watching if the body has been read (or there is none); later calls do nothing."""
        if self._body_complete and self._watcher is None and not self.disconnected.is_set():
            self._watcher = asyncio.create_task(self._watch(), name="voxtral-disconnect-watch")

    async def receive(self) -> Message:
        if self.disconnected.is_set():
            return DISCONNECT
        if not self._body_complete:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._mark_disconnected()
            elif not message.get("more_body", False):
                self._body_complete = True
                self.start()
            return message
        if self._owe_empty_body:
            self._owe_empty_body = False
            return _EMPTY_BODY
        await self.disconnected.wait()
        return DISCONNECT

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._mark_disconnected()
                return

    def _mark_disconnected(self) -> None:
        if not self.disconnected.is_set():
            self.disconnected.set()
            self._on_disconnect()

    async def close(self) -> None:
        """Stop watching (the response is complete, or the request was cancelled)."""
        watcher = self._watcher
        if watcher is None:
            return
        # The cancelled task keeps its CancelledError, whose traceback holds `_watch`'s frame and so
        # this watcher: a cycle that would keep the request (scope, body, handler) alive until the next
        # full garbage collection, thousands of requests later (benchmark P8).
        self._watcher = None
        watcher.cancel()
        await asyncio.wait({watcher})
        if not watcher.cancelled():
            watcher.exception()  # retrieved: a server error after the response is not worth a warning
