"""Decoding a JSON body whose `bytes` fields (base64 files, at any depth) hold most of its size,
without holding the GIL for long: a decode thread running msgspec's own base64 decoding stalls
the event loop's thread as much as running it there.

msgspec decodes the body into a twin of the schema whose `bytes` fields are `msgspec.Raw` (it then
only finds where each string ends: ~30 ms for 80 MB, against ~170 ms decoding it), and pybase64,
which releases the GIL, decodes each file. Anything but plain base64 strings (other escapes than
`\\/`, invalid base64) is left to the caller's exact decoding (None)."""

from __future__ import annotations

import binascii
import functools
import types
import typing
from typing import Any

import msgspec
import pybase64

from voxtral_gateway.routes.struct_variant import struct_variant


def decode_with_base64_fields(body: bytes | bytearray, schema: type[msgspec.Struct]) -> msgspec.Struct | None:
    """`schema` from `body`, its `bytes` fields decoded by pybase64; None when that cannot be done
    here (invalid, or not plain base64: the caller decodes it exactly)."""
    twin = _twin(schema)
    if twin is schema:
        return None
    try:
        parsed = msgspec.json.decode(body, type=twin, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    try:
        return _real(parsed)
    except _NotPlain:
        return None


_ORIGINALS: dict[type[msgspec.Struct], type[msgspec.Struct]] = {}
"""Each twin's schema."""


class _NotPlain(Exception):
    """A file that is not a plain, valid base64 JSON string."""


def _real(value: Any) -> Any:
    """The twin's `value` as the schema holds it: every Raw base64-decoded."""
    if isinstance(value, msgspec.Raw):
        return _file(value)
    if isinstance(value, list):
        return [_real(item) for item in value]
    if (original := _ORIGINALS.get(type(value))) is not None:
        return original(**{name: _real(getattr(value, name)) for name in original.__struct_fields__})
    return value


def _file(raw: msgspec.Raw) -> bytes:
    with memoryview(raw) as view:
        text = bytes(view)  # small next to the decoding; Raw's view must not outlive the body
    if len(text) < 2 or text[0] != 0x22 or text[-1] != 0x22 or not text.isascii():
        raise _NotPlain
    text = text[1:-1]
    if b"\\" in text:
        if text.count(b"\\") != text.count(b"\\/"):
            raise _NotPlain
        text = text.replace(b"\\/", b"/")
    try:
        data = pybase64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise _NotPlain from exc
    if text and not data:  # padding alone: msgspec's verdict
        raise _NotPlain
    return data


def _unannotated(kind: Any) -> Any:
    return typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind


@functools.cache
def _twin(schema: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """`schema` with every `bytes` field, in it or in the Structs (or lists of them) it holds, made
    `msgspec.Raw`; `schema` itself when it has none."""
    hints = typing.get_type_hints(schema, include_extras=True)
    retyped = {name: _twin_type(kind) for name, kind in hints.items()}
    if all(retyped[name] is kind for name, kind in hints.items()):
        return schema
    twin = struct_variant(schema, f"{schema.__name__}Twin", lambda info: retyped[info.name])
    _ORIGINALS[twin] = schema
    return twin


def _twin_type(kind: Any) -> Any:
    bare = _unannotated(kind)
    if bare is bytes:
        return msgspec.Raw
    if isinstance(bare, type) and issubclass(bare, msgspec.Struct):
        twin = _twin(bare)
        return kind if twin is bare else twin
    origin = typing.get_origin(bare)
    if origin is list:
        (item,) = typing.get_args(bare)
        twin_item = _twin_type(item)
        if twin_item is item:
            return kind
        meta = typing.get_args(kind)[1:] if kind is not bare else ()
        return typing.Annotated[list[twin_item], *meta] if meta else list[twin_item]
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(bare)
        twins = tuple(_twin_type(a) for a in args)
        if twins == args:
            return kind
        if msgspec.Raw in twins:
            raise TypeError(f"{kind}: a bytes field in a union is not supported")
        return typing.Union[twins]  # noqa: UP007
    return kind
