"""A Litestar `Request` for routes whose JSON body is mostly one base64 file (`POST /transcribe/`).

Litestar reads a body as a list of chunks joined into one `bytes`, decodes it to builtins (a dict
holding the whole base64 text as a `str`) and converts that to the route's Struct (the file as
`bytes`), keeping the body and the dict cached all along: a 100 MB file cost about 4.5× its size.
Here the body is read into one `bytearray`; msgspec validates every field but the file, which it
only delimits (`msgspec.Raw`), and pybase64 (SIMD, about 10× msgspec's own base64) decodes the file.
A small body's file gets its own `bytes`. A large body is parsed on a decode thread (the event loop
stays free) and its file decoded in place, into the front of that same buffer: a 100 MB file costs
its 133 MB body, once.

A `\\/` in the base64 (PHP's `json_encode` escapes every `/` by default) is unescaped in place too.
Whatever else is not the plain case (an invalid field, another JSON escape) is parsed as Litestar
would (`routes/json_request.py`: a large body on the decode thread as well), so every validation
error is exactly Litestar's."""

from __future__ import annotations

import binascii
import ctypes
import mmap
from typing import Any

import msgspec
import numpy as np
import pybase64
from litestar import Request
from litestar.types import Empty, TypeDecodersSequence

from voxtral_gateway.routes.json_request import (
    BodyInvalid,
    BufferedRequest,
    decode_body,
    off_loop_if_large,
    validation_exception,
)
from voxtral_gateway.routes.struct_variant import struct_variant

# Bodies at least this large are parsed off the event loop, with the file decoded in place.
IN_PLACE_BYTES = 1024 * 1024
# Base64 characters decoded per step (a multiple of 4); a step allocates only its output.
_STEP_CHARS = 4 * 1024 * 1024
_MIN_RELEASE_BYTES = 1024 * 1024
_LIBC = ctypes.CDLL(None, use_errno=True)


def upload_request_class(schema: type[msgspec.Struct], file_field: str) -> type[Request[Any, Any, Any]]:
    """A `Request` subclass whose `json()` returns `schema` with `file_field` decoded in place.

    The file arrives as a `bytearray` (the request's own buffer) where `schema` says `bytes`."""
    envelope = _envelope_type(schema, file_field)

    class UploadRequest(BufferedRequest):
        async def json(self) -> Any:
            if self._json is Empty:
                if (cached := self._connection_state.json) is not Empty:
                    self._json = cached
                elif (parsed := await self._parse_upload()) is not None:
                    self._json = self._connection_state.json = parsed
            return await super().json()

        async def _parse_upload(self) -> msgspec.Struct | None:
            buffer = await self.body()
            if not isinstance(buffer, bytearray):
                return None
            if len(buffer) >= IN_PLACE_BYTES:
                decoders = self.route_handler.resolve_type_decoders()
                parsed = await off_loop_if_large(
                    self, _parse_large, buffer, schema, envelope, file_field, decoders
                )
            else:
                parsed = _parse(buffer, schema, envelope, file_field)
            if isinstance(parsed, _InvalidBase64):
                # The exception Litestar's signature model raises for the same body.
                parsed = BodyInvalid(message=f"Invalid base64 encoded string - at `$.{file_field}`")
            if isinstance(parsed, BodyInvalid):
                raise validation_exception(self, parsed)
            return parsed

    UploadRequest.__name__ = UploadRequest.__qualname__ = f"{schema.__name__}UploadRequest"
    return UploadRequest


class _InvalidBase64:
    """`_parse`'s answer when the file is not valid base64 (the buffer is then spoilt)."""


def _envelope_type(schema: type[msgspec.Struct], file_field: str) -> type[msgspec.Struct]:
    """`schema` with the same fields, defaults and options, but `file_field` left raw."""
    return struct_variant(
        schema,
        f"{schema.__name__}Envelope",
        lambda info: msgspec.Raw if info.name == file_field else info.type,
    )


