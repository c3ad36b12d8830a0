"""The gateway's error hierarchy. Each error knows its HTTP status and machine-readable code;
`routes/error_handlers.py` is the one place that turns them into responses."""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


# --- the client's fault (4xx) -------------------------------------------------------------------


class ClientError(GatewayError):
    status_code = 400
    code = "bad_request"


class InvalidRequest(ClientError):
    """A field has a value outside what the API accepts."""

    status_code = 422
    code = "invalid_request"


class PayloadTooLarge(ClientError):
    """A body, file or audio duration is over its limit."""

    status_code = 413
    code = "payload_too_large"


class AudioUndecodable(ClientError):
    """The bytes are not audio any decoder understands."""

    status_code = 415
    code = "audio_undecodable"


class AudioRejected(ClientError):
    """The audio decodes but breaks a constraint (sample rate, channels, truncation, emptiness)."""

    status_code = 422
    code = "audio_invalid"


class AudioTooLong(PayloadTooLarge):
    code = "audio_too_long"


class NotSupportedByBackend(GatewayError):
    """The configured backend cannot do this (for example, understanding on the embedded engine)."""

    status_code = 501
    code = "not_supported_by_backend"


# --- the gateway's or the upstream's fault (5xx) -------------------------------------------------


class Overloaded(GatewayError):
    """Too much work is already queued; the client should retry later."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_seconds: int = 1, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(GatewayError):
    """The model server answered with an error the client cannot fix."""

    status_code = 502
    code = "upstream_error"


class UpstreamRejected(UpstreamError):
    """The model server refused the request as invalid; its status and message are passed on."""

    code = "upstream_rejected_request"

    def __init__(self, message: str, *, upstream_status: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.upstream_status = upstream_status

    @property
    def effective_status(self) -> int:
        return self.upstream_status


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    code = "model_unavailable"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


def status_of(error: GatewayError) -> int:
    """The HTTP status for an error (an upstream client error keeps the upstream's status)."""
    if isinstance(error, UpstreamRejected):
        return error.effective_status
    return error.status_code
