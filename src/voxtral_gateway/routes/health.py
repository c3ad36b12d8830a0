"""GET /health/: is the gateway, and the model behind it, ready to serve?

The report is the one place health is cached: `HealthReporter` reuses it for HEALTH_CACHE_SECONDS
(the backend is probed at most that often, however hard monitors poll), for `HealthFastPath` and this
controller alike."""

from __future__ import annotations

import asyncio
import time

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from voxtral_gateway import __version__
from voxtral_gateway.schemas.health import (
    AdmissionStatus,
    BackendServerStatus,
    BackendStatus,
    Capabilities,
    HealthResponse,
    JobsStatus,
)
from voxtral_gateway.services.health import GatewayHealth, HealthService, JobsSnapshot


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="health",
        summary="Gateway and backend health",
        description=(
            "200 when the backend can serve requests, 503 when it cannot (for vLLM, its `GET /health` "
            "is probed; the report is reused for HEALTH_CACHE_SECONDS). `backends` lists each server "
            "(each vLLM of VOXTRAL_BACKENDS, with its pool state; or the embedded engine): ready when "
            "at least one is. Never rate limited."
        ),
        responses={503: ResponseSpec(data_container=HealthResponse, description="The backend is not ready.")},
    )
    async def health(self, health_reporter: NamedDependency[HealthReporter]) -> Response[HealthResponse]:
        # Served by `HealthFastPath` ahead of the framework; this handler documents the route and
        # answers when the fast path hands over.
        report = await health_reporter.report()
        return Response(report.body, status_code=report.status, media_type="application/json")


class EncodedHealth(msgspec.Struct, frozen=True):
    status: int
    """200 when the backend can serve, else 503."""
    body: bytes
    """The `HealthResponse`, as JSON."""


class HealthReporter:
    """The health report, built at most once per `cache_seconds` (HEALTH_CACHE_SECONDS; 0: every time).
    Concurrent callers while it is being built share that one build."""

    def __init__(self, health: HealthService, cache_seconds: float):
        self._health = health
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, EncodedHealth] | None = None
        self._building = asyncio.Lock()

    def _fresh(self) -> EncodedHealth | None:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        return None

    async def report(self) -> EncodedHealth:
        if (fresh := self._fresh()) is not None:
            return fresh
        async with self._building:
            if (fresh := self._fresh()) is not None:
                return fresh
            status, body = health_response(await self._health.check())
            report = EncodedHealth(status, _encoder.encode(body))
            self._cached = (time.monotonic(), report)
            return report


_encoder = msgspec.json.Encoder()


def health_response(health: GatewayHealth) -> tuple[int, HealthResponse]:
    """The health status code and body: 200 when the backend can serve, else 503."""
    admission = health.admission
    body = HealthResponse(
        status="ok" if health.ready else "unavailable",
        version=__version__,
        uptime_seconds=health.uptime_seconds,
        backend=BackendStatus(
            kind=health.backend_kind,
            model=health.model,
            ready=health.ready,
            detail=health.detail,
            url=health.url,
        ),
        backends=[
            BackendServerStatus(
                url=server.url,
                state=server.state,
                ready=server.state == "healthy",
                in_flight=server.in_flight,
                detail=server.detail,
                checked_seconds_ago=server.checked_seconds_ago,
            )
            for server in health.servers
        ],
        admission=AdmissionStatus(
            in_flight=admission.in_flight,
            queued=admission.queued,
            max_in_flight=admission.max_in_flight,
            queue_limit=admission.queue_limit,
        ),
        capabilities=Capabilities(understanding=health.understanding),
        jobs=_jobs_status(health.jobs),
    )
    return (200 if health.ready else 503), body


_NOT_DURABLE = "jobs run in this process and do not survive a restart (set REDIS_URL or JOBS_REDIS_URL)"


def _jobs_status(jobs: JobsSnapshot | None) -> JobsStatus | None:
    if jobs is None:
        return None
    return JobsStatus(
        engine="redis" if jobs.engine == "redis" else "in_process",
        durable=jobs.durable,
        workers=jobs.workers,
        detail=jobs.problem or (None if jobs.durable else _NOT_DURABLE),
    )
