"""The base64 helpers that keep the GIL free give exactly what msgspec and binascii give."""

from __future__ import annotations

import binascii
import os

import msgspec
import pybase64
import pytest

from voxtral_gateway.backends import json_splice
from voxtral_gateway.backends.json_splice import PLACEHOLDER, splice_base64
from voxtral_gateway.routes.base64_fields import decode_with_base64_fields
from voxtral_gateway.routes.base64_text import strict_base64
from voxtral_gateway.schemas.batch import BatchRequest
from voxtral_gateway.schemas.understand import UnderstandRequest


class _Raw(msgspec.Struct):
    text: str
    files: list[msgspec.Raw]


class _Bytes(msgspec.Struct):
    text: str
    files: list[bytes]


@pytest.mark.parametrize("step", [3, 6, 3 * 1024 * 1024])
def test_spliced_json_is_msgspecs_own_encoding(step: int, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(json_splice, "_STEP_BYTES", step)
    files = [os.urandom(size) for size in (0, 1, 2, 3, 100, 1001)]
    text = 'a NUL \x00, a quote " and é'  # msgspec escapes the NUL: only placeholders hold one
    skeleton = msgspec.json.encode(_Raw(text=text, files=[PLACEHOLDER] * len(files)))
    assert bytes(splice_base64(skeleton, files)) == msgspec.json.encode(_Bytes(text=text, files=files))


def test_a_placeholder_per_file():
    with pytest.raises(ValueError, match="2 placeholders for 1 files"):
        splice_base64(msgspec.json.encode([PLACEHOLDER, PLACEHOLDER]), [b"x"])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "QUJD",
        "QUJDRA==",
        "QUJDRA=",
        "QUJDRA",
        "QUJD\nRA==",
        "QUJ DRA==",
        "==",
        "=",
        "QQ==QQ==",
        "QR==",
        "QUJD-A==",
        "QUJDé===",
        "QUJD\x00",
        "QUJDRA===",
        "Q===",
        "QUJDRA==QQ",
    ],
)
def test_strict_base64_is_binasciis_strict_mode(text: str):
    try:
        expected: object = binascii.a2b_base64(text, strict_mode=True)
    except ValueError as exc:
        expected = (type(exc), str(exc))
    try:
        got: object = strict_base64(text)
    except ValueError as exc:
        got = (type(exc), str(exc))
    assert got == expected


def test_plain_files_are_decoded_by_pybase64_and_the_rest_left_to_msgspec():
    files = [os.urandom(999), os.urandom(1000)]
    texts = [pybase64.b64encode(f).decode() for f in files]
    plain = {"audio_files": [{"data": texts[0], "format": "wav"}, {"data": texts[1]}], "question": "Why?"}
    body = msgspec.json.encode(plain)
    parsed = decode_with_base64_fields(body.replace(b"/", b"\\/"), UnderstandRequest)
    assert parsed == msgspec.json.decode(body, type=UnderstandRequest)
    assert [file.data for file in parsed.audio_files] == files
    escaped = body.replace(b'"data":"', b'"data":"\\u0041', 1)  # another escape: msgspec's to decode
    assert decode_with_base64_fields(escaped, UnderstandRequest) is None
    assert (
        decode_with_base64_fields(msgspec.json.encode({"model": "m", "messages": []}), BatchRequest) is None
    )