def _parse(
    buffer: bytearray, schema: type[msgspec.Struct], envelope: type[msgspec.Struct], file_field: str
) -> msgspec.Struct | None:
    """A small body as `schema`; None when Litestar should parse it instead (it is then untouched)."""
    # The file decoded into its own bytes by SIMD base64 (~10× msgspec's own decoding)...
    split = _split(buffer, envelope, file_field)
    if split is not None and not split.escaped:
        with memoryview(buffer) as view:
            try:
                file = pybase64.b64decode(view[split.start : split.end], validate=True)
            except binascii.Error:
                pass
            else:
                return schema(**split.values, **{file_field: file})
    # ... else one msgspec pass straight to the Struct, which decides what is wrong.
    try:
        return msgspec.json.decode(buffer, type=schema, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _parse_large(
    buffer: bytearray,
    schema: type[msgspec.Struct],
    envelope: type[msgspec.Struct],
    file_field: str,
    type_decoders: TypeDecodersSequence | None,
) -> msgspec.Struct | _InvalidBase64 | BodyInvalid:
    """A large body as `schema` (blocking: the decode pool's work), its file decoded in place when
    it can be, else as Litestar would decode it."""
    parsed = _parse_in_place(buffer, schema, envelope, file_field)
    return decode_body(buffer, schema, type_decoders) if parsed is None else parsed


class _Split(msgspec.Struct, frozen=True):
    values: dict[str, Any]
    """Every field but the file, validated."""
    start: int
    end: int
    """Where the file's base64 lies in the buffer (without its quotes)."""
    escaped: bool
    """Whether its `/` are written `\\/` (then its only escapes)."""


def _split(buffer: bytearray, envelope: type[msgspec.Struct], file_field: str) -> _Split | None:
    """The body split into the other fields and the file's span; None unless the file is a plain JSON
    string (ASCII, no escapes but `\\/`: msgspec.Raw does not check, Litestar does)."""
    try:
        parsed = msgspec.json.decode(buffer, type=envelope, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    raw: msgspec.Raw = getattr(parsed, file_field)
    start, end = _span_of(raw, buffer)
    del raw
    values = msgspec.structs.asdict(parsed)
    del values[file_field], parsed  # msgspec.Raw holds a view of the buffer: release it
    plain = end - start >= 2 and buffer[start] == buffer[end - 1] == 0x22
    if not plain or not buffer.isascii():
        return None
    escapes = buffer.count(b"\\", start, end)
    if escapes and escapes != buffer.count(b"\\/", start, end):
        return None
    return _Split(values=values, start=start + 1, end=end - 1, escaped=escapes > 0)


def _parse_in_place(
    buffer: bytearray, schema: type[msgspec.Struct], envelope: type[msgspec.Struct], file_field: str
) -> msgspec.Struct | _InvalidBase64 | None:
    """`schema` whose file is `buffer` itself, base64-decoded in place and truncated to it."""
    split = _split(buffer, envelope, file_field)
    if split is None:
        return None
    end = _unescape_solidus_in_place(buffer, split.start, split.end) if split.escaped else split.end
    size = _decode_base64_in_place(buffer, split.start, end)
    if size is None:
        return _InvalidBase64()
    del buffer[size:]
    _release_tail(buffer)
    return schema(**split.values, **{file_field: buffer})


def _unescape_solidus_in_place(buffer: bytearray, start: int, end: int) -> int:
    """Every `\\/` in `buffer[start:end]` made `/`, what follows moved up; the new end. Every
    backslash there starts a `\\/`, so a step that ends on one takes its `/` too."""
    written = start
    with memoryview(buffer) as view:
        position = start
        while position < end:
            stop = min(position + _STEP_CHARS, end)
            if view[stop - 1] == 0x5C:  # a backslash
                stop += 1
            chunk = bytes(view[position:stop]).replace(b"\\/", b"/")
            view[written : written + len(chunk)] = chunk
            written += len(chunk)
            position = stop
    return written


def _address(data: bytearray | msgspec.Raw) -> int:
    return int(np.frombuffer(data, dtype=np.uint8).ctypes.data)


def _span_of(raw: msgspec.Raw, buffer: bytearray) -> tuple[int, int]:
    """Where `raw` (a view msgspec took of `buffer`) lies in it."""
    start = _address(raw) - _address(buffer)
    end = start + len(memoryview(raw))
    if not 0 <= start <= end <= len(buffer):
        raise AssertionError("msgspec.Raw does not lie in the request buffer")
    return start, end


def _release_tail(buffer: bytearray) -> None:
    """Give the pages past the decoded file back to the OS.

    CPython keeps a bytearray's allocation when it shrinks by less than half, and the file is 3/4
    of its base64: without this a 100 MB upload would keep 33 MB it no longer uses. The pages are
    whole ones strictly inside the unused tail (the allocator's bookkeeping, if any, follows it)."""
    page = mmap.PAGESIZE
    base = _address(buffer)
    start = -(-(base + len(buffer) + 1) // page) * page  # +1: CPython's trailing NUL
    end = (base + buffer.__alloc__()) // page * page - page
    if end - start >= _MIN_RELEASE_BYTES:
        _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), mmap.MADV_DONTNEED)


def _decode_base64_in_place(buffer: bytearray, start: int, end: int) -> int | None:
    """Decode the base64 in `buffer[start:end]` into `buffer[0:n]`; n, or None if it is not valid.

    Step by step, so only one step's output is ever allocated; padding is only valid at the very
    end, so a step that is not the last must not end with it. Safe in place: a step's output ends
    before the input not yet read."""
    written = 0
    with memoryview(buffer) as view:
        for position in range(start, end, _STEP_CHARS):
            stop = min(position + _STEP_CHARS, end)
            if stop < end and view[stop - 1] == 0x3D:  # =
                return None
            try:
                decoded = pybase64.b64decode(view[position:stop], validate=True)
            except binascii.Error:
                return None
            view[written : written + len(decoded)] = decoded
            written += len(decoded)
    return written
