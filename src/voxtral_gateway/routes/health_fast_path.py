"""GET /health answered ahead of the framework and the gateway's other ASGI layers.

Monitors and load balancers poll it often, and it needs none of what those layers do (body parsing,
keys, rate limits, a cancellable task per request), which cost most of its time (benchmark P7). It keeps
the headers every response carries (`X-Request-ID`, `Server-Timing`); health probes are left out of
the access log and the request metrics. The report comes from `HealthReporter` (reused for
HEALTH_CACHE_SECONDS), so a monitor polling hard costs next to nothing. While the worker drains, it
steps aside, so the normal path answers 503 `shutting_down`."""

from __future__ import annotations

import asyncio
import time

from litestar.types import ASGIApp, Receive, Scope, Send

from voxtral_gateway.observability.request_id import request_id_from
from voxtral_gateway.routes.health import HealthReporter

HEALTH_PATHS = frozenset({"/health", "/health/"})
_METHODS = frozenset({"GET", "HEAD"})


class HealthFastPath:
    def __init__(self, app: ASGIApp, reporter: HealthReporter, draining: asyncio.Event):
        self.app = app
        self.reporter = reporter
        self.draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in HEALTH_PATHS
            or scope["method"] not in _METHODS
            or self.draining.is_set()
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        report = await self.reporter.report()
        took_ms = (time.perf_counter() - started) * 1000
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(report.body)).encode()),
            (b"x-request-id", request_id_from(scope).encode()),
            (b"server-timing", f"total;dur={took_ms:.3f}".encode()),
        ]
        await send({"type": "http.response.start", "status": report.status, "headers": headers})
        await send({"type": "http.response.body", "body": report.body if scope["method"] == "GET" else b""})
