"""The gateway's error hierarchy. Each error knows its HTTP status and machine-readable code;
`routes/error_wire.py` is the one place that turns them into each dialect's wire format (HTTP
responses, server-sent error events, WebSocket close codes)."""

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

    @property
    def effective_status(self) -> int:
        """The HTTP status this error stands for (an upstream's refusal keeps the upstream's own)."""
        return self.status_code


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


class StreamProtocolViolation(InvalidRequest):
    """A live stream broke its protocol (a message out of place, a malformed message)."""

    code = "protocol_error"


class StreamIdle(ClientError):
    """A live stream sent nothing for STREAM_IDLE_TIMEOUT_SECONDS."""

    status_code = 408
    code = "idle_timeout"


class MessageTooBig(PayloadTooLarge):
    """One live-stream message is over STREAM_MAX_MESSAGE_BYTES."""

    code = "message_too_big"


class ModelNotFound(ClientError):
    """The request names a model this gateway does not serve."""

    status_code = 404
    code = "model_not_found"


class NotSupportedByBackend(GatewayError):
    """The configured backend cannot do this (for example, understanding on the embedded engine)."""

    status_code = 501
    code = "not_supported_by_backend"


class AccessRefused(ClientError):
    """Refused before any work (API key, rate limit); carries the headers the client needs."""

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.headers = headers or {}


class Unauthorized(AccessRefused):
    """API keys are configured and the request carries none."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AccessRefused):
    """The API key sent is unknown or disabled."""

    status_code = 403
    code = "forbidden"


class RateLimited(AccessRefused):
    """The identity used up its tier's requests for the window; `details` name the tier and the wait."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, tier: str, retry_after_seconds: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.tier = tier
        self.retry_after_seconds = retry_after_seconds


class TooManyStreams(AccessRefused):
    """The identity already has MAX_STREAMS_PER_IDENTITY streams open."""

    status_code = 429
    code = "too_many_streams"


class UrlRefused(ClientError):
    """A URL the gateway would fetch (`file_url`, `audio_url`, a webhook) is refused before any
    connection: a scheme other than http(s), an address that is private, loopback, link-local,
    multicast, reserved or a cloud-metadata endpoint (and not allowlisted), or too many redirects."""

    status_code = 400
    code = "url_refused"


class UrlFetchFailed(ClientError):
    """The URL could not be fetched: the connection failed, or the remote server answered an error.
    422, as vLLM answers for a failed remote-media fetch: the URL is the client's to fix."""

    status_code = 422
    code = "url_fetch_failed"


class UrlFetchTimeout(UrlFetchFailed):
    """The remote server was too slow: connecting, sending a byte, or sending the whole body; the
    message names the limit and its setting."""

    code = "url_fetch_timeout"


class JobNotFound(ClientError):
    """No job with this id belongs to the caller (or it has expired)."""

    status_code = 404
    code = "job_not_found"


class JobStateConflict(ClientError):
    """The job is not in a state that allows this (a result before completion, cancelling a finished job)."""

    status_code = 409
    code = "job_state_conflict"


class TooManyJobs(AccessRefused):
    """The caller already has JOBS_MAX_QUEUED_PER_KEY jobs waiting."""

    status_code = 429
    code = "too_many_jobs"


# --- the gateway's or the upstream's fault (5xx) -------------------------------------------------


class Overloaded(GatewayError):
    """Too much work is already queued; the client should retry later."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_seconds: int = 1, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after_seconds = retry_after_seconds


class RateLimiterUnavailable(Overloaded):
    """Redis cannot be reached and RATE_LIMIT_FAIL_OPEN is false: nothing is served unlimited."""

    code = "rate_limiter_unavailable"


class ShuttingDown(Overloaded):
    """The gateway is draining after SIGTERM: no new work; another instance (or a retry) will serve it."""

    code = "shutting_down"


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


class UpstreamBusy(UpstreamUnavailable, Overloaded):
    """The model server's queue is full (vLLM's `--max-num-queued-reqs`): nothing was started there;
    another server, or a retry after `retry_after_seconds`, may serve it."""

    code = "model_busy"


class UpstreamUnreachable(UpstreamUnavailable):
    """No connection could be made: the request never reached the model server (safe to send elsewhere)."""


class UpstreamDisconnected(UpstreamError):
    """The model server dropped the connection mid-request (an idempotent request may be retried)."""


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class JobsUnavailable(Overloaded):
    """The job store cannot be reached, or the in-process job queue is full: nothing was submitted."""

    code = "jobs_unavailable"
