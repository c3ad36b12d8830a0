"""ASGI middleware that counts HTTP requests (by route template, never raw URL) and WebSocket streams."""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from voxtral_gateway.observability import metrics
from voxtral_gateway.observability.request_id import UNMATCHED_ROUTE, current_request
from voxtral_gateway.ratelimit import tier_of

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A WebSocket refused with 429 closes with 4000 + 429 (see AccessControl.stream_slot).
_RATE_LIMITED_CLOSE_CODE = 4429


class HttpMetricsMiddleware:
    """Sits inside `RequestIdMiddleware` (it reads the request's context for the route and for
    whether the client disconnected) and outside everything that can answer or fail."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status: int | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            context = current_request()
            disconnected = context is not None and context.client_disconnected
            route = str(scope.get("path_template") or UNMATCHED_ROUTE)
            if status is None:
                status = 499 if disconnected else 500
            method = scope.get("method", "GET")
            method = method if method in _METHODS else "OTHER"
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
            if disconnected:
                metrics.CLIENT_DISCONNECTS.labels(route).inc()
            if status == 429:
                metrics.RATE_LIMIT_REJECTIONS.labels(tier_of(scope["path"]) or "general").inc()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = False

        async def send_observed(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                metrics.WEBSOCKET_STREAMS_OPEN.inc()
            elif message["type"] == "websocket.close" and message.get("code") == _RATE_LIMITED_CLOSE_CODE:
                metrics.RATE_LIMIT_REJECTIONS.labels("stream").inc()
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if accepted:
                metrics.WEBSOCKET_STREAMS_OPEN.dec()
