"""GET /health/: is the gateway, and the model behind it, ready to serve?"""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from voxtral_gateway import __version__
from voxtral_gateway.backends import BackendHealth, SpeechBackend
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.health import AdmissionStatus, BackendServerStatus, BackendStatus, HealthResponse


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="health",
        summary="Gateway and backend health",
        description=(
            "200 when the backend can serve requests, 503 when it cannot (for vLLM, its `GET /health` "
            "is probed and the answer cached for HEALTH_CACHE_SECONDS). `backends` lists each server "
            "(each vLLM of VOXTRAL_BACKENDS, with its pool state; or the embedded engine): ready when "
            "at least one is. Never rate limited."
        ),
        responses={503: ResponseSpec(data_container=HealthResponse, description="The backend is not ready.")},
    )
    async def health(self, runtime: Runtime) -> Response[HealthResponse]:
        # Served by `HealthFastPath` ahead of the framework; this handler documents the route and
        # answers when the fast path hands over (while the worker drains).
        status, body = await health_report(runtime)
        return Response(body, status_code=status)


async def health_report(runtime: Runtime) -> tuple[int, HealthResponse]:
    """The health status code and body: 200 when the backend can serve, else 503."""
    backend = runtime.backend
    state = await backend.health()
    body = HealthResponse(
        status="ok" if state.ready else "unavailable",
        version=__version__,
        uptime_seconds=round(time.monotonic() - runtime.started_at, 3),
        backend=BackendStatus(
            kind=backend.kind,
            model=backend.model_name,
            ready=state.ready,
            detail=state.detail,
            url=getattr(backend, "base_url", None),
        ),
        backends=_servers(backend, state),
        admission=AdmissionStatus(
            in_flight=runtime.admission.in_flight,
            queued=runtime.admission.queued,
            max_in_flight=runtime.admission.limits.max_in_flight,
            queue_limit=runtime.admission.limits.queue_limit,
        ),
    )
    return (200 if state.ready else 503), body


def _servers(backend: SpeechBackend, state: BackendHealth) -> list[BackendServerStatus]:
    if not state.members:  # one engine in process
        return [
            BackendServerStatus(
                url=getattr(backend, "base_url", None),
                state="healthy" if state.ready else "unhealthy",
                ready=state.ready,
                detail=state.detail,
            )
        ]
    return [
        BackendServerStatus(
            url=member.url,
            state=member.state,
            ready=member.state == "healthy",
            in_flight=member.in_flight,
            detail=member.detail,
            checked_seconds_ago=member.checked_seconds_ago,
        )
        for member in state.members
    ]
