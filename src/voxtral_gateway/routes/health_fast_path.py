"""GET /health answered ahead of the framework and the gateway's other ASGI layers.

Monitors and load balancers poll it often, and it needs none of what those layers do (body parsing,
keys, rate limits, a cancellable task per request), which cost most of its time (benchmark P7). It keeps
the headers every response carries (`X-Request-ID`, `Server-Timing`); health probes are left out of
the access log and the request metrics. The report is reused for up to `_REUSE_SECONDS` (never longer
than HEALTH_CACHE_SECONDS), so a monitor polling hard costs next to nothing. While the worker drains,
it steps aside, so the normal path answers 503 `shutting_down`."""

from __future__ import annotations

import time

import msgspec
from litestar.types import ASGIApp, Receive, Scope, Send

from voxtral_gateway.observability.request_id import request_id_from
from voxtral_gateway.routes.health import health_report
from voxtral_gateway.runtime import Runtime

HEALTH_PATHS = frozenset({"/health", "/health/"})
_METHODS = frozenset({"GET", "HEAD"})
_REUSE_SECONDS = 0.5
_encoder = msgspec.json.Encoder()


class HealthFastPath:
    def __init__(self, app: ASGIApp, runtime: Runtime):
        self.app = app
        self.runtime = runtime
        self._reuse_seconds = min(_REUSE_SECONDS, runtime.settings.health_cache_seconds)
        self._cached: tuple[float, int, bytes] | None = None

    async def _report(self) -> tuple[int, bytes]:
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self._reuse_seconds:
            return cached[1], cached[2]
        status, report = await health_report(self.runtime)
        body = _encoder.encode(report)
        self._cached = (now, status, body)
        return status, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in HEALTH_PATHS
            or scope["method"] not in _METHODS
            or self.runtime.shutting_down.is_set()
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, body = await self._report()
        took_ms = (time.perf_counter() - started) * 1000
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id_from(scope).encode()),
            (b"server-timing", f"total;dur={took_ms:.3f}".encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
