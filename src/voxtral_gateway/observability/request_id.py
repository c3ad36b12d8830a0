"""Request ids and the per-request context: take a sane `X-Request-ID` or make one (returned in the
response by `lifecycle.GatewayMiddleware`), bind it to every log line of the request, and write one
access-log line when it ends.

Nothing of the request's body, query string or headers is logged (a WebSocket may carry its API key in
the query string)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from litestar.types import Scope

log = structlog.get_logger("voxtral_gateway.access")

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
# Letters, digits and the punctuation of common id formats (UUID, ULID, nginx $request_id, base64).
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
# Probes hit these every few seconds: logged at debug level only.
_QUIET_ROUTES = frozenset({"/health", "/metrics"})
UNMATCHED_ROUTE = "unmatched"


class RequestContext:
    """What the gateway knows about the request being served (one per HTTP request or WebSocket)."""

    __slots__ = (
        "client_disconnected",
        "decoded_sources",
        "rate_limit_tier",
        "request_id",
        "response_complete",
        "scope",
        "started",
        "status",
    )

    def __init__(self, request_id: str, scope: Scope):
        self.request_id = request_id
        self.scope = scope
        self.started = time.perf_counter()
        self.status: int | None = None
        """The response status once it has started (HTTP only)."""
        self.response_complete = False
        """The last byte of the response has been handed to the server (HTTP only)."""
        self.client_disconnected = False
        """The client went away before the response was complete (its work was cancelled)."""
        self.decoded_sources: dict[int, object] = {}
        """The uploaded files already counted in the decoded-bytes metric, by id."""
        self.rate_limit_tier: str | None = None
        """The rate-limit tier the request was counted in (set by the access middleware)."""

    @property
    def route(self) -> str:
        """The route's path template (e.g. `/transcribe`), never the raw URL: bounded metric labels."""
        return str(self.scope.get("path_template") or UNMATCHED_ROUTE)

    @property
    def kind(self) -> str:
        return str(self.scope["type"])

    @property
    def final_status(self) -> int:
        """The status sent, or 499 (client left) / 500 (the app failed) when no response started."""
        if self.status is not None:
            return self.status
        return 499 if self.client_disconnected else 500


_current: ContextVar[RequestContext | None] = ContextVar("voxtral_gateway_request", default=None)


def current_request() -> RequestContext | None:
    """The request being served by this task (tasks it starts inherit it), or None outside a request."""
    return _current.get()


def current_request_id() -> str | None:
    context = _current.get()
    return context.request_id if context is not None else None


def request_id_from(scope: Scope) -> str:
    """The client's `X-Request-ID` when it is sane (1–128 safe characters), else a new random id."""
    for name, value in scope.get("headers", ()):
        if name == _HEADER_KEY:
            candidate = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def with_request_id(headers: Any, request_id: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` with our `X-Request-ID` in place of any the app set."""
    kept = [(name, value) for name, value in headers or () if name.lower() != _HEADER_KEY]
    kept.append((_HEADER_KEY, request_id))
    return kept


@contextmanager
def serving(context: RequestContext) -> Iterator[RequestContext]:
    """Make `context` the current request (for this task and the tasks it starts) and bind its
    `request_id` to every log line written meanwhile."""
    token = _current.set(context)
    try:
        with structlog.contextvars.bound_contextvars(request_id=context.request_id):
            yield context
    finally:
        _current.reset(token)


def log_request_end(context: RequestContext) -> None:
    """The access-log line (probes at debug level); never the query string, headers or body."""
    scope = context.scope
    fields: dict[str, Any] = {
        "method": scope.get("method", "GET"),
        "path": scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or scope.get("path"),
        "route": context.route,
        "duration_ms": round((time.perf_counter() - context.started) * 1000, 2),
        "client": scope["client"][0] if scope.get("client") else None,
    }
    if context.kind == "websocket":
        log.info("websocket_closed", **fields)
        return
    status = context.final_status
    if context.client_disconnected:
        fields["client_disconnected"] = True
    level = log.debug if context.route in _QUIET_ROUTES and status < 500 else log.info
    level("request", status=status, **fields)
