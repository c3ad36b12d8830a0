"""Documented error responses shared by the route decorators."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from voxtral_gateway.schemas.errors import ErrorResponse


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    descriptions = {
        413: "A body, file or audio duration over its limit (the message names the limit).",
        415: "The bytes could not be decoded as audio.",
        422: "A field is invalid (the message names it), or the audio breaks a constraint.",
        429: "Rate limit exceeded for this route's tier; see Retry-After.",
        501: "The configured backend cannot do this.",
        502: "The model server answered with an error.",
        503: "The model server is unreachable, or the gateway is overloaded (see Retry-After).",
        504: "The model server did not answer in time.",
    }
    return {
        status: ResponseSpec(data_container=ErrorResponse, description=descriptions[status])
        for status in statuses
    }
