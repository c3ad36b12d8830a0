"""Prometheus metrics of asynchronous jobs (same registry and multiprocess rules as `metrics.py`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from voxtral_gateway.observability.metrics import PREFIX

_JOB_SECONDS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

JOBS_SUBMITTED = Counter(f"{PREFIX}_jobs_submitted_total", "Jobs accepted (202) by this gateway.")
JOBS_FINISHED = Counter(
    f"{PREFIX}_jobs_finished_total",
    "Jobs whose outcome this gateway wrote, by status (`completed`, `failed`); a cancellation is counted "
    "where it was asked for (`cancelled`).",
    ["status"],
)
JOBS_RUNNING = Gauge(
    f"{PREFIX}_jobs_running", "Jobs this gateway's workers are running now.", multiprocess_mode="livesum"
)
JOBS_TAKEN_OVER = Counter(
    f"{PREFIX}_jobs_taken_over_total",
    "Jobs claimed from a worker that stopped renewing its claim (a dead or stuck gateway).",
)
JOB_DURATION = Histogram(
    f"{PREFIX}_job_duration_seconds",
    "From a job's start (its last run's) to its outcome, for jobs this gateway finished.",
    buckets=_JOB_SECONDS,
)
WEBHOOK_ATTEMPTS = Counter(
    f"{PREFIX}_webhook_attempts_total",
    "Webhook POSTs, by outcome: `delivered` (2xx), `retried`, `failed` (gave up or the address is refused).",
    ["outcome"],
)
