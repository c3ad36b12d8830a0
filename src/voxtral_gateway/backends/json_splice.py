"""A JSON body carrying large files as base64, assembled without holding the GIL for long.

`msgspec.json.encode` writes bytes as base64 in one C call that holds the GIL throughout (on a
worker thread it still stalls the event loop: about half a second for 40 minutes of WAV). Here the
JSON is encoded with a placeholder for each file, and the files' base64 is appended to the one
output buffer in steps, by pybase64 (which releases the GIL)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pybase64

PLACEHOLDER = msgspec.Raw(b'"\x00"')
"""Where a file goes: a JSON string whose one character, a raw NUL, msgspec never writes itself (it
escapes control characters in strings)."""
# File bytes base64-encoded per step: a multiple of 3, so the steps' outputs join without padding.
_STEP_BYTES = 3 * 1024 * 1024


def splice_base64(skeleton: bytes, files: Sequence[bytes | bytearray]) -> bytearray:
    """`skeleton`, JSON in which `files` were encoded as `PLACEHOLDER` in order, with each file's
    standard padded base64 in place of its placeholder: the bytes msgspec writes for `bytes` fields."""
    pieces = skeleton.split(b"\x00")
    if len(pieces) != len(files) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholders for {len(files)} files")
    # Grown step by step (a large bytearray grows by remapping, not copying): allocating it whole at
    # once would fault in every page of it in one go, the GIL held (about 0.1 s for 100 MB).
    out = bytearray()
    for piece, file in zip(pieces, [*files, b""], strict=True):
        out += piece
        with memoryview(file) as source:
            for start in range(0, len(source), _STEP_BYTES):
                out += pybase64.b64encode(source[start : start + _STEP_BYTES])
    return out
