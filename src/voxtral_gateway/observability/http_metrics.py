"""Request metrics: HTTP requests by route template (never the raw URL), status and duration;
open WebSocket streams; rate-limit refusals. Called by `lifecycle.GatewayMiddleware`."""

from __future__ import annotations

import time

from voxtral_gateway.observability import metrics
from voxtral_gateway.observability.request_id import RequestContext

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def http_request_started() -> None:
    metrics.HTTP_IN_FLIGHT.inc()


def http_request_finished(context: RequestContext) -> None:
    metrics.HTTP_IN_FLIGHT.dec()
    scope = context.scope
    route = context.route
    status = context.final_status
    method = scope.get("method", "GET")
    method = method if method in _METHODS else "OTHER"
    metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
    metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - context.started)
    if context.client_disconnected:
        metrics.CLIENT_DISCONNECTS.labels(route).inc()
    if status == 429:
        metrics.RATE_LIMIT_REJECTIONS.labels(context.rate_limit_tier or "general").inc()


def stream_opened() -> None:
    metrics.WEBSOCKET_STREAMS_OPEN.inc()


def stream_closed() -> None:
    metrics.WEBSOCKET_STREAMS_OPEN.dec()


def stream_refused_by_rate_limit() -> None:
    metrics.RATE_LIMIT_REJECTIONS.labels("stream").inc()
