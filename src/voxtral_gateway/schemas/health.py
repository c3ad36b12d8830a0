"""GET /health/ response."""

from __future__ import annotations

from typing import Literal

import msgspec


class BackendStatus(msgspec.Struct, kw_only=True):
    kind: str
    model: str
    ready: bool
    detail: str | None = None
    url: str | None = None


class BackendServerStatus(msgspec.Struct, kw_only=True):
    """One server behind the gateway: each vLLM of VOXTRAL_BACKENDS, or the embedded engine."""

    url: str | None
    """None for the embedded engine."""
    state: Literal["healthy", "unhealthy", "unknown"]
    """`unhealthy`: out of the pool until its periodic probe succeeds; `unknown`: not probed yet."""
    ready: bool
    in_flight: int | None = None
    """Requests the gateway worker that answered has in flight there."""
    detail: str | None = None
    checked_seconds_ago: float | None = None


class AdmissionStatus(msgspec.Struct, kw_only=True):
    """Admission control in the worker that answered (ADMISSION_* settings)."""

    in_flight: int
    queued: int
    max_in_flight: int
    queue_limit: int


class Capabilities(msgspec.Struct, kw_only=True):
    """What the gateway can do with the backend it has (the playground enables its controls from this)."""

    transcription: bool = True
    live_transcription: bool = True
    understanding: bool
    """Questions about audio (`/understand/`, chat with audio): Voxtral on vLLM only."""


class JobsStatus(msgspec.Struct, kw_only=True):
    """Where asynchronous transcription jobs run (/v1/audio/transcriptions/jobs)."""

    engine: Literal["redis", "in_process"]
    durable: bool
    """False: jobs are kept in this process only and do not survive a restart (no REDIS_URL)."""
    workers: int
    """Jobs the worker that answered runs at once (JOBS_WORKERS)."""
    detail: str | None = None


class HealthResponse(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    version: str
    uptime_seconds: float
    backend: BackendStatus
    backends: list[BackendServerStatus] = msgspec.field(default_factory=list)
    admission: AdmissionStatus | None = None
    capabilities: Capabilities
    jobs: JobsStatus | None = None
