"""Every error → wire mapping, in one place: the HTTP status, headers and body of each dialect, the
server-sent error event of each dialect, and the WebSocket close code.

Exception handlers (`error_handlers.py`), the ASGI layer (`lifecycle/middleware.py`), SSE streams and
WebSocket adapters all call this module; none of them picks a status, a body shape or a close code."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

import msgspec

from voxtral_gateway.errors import (
    AccessRefused,
    AudioRejected,
    AudioUndecodable,
    GatewayError,
    MessageTooBig,
    Overloaded,
    PayloadTooLarge,
    ShuttingDown,
    StreamIdle,
)
from voxtral_gateway.observability.request_id import current_request_id
from voxtral_gateway.schemas.errors import ErrorDetail, ErrorResponse
from voxtral_gateway.schemas.mistral import MistralErrorResponse, MistralStreamError
from voxtral_gateway.schemas.openai import OpenAIErrorInfo, OpenAIErrorResponse
from voxtral_gateway.schemas.realtime_mistral import ErrorDetail as MistralRealtimeError
from voxtral_gateway.schemas.realtime_openai import RealtimeErrorInfo

Dialect = Literal["seed", "openai", "mistral"]
"""`seed`: the gateway's own API (`ErrorResponse`); `openai`: the `/v1` routes (OpenAI's shape);
`mistral`: the `/v1` routes called by Mistral's SDK (Mistral's flat shape)."""

OPENAI_PREFIX = "/v1/"
MISTRAL_USER_AGENT_PREFIX = b"mistral-client-"
"""Every `mistralai` SDK (2.x and 3.x) sends `User-Agent: mistral-client-python/<version>`."""
DIALECT_SCOPE_KEY = "voxtral_gateway.dialect"
"""Where an adapter records the dialect it recognised from the request's content (see `choose_dialect`)."""

# WebSocket close codes (RFC 6455 §7.4.1, and 4000 + an HTTP status for a refusal before any audio).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012
REFUSAL_CLOSE_BASE = 4000


class WireError(msgspec.Struct, kw_only=True):
    """An error as one HTTP response: status, body and the headers the client needs."""

    status: int
    body: ErrorResponse | OpenAIErrorResponse | MistralErrorResponse
    headers: dict[str, str] | None = None


def dialect_of(path: str, user_agent: bytes | None = None) -> Dialect:
    """The dialect a request speaks, from its path and User-Agent: `/v1` is OpenAI's, or Mistral's when
    the client is Mistral's SDK; anything else is the seed API."""
    if not (path.startswith(OPENAI_PREFIX) or path == OPENAI_PREFIX.rstrip("/")):
        return "seed"
    if user_agent is not None and user_agent.lower().startswith(MISTRAL_USER_AGENT_PREFIX):
        return "mistral"
    return "openai"


def request_dialect(scope: MutableMapping[str, Any]) -> Dialect:
    """The dialect of an ASGI request: the one an adapter chose from its content, else `dialect_of`."""
    chosen = scope.get(DIALECT_SCOPE_KEY)
    if chosen is not None:
        return chosen  # type: ignore[no-any-return]
    return dialect_of(scope["path"], _header(scope.get("headers") or (), b"user-agent"))


def choose_dialect(scope: MutableMapping[str, Any], dialect: Dialect) -> None:
    """Record the dialect an adapter recognised from the request's content (a shared path's
    Mistral-only fields): errors raised from now on take its shape."""
    scope[DIALECT_SCOPE_KEY] = dialect


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key.lower() == name), None)


def status_of(error: GatewayError) -> int:
    """The HTTP status for an error (an upstream client error keeps the upstream's status)."""
    return error.effective_status


def error_detail(error: GatewayError) -> ErrorDetail:
    """Our error body's content for `error`, with the request id of the current request."""
    return ErrorDetail(
        code=error.code,
        message=error.message,
        field=error.field,
        details=error.details or None,
        request_id=current_request_id(),
    )


