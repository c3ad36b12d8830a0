"""Strict base64 decoding of a request's text (data URLs, Mistral's `input_audio` strings)."""

from __future__ import annotations

import binascii

import pybase64


def strict_base64(text: str) -> bytes:
    """`binascii.a2b_base64(text, strict_mode=True)`: the same bytes, the same errors.

    pybase64 does the work (SIMD, and it releases the GIL: binascii holds it throughout, which stalls
    the event loop even when it runs on a decode thread); binascii only gives the verdict on what
    pybase64 refuses or decodes to nothing, so its error messages are the ones clients see."""
    try:
        data = pybase64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        data = b""
    return data or binascii.a2b_base64(text, strict_mode=True)
