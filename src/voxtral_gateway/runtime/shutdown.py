"""Graceful shutdown of one worker process on SIGTERM.

What granian does by itself (found by experiment, granian 2.x ASGI): on SIGTERM a worker stops
accepting connections and waits for in-flight HTTP requests, but it drops open WebSocket connections
at once, without a close frame. So the gateway takes SIGTERM over (it replaces granian's handler for
that one signal, in the lifespan):

1. `draining` is set. New HTTP requests are answered 503 `shutting_down` (Retry-After, Connection:
   close) and new WebSockets are closed with 1012; open streams see `draining`, send their final
   `done`/`error` message and close cleanly.
2. Once the streams are closed (or the deadline has passed and the rest were cancelled), SIGINT is
   raised in the worker: granian's own handler, which stops accepting and drains in-flight HTTP.
3. SHUTDOWN_TIMEOUT_SECONDS after SIGTERM, HTTP requests still running are cancelled (503 if their
   response had not started); granian then finishes and the lifespan's shutdown runs.

SIGINT (Ctrl-C) keeps granian's immediate behaviour: in-flight HTTP is drained, streams are dropped."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def hand_over_to_server() -> None:
    """Step 2: granian (and uvicorn) treat SIGINT as "stop accepting, finish in-flight requests"."""
    os.kill(os.getpid(), signal.SIGINT)


class ShutdownCoordinator:
    """One per worker process (on the runtime). Tracks the handler tasks of HTTP requests and
    WebSocket streams so it can wait for them and cancel what outlives the deadline."""

    def __init__(self, timeout_seconds: float, hand_over: Callable[[], None] = hand_over_to_server):
        self.timeout_seconds = timeout_seconds
        self.draining = asyncio.Event()
        """Set when shutdown begins: streams finish (final `done`/`error`, clean close), nothing new starts."""
        self.deadline_passed = False
        """Set when the work still running has been cancelled for good."""
        self._hand_over = hand_over
        self._requests: set[asyncio.Task[None]] = set()
        self._streams: set[asyncio.Task[None]] = set()
        self._drain_task: asyncio.Task[None] | None = None
        self._signal_loop: asyncio.AbstractEventLoop | None = None

    @property
    def requests_in_flight(self) -> int:
        return len(self._requests)

    @property
    def streams_open(self) -> int:
        return len(self._streams)

    def install_signal_handler(self) -> bool:
        """Take SIGTERM over on the running loop (call from the lifespan, in the worker's main thread).
        False when signals cannot be handled here (not the main thread, or not a Unix loop)."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGTERM, self.begin)
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        self._signal_loop = loop
        return True

    def track_request(self, task: asyncio.Task[None]) -> None:
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def track_stream(self, task: asyncio.Task[None]) -> None:
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    def begin(self) -> None:
        """Start draining (idempotent): the SIGTERM handler."""
        if self.draining.is_set():
            return
        self.draining.set()
        log.info(
            "shutdown_started",
            requests_in_flight=len(self._requests),
            streams_open=len(self._streams),
            timeout_seconds=self.timeout_seconds,
        )
        self._drain_task = asyncio.create_task(self._drain(), name="voxtral-shutdown")

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        if not await _wait_until(self._streams, deadline):
            self._cancel_all(self._streams, "streams")
        self._hand_over()
        if not await _wait_until(self._requests, deadline):
            self.deadline_passed = True
            self._cancel_all(self._requests, "requests")
        log.info("shutdown_drained")

    def _cancel_all(self, tasks: set[asyncio.Task[None]], what: str) -> None:
        log.warning(
            "shutdown_deadline_cancels", what=what, count=len(tasks), timeout_seconds=self.timeout_seconds
        )
        for task in list(tasks):
            task.cancel()

    async def close(self) -> None:
        """At the lifespan's end, first: streams still open (shutdown not begun by SIGTERM) are told too.
        SIGTERM stays taken over (see `give_back_signal`)."""
        self.draining.set()
        if self._drain_task is not None and not self._drain_task.done():
            self._drain_task.cancel()
            await asyncio.wait({self._drain_task})

    def give_back_signal(self) -> None:
        """At the lifespan's very end: SIGTERM's default action comes back (an app built in a test process
        must not keep it). Not sooner: granian's main process sends its workers a SIGTERM of its own, which
        may arrive while the runtime is still closing (handing jobs back); until here it is ignored, as
        shutdown has begun."""
        if self._signal_loop is not None:
            self._signal_loop.remove_signal_handler(signal.SIGTERM)
            self._signal_loop = None


async def _wait_until(tasks: set[asyncio.Task[None]], deadline: float) -> bool:
    """Wait for `tasks` (a live set) to finish before `deadline`; False if some are still running."""
    loop = asyncio.get_running_loop()
    while tasks:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.wait(set(tasks), timeout=remaining)
    return True
