"""What the OpenAPI document says about responses: the 200 schemas (and their text or SSE
alternatives) and the error responses, with real error examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.openapi.spec.base import BaseSchemaObject

from voxtral_gateway.errors import (
    AudioRejected,
    AudioUndecodable,
    GatewayError,
    InvalidRequest,
    JobStateConflict,
    ModelNotFound,
    NotSupportedByBackend,
    PayloadTooLarge,
    RateLimited,
    UpstreamDisconnected,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from voxtral_gateway.routes.error_wire import Dialect, error_body, wire_error
from voxtral_gateway.routes.sse import SSE_MEDIA_TYPE
from voxtral_gateway.schemas.errors import ErrorDetail, ErrorResponse
from voxtral_gateway.schemas.openai import OpenAIErrorResponse
from voxtral_gateway.services.understanding import UNDERSTANDING_NEEDS_VOXTRAL

_DESCRIPTIONS = {
    400: "The body is not valid JSON (or multipart), or is not UTF-8.",
    404: "The requested `model` is not served here.",
    413: "A body, file or audio duration over its limit (the message names the limit).",
    409: "The job is not in a state that allows this (`details.status` says which it is in).",
    415: "The bytes could not be decoded as audio.",
    422: "A field is invalid (the message names it), or the audio breaks a constraint.",
    429: "Rate limit exceeded for this route's tier; see Retry-After.",
    501: "The configured backend cannot do this.",
    502: "The model server answered with an error.",
    503: "The model server is unreachable, or the gateway is overloaded (see Retry-After).",
    504: "The model server did not answer in time.",
}
_OPENAI_400 = (
    "A parameter is invalid (`param` names it), or the body is malformed (OpenAI answers these with 400)."
)
_VLLM = "http://vllm:8000"

# Errors as the gateway raises them, with the default limits (MAX_FILE_SIZE_MB=100, …).
_ERRORS: dict[int, GatewayError] = {
    404: ModelNotFound(
        "The model `gpt-4o-transcribe` does not exist or is not served here; use one of: "
        "mistralai/Voxtral-Mini-3B-2507, voxtral-mini-latest, voxtral-mini-2507, whisper-1",
        field="model",
    ),
    413: PayloadTooLarge(
        "audio_file is 115343360 bytes; the limit is 104857600 bytes (MAX_FILE_SIZE_MB=100)",
        field="audio_file",
    ),
    409: JobStateConflict(
        "job job_5f0c… is running; its result exists once it is completed",
        field="job_id",
        details={"status": "running"},
    ),
    415: AudioUndecodable(
        "audio_file could not be decoded as mp3: Invalid data found when processing input",
        field="audio_file",
    ),
    422: AudioRejected(
        "audio_file has a sample rate of 96000 Hz; supported: 8000–48000 Hz", field="audio_file"
    ),
    429: RateLimited(
        "rate limit of 60 requests per 60 s for the transcription tier exceeded; retry in 12 s",
        tier="transcription",
        retry_after_seconds=12,
        details={
            "tier": "transcription",
            "limit": 60,
            "window_seconds": 60,
            "retry_after_seconds": 12,
            "retry_after_ms": 11500,
        },
    ),
    501: NotSupportedByBackend(UNDERSTANDING_NEEDS_VOXTRAL),
    502: UpstreamDisconnected(f"vLLM at {_VLLM} dropped the connection: Server disconnected"),
    503: UpstreamUnreachable(
        f"model unavailable: cannot connect to vLLM at {_VLLM} (Connect call failed ('10.0.0.7', 8000))"
    ),
    504: UpstreamTimeout(
        f"vLLM at {_VLLM} did not answer within 300 s "
        "(VOXTRAL_TRANSCRIPTION_TIMEOUT_SECONDS or UPSTREAM_TIMEOUT_SECONDS)"
    ),
}
# The 400 the error handlers give a JSON body that is not UTF-8 (not a GatewayError).
_BAD_BODY = ErrorDetail(
    code="bad_request", message="request body is not valid UTF-8: byte 12 cannot be decoded"
)
# On `/v1` an invalid parameter is a 400 (OpenAI's SDKs map statuses to exception types).
_OPENAI_INVALID = InvalidRequest("max_tokens is 100000; the limit is 8192", field="max_tokens")


@dataclass
class _JsonValue(BaseSchemaObject):
    """An example value written as is: Litestar drops every None from the document's objects, which
    would turn OpenAI's `"param": null` into a body the gateway never sends."""

    value: Any

    def to_schema(self) -> Any:
        return self.value


def _example(status: int, dialect: Dialect) -> Example:
    if status == 400 and dialect == "openai":
        body: Any = wire_error(_OPENAI_INVALID, dialect).body
    elif status == 400:
        body = error_body(400, _BAD_BODY, dialect)
    else:
        body = wire_error(_ERRORS[status], dialect).body
    return Example(summary=_DESCRIPTIONS[status], value=_JsonValue(msgspec.to_builtins(body)))


def _error_spec(container: type, status: int, description: str, dialect: Dialect) -> ResponseSpec:
    return ResponseSpec(
        data_container=container,
        description=description,
        generate_examples=False,
        examples=[_example(status, dialect)],
    )


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Our `ErrorResponse` for each status, and always 400 (it replaces Litestar's own 400 schema,
    which our error handlers never send)."""
    return {
        status: _error_spec(ErrorResponse, status, _DESCRIPTIONS[status], "seed")
        for status in sorted({400, *statuses})
    }


def openai_error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The same for the `/v1` routes: OpenAI's shape, and a 422 is answered as 400."""
    responses = {
        status: _error_spec(OpenAIErrorResponse, status, _DESCRIPTIONS[status], "openai")
        for status in sorted({400, *statuses} - {422})
    }
    responses[400] = _error_spec(OpenAIErrorResponse, 400, _OPENAI_400, "openai")
    return responses


def success_response(container: Any, description: str) -> dict[int, ResponseSpec]:
    """The 200 response's JSON schema, for routes that return a `Response` or a `Stream`."""
    return {200: ResponseSpec(data_container=container, description=description, generate_examples=False)}


def with_alternatives(media_types: dict[str, str]) -> type[Operation]:
    """An operation whose 200 response also lists other media types (text bodies, SSE): each maps
    to a string schema with the given description."""
    alternatives = {
        media_type: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description=description))
        for media_type, description in media_types.items()
    }

    @dataclass
    class OperationWithAlternatives(Operation):
        def __post_init__(self) -> None:
            success = (self.responses or {}).get("200")
            if isinstance(success, OpenAPIResponse):
                success.content = {**(success.content or {}), **alternatives}

    return OperationWithAlternatives


SSE_ALTERNATIVE = with_alternatives(
    {SSE_MEDIA_TYPE: "With `stream: true`: server-sent events (see the description)."}
)
