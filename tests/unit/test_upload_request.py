"""The upload Request parses exactly as Litestar would, while decoding the file in place."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest
from litestar import Controller, post
from litestar.params import Body
from litestar.testing import TestClient, create_test_client

from voxtral_gateway.routes import json_request, upload_request
from voxtral_gateway.routes.error_handlers import EXCEPTION_HANDLERS
from voxtral_gateway.routes.upload_request import upload_request_class
from voxtral_gateway.schemas.transcribe import TranscribeRequest

_FILE = bytes(random.Random(3).randrange(256) for _ in range(3000))
_B64 = base64.b64encode(_FILE)

BODIES = [
    b'{"audio_file": "' + _B64 + b'"}',
    b'{"audio_file": "' + _B64 + b'", "format": "mp3", "language": "en", "temperature": 0.5}',
    b'  {"format" : "wav", "audio_file" :  "' + _B64 + b'", "temperature": "0.7" }  ',
    b'{"audio_file": "' + _B64[:-1] + b'"}',  # not a multiple of 4
    b'{"audio_file": "' + _B64[:8] + b"=" + _B64[9:] + b'"}',  # padding in the middle
    b'{"audio_file": "QUJDRA==QUJD"}',  # padding at a step's end, not the file's
    b'{"audio_file": "' + _B64.replace(b"/", b"\\/") + b'"}',  # PHP's json_encode writes `\/`
    b'{"audio_file": "' + _B64.replace(b"/", b"\\/") + b'", "format": "mp3"}',
    b'{"audio_file": "'
    + _B64.replace(b"/", b"\\/", 5).replace(b"A", b"\\u0041", 1)
    + b'"}',  # another escape
    b'{"audio_file": "' + _B64.replace(b"/", b"\\\\/", 1) + b'"}',  # an escaped backslash: invalid base64
    b'{"audio_file": "' + _B64.replace(b"/", b"\\/")[:-3] + b'\\/"}',
    b'{"audio_file": "' + _B64[:100] + b"\xff" + _B64[101:] + b'"}',  # not UTF-8
    b'{"audio_file": "' + _B64[:100] + b"-" + _B64[101:] + b'"}',  # URL-safe alphabet
    b'{"audio_file": "' + base64.b64encode(b"x" * 10) + b'", "surprise": 1}',
    b'{"audio_file": "' + _B64 + b'", "temperature": 3}',
    b'{"audio_file": "' + _B64 + b'", "language": "xx"}',
    b'{"audio_file": 5}',
    b'{"audio_file": null}',
    b'{"audio_file": ""}',
    b'{"audio_file": "QR=="}',
    b'{"audio_file": "QUJD", "audio_file": "REVG"}',
    b'{"audio_file": "data:audio/mp3;base64,QUJD"}',
    b"{}",
    b"[]",
    b"",
    b"{",
    b"null",
    b'{"audio_file": "QUJD"} trailing',
]


class PlainController(Controller):
    path = "/transcribe"

    @post("/", status_code=200)
    async def transcribe(self, data: Annotated[TranscribeRequest, Body()]) -> dict[str, object]:
        return {
            "sha256": hashlib.sha256(data.audio_file).hexdigest(),
            "size": len(data.audio_file),
            "format": data.format,
            "language": data.language,
            "temperature": data.temperature,
        }


class UploadController(PlainController):
    request_class = upload_request_class(TranscribeRequest, "audio_file")


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    with (
        create_test_client([PlainController], exception_handlers=EXCEPTION_HANDLERS) as plain,
        create_test_client([UploadController], exception_handlers=EXCEPTION_HANDLERS) as upload,
    ):
        yield plain, upload


@pytest.mark.parametrize("in_place", [False, True], ids=["msgspec", "in-place"])
@pytest.mark.parametrize("body", BODIES, ids=[f"body{i}" for i in range(len(BODIES))])
def test_same_answer_as_litestar(
    clients: tuple[TestClient, TestClient], body: bytes, in_place: bool, monkeypatch: pytest.MonkeyPatch
):
    if in_place:  # every body through the large-body path, in 8-character steps
        monkeypatch.setattr(upload_request, "IN_PLACE_BYTES", 0)
        monkeypatch.setattr(upload_request, "_STEP_CHARS", 8)
    plain, upload = clients
    headers = {"Content-Type": "application/json"}
    expected = plain.post("/transcribe/", content=body, headers=headers)
    got = upload.post("/transcribe/", content=body, headers=headers)
    assert (got.status_code, got.json()) == (expected.status_code, expected.json())


@pytest.mark.parametrize("escaped", [False, True], ids=["plain", "escaped-solidus"])
def test_large_file_is_decoded_into_the_request_buffer(escaped: bool):
    base64_text = _B64.replace(b"/", b"\\/") if escaped else _B64
    buffer = bytearray(b'{"audio_file": "' + base64_text + b'", "format": "wav"}')
    envelope = upload_request._envelope_type(TranscribeRequest, "audio_file")
    parsed = upload_request._parse_in_place(buffer, TranscribeRequest, envelope, "audio_file")
    assert isinstance(parsed, TranscribeRequest)
    assert parsed.audio_file is buffer and bytes(buffer) == _FILE
    assert parsed.format == "wav"


class _FakeHandler:
    def __init__(self, limit: int | None):
        self.limit = limit

    def resolve_request_max_body_size(self) -> int | None:
        return self.limit


class _FakeRequest:
    """What `_read_into_one_buffer` uses of a Litestar request."""

    def __init__(self, chunks: list[bytes], announced: int | None, limit: int | None = 1 << 20):
        self.chunks = chunks
        self.content_length = announced
        self.route_handler = _FakeHandler(limit)

    async def stream(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


@pytest.mark.parametrize(
    ("announced", "limit"),
    [(12, 1 << 20), (None, 1 << 20), (5, 1 << 20), (40, 1 << 20), (12, None), (12, 4), (0, 1 << 20)],
    ids=["exact", "chunked", "more-than-announced", "less-than-announced", "no-limit", "over-limit", "zero"],
)
def test_body_is_read_whole_whatever_content_length_says(announced: int | None, limit: int | None):
    chunks = [b"abcd", b"efgh", b"ijkl"]
    request = _FakeRequest(chunks, announced, limit)
    body = asyncio.run(json_request.read_into_one_buffer(request))  # type: ignore[arg-type]
    assert isinstance(body, bytearray)
    assert body == b"abcdefghijkl"