def error_headers(error: GatewayError) -> dict[str, str] | None:
    """Retry-After on overload; WWW-Authenticate, Retry-After and RateLimit-* on a refusal."""
    if isinstance(error, AccessRefused):
        return error.headers or None
    if isinstance(error, Overloaded):
        return {"Retry-After": str(error.retry_after_seconds)}
    return None


def wire_status(status: int, dialect: Dialect) -> int:
    """OpenAI answers invalid parameters with 400 (its SDKs map statuses to exception types); so does
    the gateway to Mistral's SDK, so one request gets one status whichever dialect it is recognised as
    (Mistral's SDK raises `SDKError` with our body for any 4xx on transcriptions)."""
    return 400 if dialect != "seed" and status == 422 else status


def error_body(
    status: int, detail: ErrorDetail, dialect: Dialect
) -> ErrorResponse | OpenAIErrorResponse | MistralErrorResponse:
    """The body of an error response with `status`, in the dialect's shape."""
    if detail.request_id is None:
        detail.request_id = current_request_id()  # also in the X-Request-ID header: quote it in reports
    kind = "server_error" if status >= 500 else "invalid_request_error"
    if dialect == "openai":
        return OpenAIErrorResponse(
            error=OpenAIErrorInfo(message=detail.message, type=kind, param=detail.field, code=detail.code)
        )
    if dialect == "mistral":
        return MistralErrorResponse(message=detail.message, type=kind, param=detail.field, code=detail.code)
    return ErrorResponse(error=detail)


def wire_error(error: GatewayError, dialect: Dialect) -> WireError:
    """The whole HTTP response for a gateway error."""
    status = wire_status(status_of(error), dialect)
    return WireError(
        status=status, body=error_body(status, error_detail(error), dialect), headers=error_headers(error)
    )


def sse_error_event(error: GatewayError, dialect: Dialect) -> bytes:
    """The server-sent event that ends a stream which failed after its 200 was sent."""
    wire = wire_error(error, dialect)
    if isinstance(wire.body, MistralErrorResponse):  # Mistral's events carry their name in `type`
        return b"event: error\ndata: " + msgspec.json.encode(MistralStreamError(error=wire.body)) + b"\n\n"
    payload = msgspec.json.encode(wire.body)
    if dialect == "openai":  # OpenAI's SDKs read an `error` key in a plain `data:` event
        return b"data: " + payload + b"\n\n"
    return b"event: error\ndata: " + payload + b"\n\n"


def ws_close_code(error: GatewayError) -> int:
    """The close code that ends a WebSocket because of `error`.

    A refusal before the stream starts (API key, rate limit, stream slots, overload) is 4000 + its
    HTTP status, so a client reads the same status it would over HTTP (4401, 4403, 4429, 4503)."""
    if isinstance(error, AccessRefused):
        return REFUSAL_CLOSE_BASE + status_of(error)
    if isinstance(error, ShuttingDown):
        return CLOSE_GOING_AWAY
    if isinstance(error, MessageTooBig):
        return CLOSE_TOO_BIG
    if isinstance(error, AudioUndecodable | AudioRejected):
        return CLOSE_UNSUPPORTED_DATA
    if isinstance(error, StreamIdle | PayloadTooLarge) or status_of(error) < 500:
        return CLOSE_POLICY
    return CLOSE_INTERNAL


def refusal_close_code(error: GatewayError) -> int:
    """The close code for a WebSocket refused before it was served (4000 + the HTTP status)."""
    return REFUSAL_CLOSE_BASE + status_of(error)


def openai_realtime_error(error: GatewayError, client_event_id: str | None = None) -> RealtimeErrorInfo:
    """The `error` object of an OpenAI Realtime `error` (or `...transcription.failed`) event;
    `client_event_id` is the client event that caused it, when one did."""
    kind = "server_error" if status_of(error) >= 500 else "invalid_request_error"
    return RealtimeErrorInfo(
        type=kind, code=error.code, message=error.message, param=error.field, event_id=client_event_id
    )


def mistral_realtime_error(error: GatewayError) -> MistralRealtimeError:
    """The `error` object of a Mistral realtime `error` event: the message and the HTTP status."""
    return MistralRealtimeError(message=error.message, code=status_of(error))
