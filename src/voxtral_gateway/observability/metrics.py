"""The gateway's Prometheus metrics, and their exposition.

With several granian workers, each worker process has its own counters: `run_server.py` sets
`PROMETHEUS_MULTIPROC_DIR` (a fresh directory) before the workers start, prometheus_client then keeps
every value in a memory-mapped file per process, and `/metrics` (served by any worker) adds them up.
Gauges declare how they combine (`livesum`: the sum over the workers alive). Without the variable
(one process, e.g. tests building the app in-process) the default registry is used."""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from voxtral_gateway.observability.multiprocess_dir import MULTIPROC_DIR_VARIABLE

PREFIX = "voxtral_gateway"

if os.environ.get(MULTIPROC_DIR_VARIABLE) and values.ValueClass is values.MutexValue:
    structlog.get_logger(__name__).warning(
        "metrics_not_multiprocess",
        reason=f"prometheus_client was imported before {MULTIPROC_DIR_VARIABLE} was set: "
        "/metrics shows only the worker that answers",
    )

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_WAIT_SECONDS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_REALTIME_FACTOR = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)

# --- HTTP and WebSocket --------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests_total",
    "HTTP requests answered, by method, route template and status (499: the client went away).",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=_SECONDS,
)
HTTP_IN_FLIGHT = Gauge(
    f"{PREFIX}_http_requests_in_flight",
    "HTTP requests being served now.",
    multiprocess_mode="livesum",
)
CLIENT_DISCONNECTS = Counter(
    f"{PREFIX}_client_disconnects_total",
    "Requests whose client went away before the response was complete; their work was cancelled.",
    ["route"],
)
RATE_LIMIT_REJECTIONS = Counter(
    f"{PREFIX}_rate_limit_rejections_total",
    "Requests (and WebSocket streams, tier `stream`) refused with 429 by the rate limiter, by tier.",
    ["tier"],
)
WEBSOCKET_STREAMS_OPEN = Gauge(
    f"{PREFIX}_websocket_streams_open",
    "WebSocket streams accepted and not yet closed.",
    multiprocess_mode="livesum",
)
WEBSOCKET_STREAMS_WAITING_ON_CLIENT = Gauge(
    f"{PREFIX}_websocket_streams_waiting_on_client",
    "Live streams that stopped reading their client because it has not read their messages "
    "(256 waiting); such a stream is closed as idle after STREAM_IDLE_TIMEOUT_SECONDS.",
    multiprocess_mode="livesum",
)

# --- admission control ---------------------------------------------------------------------------
BACKEND_IN_FLIGHT = Gauge(
    f"{PREFIX}_backend_requests_in_flight",
    "Backend requests holding an admission slot (ADMISSION_MAX_IN_FLIGHT per worker).",
    multiprocess_mode="livesum",
)
BACKEND_QUEUED = Gauge(
    f"{PREFIX}_backend_requests_queued",
    "Backend requests waiting for an admission slot (ADMISSION_QUEUE_LIMIT per worker).",
    multiprocess_mode="livesum",
)
ADMISSION_WAIT = Histogram(
    f"{PREFIX}_admission_wait_seconds",
    "Time a backend request waited for its admission slot.",
    buckets=_WAIT_SECONDS,
)
ADMISSION_REJECTIONS = Counter(
    f"{PREFIX}_admission_rejections_total",
    "Backend requests refused with 503 by admission control: `queue_full`, `expected_wait`, `waited_too_long`.",
    ["reason"],
)

# --- audio and backends --------------------------------------------------------------------------
AUDIO_SECONDS = Counter(
    f"{PREFIX}_audio_seconds_total",
    "Seconds of audio transcribed or answered about, by route template and backend kind.",
    ["route", "backend"],
)
AUDIO_BYTES_DECODED = Counter(
    f"{PREFIX}_audio_bytes_decoded_total",
    "Bytes of uploaded audio decoded and sent to a backend, by route template.",
    ["route"],
)
REALTIME_FACTOR = Histogram(
    f"{PREFIX}_realtime_factor",
    "Backend processing time divided by the audio's duration, per backend request (below 1 is faster than real time).",
    ["backend"],
    buckets=_REALTIME_FACTOR,
)
UPSTREAM_DURATION = Histogram(
    f"{PREFIX}_upstream_request_duration_seconds",
    "Time a backend took to answer (after admission), by backend kind, operation and outcome.",
    ["backend", "operation", "outcome"],
    buckets=_SECONDS,
)
UPSTREAM_ERRORS = Counter(
    f"{PREFIX}_upstream_errors_total",
    "Backend requests that failed, by backend kind and error code (model_unavailable, upstream_timeout, ...).",
    ["backend", "kind"],
)
POOL_REQUESTS = Counter(
    f"{PREFIX}_pool_requests_total",
    "Requests sent to each vLLM server of the pool, by outcome (`ok`, `error`, `connection_error`).",
    ["url", "outcome"],
)
POOL_RETRIES = Counter(
    f"{PREFIX}_pool_retries_total",
    "Transcriptions retried on another vLLM server after a connection error.",
)
POOL_BACKEND_UP = Gauge(
    f"{PREFIX}_pool_backend_up",
    "1 when the vLLM server is in the pool (healthy), 0 when it has been taken out.",
    ["url"],
    multiprocess_mode="livemostrecent",
)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return Path(value) if value else None


def _forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of worker processes that died without cleaning up (a crash, SIGKILL)."""
    for path in directory.glob("gauge_live*_*.db"):
        try:
            pid = int(path.stem.rsplit("_", 1)[1])
        except ValueError:
            continue
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render_metrics() -> tuple[bytes, str]:
    """The metrics of every worker process in the text exposition format, and its content type."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    _forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exiting() -> None:
    """Called when a worker shuts down cleanly: its live gauges leave the sums."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))
