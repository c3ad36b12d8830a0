"""The gateway's one ASGI layer around the Litestar app (see `create_app`).

For each HTTP request and WebSocket it:
- creates the request's context: its id (`X-Request-ID`, returned in the response and bound to every
  log line) and, for HTTP, its `Server-Timing` recorder (the header is added when the response starts);
- counts it in the metrics and writes its access-log line when it ends;
- runs its handler as a task it can cancel: when the client goes away (`ReceiveWatcher`), and when the
  shutdown deadline passes (`ShutdownCoordinator`). While the worker drains, it refuses new requests
  (503) and new WebSockets (close 1012).

It is one layer, with one `send` wrapper, because these concerns share one state: the request's context,
its response status and the moment it ends. Speed is not the reason: measured, one layer costs the same
as the four it replaced (~120 µs per request either way, most of it the access-log line and the
cancellable task with its disconnect watcher; README, P1). API keys and rate limits stay a separate
middleware inside Litestar (`ratelimit.AccessMiddleware`), and `GET /health` is answered ahead of this
layer (`routes/health_fast_path.py`)."""

from __future__ import annotations

import asyncio

import msgspec
import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from voxtral_gateway.errors import GatewayError, ShuttingDown
from voxtral_gateway.lifecycle.disconnect import ReceiveWatcher, expects_body
from voxtral_gateway.observability import http_metrics
from voxtral_gateway.observability.request_id import (
    RequestContext,
    log_request_end,
    request_id_from,
    serving,
    with_request_id,
)
from voxtral_gateway.observability.server_timing import HEADER_NAME, TimingRecorder, recording
from voxtral_gateway.routes.error_wire import (
    CLOSE_SERVICE_RESTART,
    REFUSAL_CLOSE_BASE,
    request_dialect,
    wire_error,
)
from voxtral_gateway.runtime.shutdown import ShutdownCoordinator

log = structlog.get_logger(__name__)
_RATE_LIMITED_CLOSE_CODE = REFUSAL_CLOSE_BASE + 429


class GatewayMiddleware:
    __slots__ = ("app", "shutdown")

    def __init__(self, app: ASGIApp, shutdown: ShutdownCoordinator):
        self.app = app
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = RequestContext(request_id_from(scope), scope)
        recorder = TimingRecorder(context.started)
        request_id = context.request_id.encode()

        async def observed_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                context.status = message["status"]
                headers = with_request_id(message.get("headers"), request_id)
                headers.append((HEADER_NAME, recorder.header_value()))
                message["headers"] = headers
            elif kind == "http.response.body" and not message.get("more_body", False):
                context.response_complete = True
            await send(message)

        with serving(context), recording(recorder):
            http_metrics.http_request_started()
            try:
                if self.shutdown.draining.is_set():
                    await send_error(
                        scope, observed_send, ShuttingDown("the server is shutting down; retry shortly")
                    )
                else:
                    await self._run_http_handler(context, receive, observed_send)
            finally:
                http_metrics.http_request_finished(context)
                log_request_end(context)

    async def _run_http_handler(self, context: RequestContext, receive: Receive, send: Send) -> None:
        """The app, as a task cancelled when the client leaves or the shutdown deadline passes."""
        scope = context.scope
        handler: asyncio.Task[None] | None = None

        def client_left() -> None:
            if context.response_complete:  # a client closing after the whole answer is not a disconnect
                return
            context.client_disconnected = True
            if handler is not None and not handler.done():
                handler.cancel()

        watcher = ReceiveWatcher(receive, client_left, expects_body(scope))
        handler = asyncio.ensure_future(self.app(scope, watcher.receive, send))
        self.shutdown.track_request(handler)
        watcher.start()
        try:
            await _wait_for_task(handler)
        finally:
            await watcher.close()
        if not handler.cancelled():
            handler.result()  # the app's own exception, if any, propagates as before
            return
        if watcher.disconnected.is_set() and not context.response_complete:
            log.info("client_disconnected", cancelled="request")
        elif self.shutdown.deadline_passed:
            if context.status is None:
                await send_error(
                    scope, send, ShuttingDown("the server shut down before the request was complete")
                )
        else:
            raise asyncio.CancelledError

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = RequestContext(request_id_from(scope), scope)
        request_id = context.request_id.encode()
        accepted = False

        async def observed_send(message: Message) -> None:
            nonlocal accepted
            kind = message["type"]
            if kind == "websocket.accept":
                message["headers"] = with_request_id(message.get("headers"), request_id)
                if not accepted:
                    accepted = True
                    http_metrics.stream_opened()
            elif kind == "websocket.close" and message.get("code") == _RATE_LIMITED_CLOSE_CODE:
                http_metrics.stream_refused_by_rate_limit()
            await send(message)

        with serving(context):
            try:
                if self.shutdown.draining.is_set():
                    await observed_send(
                        {
                            "type": "websocket.close",
                            "code": CLOSE_SERVICE_RESTART,
                            "reason": "shutting down",
                        }
                    )
                    return
                handler = asyncio.ensure_future(self.app(scope, receive, observed_send))
                self.shutdown.track_stream(handler)
                await _wait_for_task(handler)
                if not handler.cancelled():
                    handler.result()
            finally:
                if accepted:
                    http_metrics.stream_closed()
                log_request_end(context)


async def _wait_for_task(task: asyncio.Task[None]) -> None:
    """Wait for `task` without letting its cancellation look like ours; cancel it if we are cancelled."""
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        raise


async def send_error(scope: Scope, send: Send, error: GatewayError) -> None:
    """An error response outside Litestar (its exception handlers are not reached from here), through
    the same error → wire mapping as every other error response."""
    wire = wire_error(error, request_dialect(scope))
    body = msgspec.json.encode(wire.body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in (wire.headers or {}).items()]
    await send({"type": "http.response.start", "status": wire.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
