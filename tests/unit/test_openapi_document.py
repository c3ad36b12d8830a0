"""The OpenAPI document: every route's 200 has its real schema, and the documented error examples are
what the gateway really answers (checked against real requests, in process)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from voxtral_gateway import errors
from voxtral_gateway.app import create_app
from voxtral_gateway.schemas.errors import ErrorResponse
from voxtral_gateway.schemas.openai import OpenAIErrorResponse
from voxtral_gateway.services.understanding import UNDERSTANDING_NEEDS_VOXTRAL
from voxtral_gateway.settings import load_settings

# A vLLM host nothing listens on: no request below reaches the backend.
SETTINGS = load_settings({"VOXTRAL_HOST": "127.0.0.1", "VOXTRAL_PORT": "9", "MAX_FILE_SIZE_MB": "0.01"})
ROUTES = {
    "/transcribe": "TranscribeResponse",
    "/transcribe/batch": "BatchResponse",
    "/understand": "UnderstandResponse",
    "/v1/audio/transcriptions": "TranscriptionJson",
    "/v1/chat/completions": "ChatCompletion",
}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(SETTINGS)) as client:
        yield client


@pytest.fixture
async def document(client: AsyncTestClient) -> dict:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    return response.json()


def _documented_error(document: dict, path: str, status: int) -> dict:
    content = document["paths"][path]["post"]["responses"][str(status)]["content"]["application/json"]
    [example] = content["examples"].values()
    return example["value"]


def _same_shape(documented: str, real: str) -> bool:
    """The same message but for the numbers (the example uses the default limits)."""
    pattern = re.sub(r"\d+(?:\.\d+)?", r"\\d+(?:\\.\\d+)?", re.escape(documented))
    return re.fullmatch(pattern, real) is not None


@pytest.mark.parametrize("path", ROUTES)
async def test_every_200_has_its_schema(document: dict, path: str):
    success = document["paths"][path]["post"]["responses"]["200"]
    schema = success["content"]["application/json"]["schema"]
    refs = [schema.get("$ref")] + [item.get("$ref") for item in schema.get("oneOf", [])]
    assert f"#/components/schemas/{ROUTES[path]}" in refs
    assert document["components"]["schemas"][ROUTES[path]]["properties"]


@pytest.mark.parametrize("path", ["/understand", "/v1/audio/transcriptions", "/v1/chat/completions"])
async def test_streaming_routes_document_their_events(document: dict, path: str):
    content = document["paths"][path]["post"]["responses"]["200"]["content"]
    assert content["text/event-stream"]["schema"]["type"] == "string"


async def test_error_examples_are_valid_bodies_with_codes_of_their_status(document: dict):
    codes_of_status: dict[int, set[str]] = {}
    for kind in vars(errors).values():
        if isinstance(kind, type) and issubclass(kind, errors.GatewayError):
            codes_of_status.setdefault(kind.status_code, set()).add(kind.code)
    codes_of_status[400] |= {"invalid_request"}  # OpenAI's dialect answers a 422 as 400
    for path in ROUTES:
        for status in document["paths"][path]["post"]["responses"]:
            if not status.startswith(("4", "5")):
                continue
            value = _documented_error(document, path, int(status))
            if path.startswith("/v1/"):
                code = msgspec.convert(value, OpenAIErrorResponse).error.code
            else:
                code = msgspec.convert(value, ErrorResponse).error.code
            assert code in codes_of_status[int(status)], (path, status, code)


async def test_the_413_example_is_what_an_oversized_file_gets(client: AsyncTestClient, document: dict):
    too_big = b"\0" * (SETTINGS.limits.max_file_size_bytes + 1)
    response = await client.post("/transcribe/", json={"audio_file": base64.b64encode(too_big).decode()})
    assert response.status_code == 413
    real, documented = response.json()["error"], _documented_error(document, "/transcribe", 413)["error"]
    assert (real["code"], real["field"]) == (documented["code"], documented["field"])
    assert _same_shape(documented["message"], real["message"]), (documented["message"], real["message"])


async def test_the_422_example_is_what_a_96_khz_file_gets(client: AsyncTestClient, document: dict):
    wav = _silent_wav(96000, frames=960)
    response = await client.post("/transcribe/", json={"audio_file": base64.b64encode(wav).decode()})
    assert response.status_code == 422
    real, documented = response.json()["error"], _documented_error(document, "/transcribe", 422)["error"]
    assert (real["code"], real["field"], real["message"]) == (
        documented["code"],
        documented["field"],
        documented["message"],
    )


async def test_the_404_example_is_what_an_unknown_model_gets(client: AsyncTestClient, document: dict):
    response = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", _silent_wav(16000, frames=160), "audio/wav")},
        data={"model": "gpt-4o-transcribe"},
    )
    assert response.status_code == 404
    assert response.json() == _documented_error(document, "/v1/audio/transcriptions", 404)


async def test_the_501_example_says_how_to_configure_voxtral(document: dict):
    documented = _documented_error(document, "/understand", 501)["error"]
    assert (documented["code"], documented["message"]) == (
        "not_supported_by_backend",
        UNDERSTANDING_NEEDS_VOXTRAL,
    )


def _silent_wav(rate: int, frames: int) -> bytes:
    data = b"\0\0" * frames
    header = (
        b"RIFF"
        + (36 + len(data)).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + rate.to_bytes(4, "little")
        + (rate * 2).to_bytes(4, "little")
        + (2).to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + len(data).to_bytes(4, "little")
    )
    return header + data
