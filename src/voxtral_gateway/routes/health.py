"""GET /health/: is the gateway, and the model behind it, ready to serve?"""

from __future__ import annotations

import time

from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from voxtral_gateway import __version__
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.health import BackendStatus, HealthResponse


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get(
        "/",
        operation_id="health",
        summary="Gateway and backend health",
        description=(
            "200 when the backend can serve requests, 503 when it cannot (for vLLM, its `GET /health` "
            "is probed and the answer cached for HEALTH_CACHE_SECONDS). Never rate limited."
        ),
        responses={503: ResponseSpec(data_container=HealthResponse, description="The backend is not ready.")},
    )
    async def health(self, runtime: Runtime) -> Response[HealthResponse]:
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
        )
        return Response(body, status_code=200 if state.ready else 503)
