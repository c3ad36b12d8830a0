"""A Litestar `Request` for routes whose JSON body is mostly one base64 file (`POST /transcribe/`).

Litestar reads a body as a list of chunks joined into one `bytes`, decodes it to builtins (a dict
holding the whole base64 text as a `str`) and converts that to the route's Struct (the file as
`bytes`), keeping the body and the dict cached all along: a 100 MB file cost about 4.5× its size.
Here the body is read into one `bytearray`; msgspec validates every field but the file, which it
only delimits (`msgspec.Raw`), and pybase64 (SIMD, about 10× msgspec's own base64) decodes the file.
A small body's file gets its own `bytes`. A large body is parsed on a decode thread (the event loop
stays free) and its file decoded in place, into the front of that same buffer: a 100 MB file costs
its 133 MB body, once.

Whatever is not the plain case (an invalid field, a JSON escape inside the base64) falls back to
Litestar's own parsing of the untouched body, so every validation error is exactly Litestar's."""

from __future__ import annotations

import binascii
import ctypes
import mmap
from typing import Any

import msgspec
import numpy as np
import pybase64
from litestar import Request
from litestar.datastructures import URL
from litestar.exceptions import ValidationException
from litestar.types import Empty

from voxtral_gateway.runtime import Runtime

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

    class UploadRequest(Request[Any, Any, Any]):
        async def body(self) -> bytes:
            if self._body is Empty:
                if (cached := self._connection_state.body) is not Empty:
                    self._body = cached
                else:
                    buffer = await _read_into_one_buffer(self)
                    self._body = self._connection_state.body = buffer  # type: ignore[assignment]
            return self._body

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
            runtime = self.app.state.get("runtime")
            if len(buffer) >= IN_PLACE_BYTES and isinstance(runtime, Runtime):
                parsed = await runtime.decode_pool.run(_parse, buffer, schema, envelope, file_field)
            else:
                parsed = _parse(buffer, schema, envelope, file_field)
            if isinstance(parsed, _InvalidBase64):
                # The exception Litestar's signature model raises for the same body.
                path = URL.from_components(path=self.url.path, query=self.url.query)
                raise ValidationException(
                    detail=f"Validation failed for {self.method} {path}",
                    extra=[{"message": "Invalid base64 encoded string", "key": file_field, "source": "body"}],
                )
            return parsed

    UploadRequest.__name__ = UploadRequest.__qualname__ = f"{schema.__name__}UploadRequest"
    return UploadRequest


async def _read_into_one_buffer(request: Request[Any, Any, Any]) -> bytearray:
    """The body in one `bytearray`: sized from Content-Length when that is within the route's limit
    (each chunk copied once, no regrowth), else grown in place (`+=`: realloc, no list and join)."""
    announced = request.content_length
    limit = request.route_handler.resolve_request_max_body_size()
    if announced is None or limit is None or not 0 < announced <= limit:
        grown = bytearray()
        async for chunk in request.stream():  # enforces the limit on what actually arrives
            grown += chunk
        return grown
    buffer = bytearray(announced)
    filled = 0
    async for chunk in request.stream():
        end = filled + len(chunk)
        if end <= announced:
            buffer[filled:end] = chunk
        else:  # more than announced (the server normally stops at Content-Length): keep it all
            del buffer[filled:]
            buffer += chunk
        filled = end
    del buffer[filled:]
    return buffer


class _InvalidBase64:
    """`_parse`'s answer when the file is not valid base64 (the buffer is then spoilt)."""


def _envelope_type(schema: type[msgspec.Struct], file_field: str) -> type[msgspec.Struct]:
    """`schema` with the same fields, defaults and options, but `file_field` left raw."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for info in msgspec.structs.fields(schema):
        kind = msgspec.Raw if info.name == file_field else info.type
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, kind, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, kind, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, kind))
        if info.encode_name != info.name:
            rename[info.name] = info.encode_name
    config = schema.__struct_config__
    return msgspec.defstruct(
        f"{schema.__name__}Envelope",
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        rename=rename or None,
    )


def _parse(
    buffer: bytearray, schema: type[msgspec.Struct], envelope: type[msgspec.Struct], file_field: str
) -> msgspec.Struct | _InvalidBase64 | None:
    """The body as `schema`; None when Litestar should parse it instead (it is then untouched)."""
    if len(buffer) >= IN_PLACE_BYTES:
        return _parse_in_place(buffer, schema, envelope, file_field)
    # Small: the file decoded into its own bytes by SIMD base64 (~10× msgspec's own decoding)...
    split = _split(buffer, envelope, file_field)
    if split is not None:
        values, start, end = split
        with memoryview(buffer) as view:
            try:
                return schema(**values, **{file_field: pybase64.b64decode(view[start:end], validate=True)})
            except binascii.Error:
                pass
    # ... else one msgspec pass straight to the Struct, which decides what is wrong.
    try:
        return msgspec.json.decode(buffer, type=schema, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _split(
    buffer: bytearray, envelope: type[msgspec.Struct], file_field: str
) -> tuple[dict[str, Any], int, int] | None:
    """Every field but the file, validated, and where the file's base64 lies in `buffer`; None unless
    the file is a plain JSON string (ASCII, no escapes: msgspec.Raw does not check, Litestar does)."""
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
    if not plain or buffer.find(b"\\", start, end) >= 0 or not buffer.isascii():
        return None
    return values, start + 1, end - 1


def _parse_in_place(
    buffer: bytearray, schema: type[msgspec.Struct], envelope: type[msgspec.Struct], file_field: str
) -> msgspec.Struct | _InvalidBase64 | None:
    """`schema` whose file is `buffer` itself, base64-decoded in place and truncated to it."""
    split = _split(buffer, envelope, file_field)
    if split is None:
        return None
    values, start, end = split
    size = _decode_base64_in_place(buffer, start, end)
    if size is None:
        return _InvalidBase64()
    del buffer[size:]
    _release_tail(buffer)
    return schema(**values, **{file_field: buffer})


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
