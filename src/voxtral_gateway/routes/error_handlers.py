"""Litestar's exception handlers: every exception a route raises becomes an error response, through
the one error → wire mapping (`error_wire.py`)."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_422_UNPROCESSABLE_ENTITY

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.error_wire import error_body, request_dialect, wire_error, wire_status
from voxtral_gateway.schemas.errors import ErrorDetail, ErrorResponse
from voxtral_gateway.schemas.openai import OpenAIErrorResponse

log = structlog.get_logger(__name__)

_NAMED_FIELD = re.compile(r"field `([^`]+)`")
BODY_LIMIT_SETTING = "body_limit_setting"
"""The key, in a route handler's `opt`, of the setting its body size limit comes from (named in a 413)."""
_CODE_FOR_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _debug(request: Request) -> bool:
    return bool(request.app.debug)


def error_response(
    request: Request, status: int, detail: ErrorDetail, headers: dict[str, str] | None = None
) -> Response[ErrorResponse] | Response[OpenAIErrorResponse]:
    """An error response in the request's dialect (OpenAI's or Mistral's shape on the `/v1` routes)."""
    dialect = request_dialect(request.scope)
    status = wire_status(status, dialect)
    return Response(error_body(status, detail, dialect), status_code=status, headers=headers)


def handle_gateway_error(request: Request, exc: GatewayError) -> Response[ErrorResponse]:
    wire = wire_error(exc, request_dialect(request.scope))
    if wire.status >= 500:
        log.warning(
            "request_failed", status=wire.status, code=exc.code, error=exc.message, path=request.url.path
        )
    return Response(wire.body, status_code=wire.status, headers=wire.headers)


def handle_validation_error(request: Request, exc: ValidationException) -> Response[ErrorResponse]:
    """Litestar's schema validation (400 by default) → 422, naming the first offending field."""
    problems: list[dict[str, Any]] = exc.extra if isinstance(exc.extra, list) else []
    first = next((p for p in problems if isinstance(p, dict)), {})
    reason = str(first.get("message") or exc.detail)
    field = str(first["key"]) if first.get("key") else None
    named = _NAMED_FIELD.search(reason)
    if named and field in (None, "data"):  # a missing or unknown field: Litestar says `data`
        field = named.group(1)
    message = f"{field}: {reason}" if field else str(reason)
    if field and "base64" in message.lower():
        message += " (standard padded base64 is expected, without a `data:` prefix)"
    detail = ErrorDetail(code="invalid_request", message=message, field=field, details={"errors": problems})
    return error_response(request, HTTP_422_UNPROCESSABLE_ENTITY, detail)


def handle_http_exception(request: Request, exc: HTTPException) -> Response[ErrorResponse]:
    status = exc.status_code
    message = exc.detail
    details: dict[str, Any] | None = None
    if status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size()
        setting = request.route_handler.opt.get(BODY_LIMIT_SETTING)
        message = f"request body is larger than this route's limit of {limit} bytes" + (
            f" (set by {setting})" if setting else " (fixed: this route takes no audio)"
        )
        details = {"limit_bytes": limit}
    elif status >= 500:
        log.error("http_exception", status=status, detail=exc.detail, path=request.url.path)
        if not _debug(request):
            message = "internal server error"
    detail = ErrorDetail(code=_CODE_FOR_STATUS.get(status, "http_error"), message=message, details=details)
    return error_response(request, status, detail, exc.headers)


def handle_unexpected_error(request: Request, exc: Exception) -> Response[ErrorResponse]:
    log.exception("unhandled_error", path=request.url.path)
    message = (
        f"internal server error: {type(exc).__name__}: {exc}" if _debug(request) else "internal server error"
    )
    return error_response(request, 500, ErrorDetail(code="internal_error", message=message))


def handle_undecodable_text(request: Request, exc: UnicodeDecodeError) -> Response[ErrorResponse]:
    """A JSON body that is not UTF-8 (msgspec decodes str fields lazily, inside the handler's parsing)."""
    detail = ErrorDetail(
        code="bad_request", message=f"request body is not valid UTF-8: byte {exc.start} cannot be decoded"
    )
    return error_response(request, 400, detail)


def handle_recursion_error(request: Request, exc: RecursionError) -> Response[ErrorResponse]:
    """A JSON body nested deeper than the decoder's recursion limit (msgspec raises RecursionError)."""
    if "deserializing" not in str(exc):  # not the body parser: a bug, reported as one
        return handle_unexpected_error(request, exc)
    detail = ErrorDetail(code="bad_request", message="request body JSON is nested too deeply")
    return error_response(request, 400, detail)


EXCEPTION_HANDLERS = {
    UnicodeDecodeError: handle_undecodable_text,
    RecursionError: handle_recursion_error,
    GatewayError: handle_gateway_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected_error,
}
