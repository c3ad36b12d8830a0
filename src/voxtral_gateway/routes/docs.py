"""Documented error responses shared by the route decorators."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from voxtral_gateway.schemas.errors import ErrorResponse
from voxtral_gateway.schemas.openai import OpenAIErrorResponse

_DESCRIPTIONS = {
    400: "The body is not valid JSON (or multipart), or is not UTF-8.",
    404: "The requested `model` is not served here.",
    413: "A body, file or audio duration over its limit (the message names the limit).",
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


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Our `ErrorResponse` for each status, and always 400 (it replaces Litestar's own 400 schema,
    which our error handlers never send)."""
    return {
        status: ResponseSpec(data_container=ErrorResponse, description=_DESCRIPTIONS[status])
        for status in sorted({400, *statuses})
    }


def openai_error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The same for the `/v1` routes: OpenAI's error shape, and a 422 is answered as 400."""
    responses = {
        status: ResponseSpec(data_container=OpenAIErrorResponse, description=_DESCRIPTIONS[status])
        for status in sorted({400, *statuses} - {422})
    }
    responses[400] = ResponseSpec(data_container=OpenAIErrorResponse, description=_OPENAI_400)
    return responses
