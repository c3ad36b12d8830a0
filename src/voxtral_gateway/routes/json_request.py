"""A Litestar `Request` for routes whose JSON body may be large (`/transcribe/batch`, `/understand/`,
`/v1/chat/completions`): a large body is parsed into the route's Struct, base64 included, on the decode
pool, so the event loop stays free for the worker's other requests and live streams.

Litestar decodes a body to builtins and converts them to the Struct on the event loop (84 MB of
base64: a quarter of a second). Here a body of at least `OFF_LOOP_BYTES` is decoded on a decode
thread: its base64 files by pybase64 when they are plain (`base64_fields.py`: msgspec's own base64
decoding holds the GIL, stalling the loop from any thread), else by msgspec straight to the Struct.
One msgspec refuses is decoded again as Litestar would (builtins, then `msgspec.convert`) on that
thread, and Litestar's own validation error is raised from msgspec's message: the same status, body
and field as Litestar's. A small body is Litestar's to parse."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, ParamSpec, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import URL
from litestar.exceptions import ValidationException
from litestar.serialization import decode_json
from litestar.types import Empty, TypeDecodersSequence

from voxtral_gateway.routes.base64_fields import decode_with_base64_fields
from voxtral_gateway.runtime import Runtime

P = ParamSpec("P")
T = TypeVar("T")

OFF_LOOP_BYTES = 1024 * 1024
"""Bodies at least this large are parsed on the decode pool."""
# Where msgspec's message says the error is (Litestar's own pattern for its signature errors).
_ERROR_PATH = re.compile(r"`\$\.(.+)`$")


class BodyInvalid(msgspec.Struct, frozen=True):
    """A body that is JSON but not the route's Struct."""

    message: str
    """msgspec's message, e.g. "Expected `int`, got `str` - at `$.max_tokens`"."""


def decode_body(
    body: bytes | bytearray, schema: type[msgspec.Struct], type_decoders: TypeDecodersSequence | None
) -> msgspec.Struct | BodyInvalid:
    """`schema` from a JSON body, as Litestar would decode it; blocking (run it on the decode pool).

    Raises Litestar's `SerializationException` for a body that is not JSON."""
    if (parsed := decode_with_base64_fields(body, schema)) is not None:
        return parsed  # the plain case, the GIL held least
    try:
        return msgspec.json.decode(body, type=schema, strict=False)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    # Litestar's two steps, for its exact verdict: JSON to builtins, then the Struct.
    builtins = decode_json(body or b"null", type_decoders=type_decoders)
    try:
        return msgspec.convert(builtins, schema, strict=False, str_keys=True)
    except msgspec.ValidationError as exc:
        return BodyInvalid(message=str(exc))


def validation_exception(request: Request[Any, Any, Any], invalid: BodyInvalid) -> ValidationException:
    """What Litestar raises when its signature model cannot convert the `data` parameter (its
    `SignatureModel._build_error_message`, for a body)."""
    match = _ERROR_PATH.search(invalid.message)
    key = ".".join(["data", match.group(1)] if match else ["data"]).replace("data.", "")
    path = URL.from_components(path=request.url.path, query=request.url.query)
    return ValidationException(
        detail=f"Validation failed for {request.method} {path}",
        extra=[{"message": invalid.message.split(" - ", maxsplit=1)[0], "key": key, "source": "body"}],
    )


async def off_loop_if_large(
    request: Request[Any, Any, Any], func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`func(*args, **kwargs)` on the decode pool when the request's body is large (here, in an app
    without the worker's runtime), else here."""
    runtime = request.app.state.get("runtime")
    if isinstance(runtime, Runtime) and len(await request.body()) >= OFF_LOOP_BYTES:
        return await runtime.decode_pool.run(func, *args, **kwargs)
    return func(*args, **kwargs)


async def read_into_one_buffer(request: Request[Any, Any, Any]) -> bytearray:
    """The body in one `bytearray`, grown in place as chunks arrive (`+=`: a large one grows by
    remapping its pages, not copying them). Not allocated whole from Content-Length: zeroing 100 MB
    at once faults in every page of it on the event loop (~0.1 s)."""
    buffer = bytearray()
    async for chunk in request.stream():  # enforces the route's limit on what actually arrives
        buffer += chunk
    return buffer


class BufferedRequest(Request[Any, Any, Any]):
    """A request whose body is read into one `bytearray` (see `read_into_one_buffer`)."""

    async def body(self) -> bytes:
        if self._body is Empty:
            if (cached := self._connection_state.body) is not Empty:
                self._body = cached
            else:
                buffer = await read_into_one_buffer(self)
                self._body = self._connection_state.body = buffer  # type: ignore[assignment]
        return self._body


class LargeJsonRequest(BufferedRequest):
    """Parses a large body into `schema` on the decode pool (set `schema` in a subclass, or use
    `large_json_request_class`)."""

    schema: ClassVar[type[msgspec.Struct]]

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            body = await self.body()
            if len(body) >= OFF_LOOP_BYTES:
                decoders = self.route_handler.resolve_type_decoders()
                parsed = await off_loop_if_large(self, decode_body, body, self.schema, decoders)
                if isinstance(parsed, BodyInvalid):
                    raise validation_exception(self, parsed)
                self._json = self._connection_state.json = parsed
        return await super().json()


def large_json_request_class(schema: type[msgspec.Struct]) -> type[LargeJsonRequest]:
    """A `LargeJsonRequest` for routes whose `data` is `schema`."""
    return type(f"{schema.__name__}Request", (LargeJsonRequest,), {"schema": schema, "__slots__": ()})
