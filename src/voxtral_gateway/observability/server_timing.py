"""The `Server-Timing` response header: where a request's time went, measured while it ran.

`lifecycle.GatewayMiddleware` gives each HTTP request a `TimingRecorder` (in a context variable, so
code deep in services and backends can add to it without being handed anything) and writes the
header when the response starts. Metrics: `decode` (PyAV in a worker thread), `queue` (waiting for a CPU
pool thread), `upstream` (the model: vLLM's HTTP exchange, or the embedded engine), `total`
(always present). A metric is the wall time during which at least one such span was running, so
concurrent spans (batch files, long-audio segments) are not double counted and never exceed `total`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, Generic, TypeVar

DECODE: Final = "decode"
QUEUE: Final = "queue"
UPSTREAM: Final = "upstream"
TOTAL: Final = "total"
HEADER_NAME: Final = b"server-timing"

T = TypeVar("T")


class TimingRecorder:
    """Spans (start, end) per metric, in `time.perf_counter()` seconds."""

    __slots__ = ("spans", "started")

    def __init__(self, started: float | None = None):
        self.started = time.perf_counter() if started is None else started
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def add_span(self, metric: str, start: float, end: float) -> None:
        self.spans.setdefault(metric, []).append((start, end))

    def seconds(self, metric: str) -> float:
        """Wall time covered by the union of the metric's spans."""
        spans = self.spans.get(metric, ())
        if len(spans) == 1:
            return spans[0][1] - spans[0][0]
        covered = 0.0
        reach = float("-inf")
        for start, end in sorted(spans):
            if end <= reach:
                continue
            covered += end - max(start, reach)
            reach = end
        return covered

    def header_value(self, now: float | None = None) -> bytes:
        total = (time.perf_counter() if now is None else now) - self.started
        parts = [f"{metric};dur={self.seconds(metric) * 1000:.3f}" for metric in self.spans]
        parts.append(f"{TOTAL};dur={total * 1000:.3f}")
        return ", ".join(parts).encode("ascii")


_current: ContextVar[TimingRecorder | None] = ContextVar("server_timing", default=None)


def current_recorder() -> TimingRecorder | None:
    return _current.get()


def add_span(metric: str, start: float, end: float) -> None:
    """Record a span of the current request; a no-op outside one (tests, start-up)."""
    recorder = _current.get()
    if recorder is not None:
        recorder.add_span(metric, start, end)


@contextmanager
def timed(metric: str) -> Iterator[None]:
    """Record the time the block takes, whether it returns or raises."""
    start = time.perf_counter()
    try:
        yield
    finally:
        add_span(metric, start, time.perf_counter())


class TimedCall(Generic[T]):
    """A callable for a worker thread that notes when it started and finished running there.

    Thread pools do not carry context variables over, so the times are noted here and recorded
    by `record`, back on the caller's side."""

    __slots__ = ("finished", "func", "started")

    def __init__(self, func: Callable[[], T]):
        self.func = func
        self.started: float | None = None
        self.finished: float | None = None

    def __call__(self) -> T:
        self.started = time.perf_counter()
        try:
            return self.func()
        finally:
            self.finished = time.perf_counter()

    def record(self, waiting_since: float, metric: str | None) -> None:
        """The wait as `queue`, the run (if it started) as `metric`."""
        now = time.perf_counter()
        started = self.started if self.started is not None else now
        add_span(QUEUE, waiting_since, started)
        if metric is not None and self.started is not None:
            add_span(metric, self.started, self.finished if self.finished is not None else now)


@contextmanager
def recording(recorder: TimingRecorder) -> Iterator[TimingRecorder]:
    """Make `recorder` the current request's (for this task and the tasks it starts)."""
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)
