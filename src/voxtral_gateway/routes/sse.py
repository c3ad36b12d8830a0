"""Server-sent events: encoding, and the one way a use case's events become an SSE response."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from typing import TypeVar

import msgspec
import structlog
from litestar.response import Stream

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.error_wire import Dialect, sse_error_event

log = structlog.get_logger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_MEDIA_TYPE = "text/event-stream"

Event = TypeVar("Event")


def sse_event(data: object, event: str | None = None) -> bytes:
    """One event; `data` is JSON-encoded unless it is already bytes."""
    payload = data if isinstance(data, bytes) else msgspec.json.encode(data)
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


def sse_response(events: AsyncIterator[bytes]) -> Stream:
    return Stream(events, media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)


async def sse_after_first_event(
    events: AsyncGenerator[Event, None],
    encode: Callable[[Event], Iterable[bytes]],
    dialect: Dialect,
    *,
    opening: Iterable[bytes] = (),
    name: str,
) -> Stream:
    """A 200 SSE response carrying `events`, each encoded to zero or more SSE frames by `encode`.

    The first event is awaited before answering, so a request refused before anything is produced
    (limits, undecodable audio, the model server refusing) gets its real HTTP status and error body.
    `opening` frames go first once the stream has started. An error after that ends the stream with
    the dialect's error event (`error_wire.sse_error_event`); the events are closed either way.
    `name` labels the warning logged for such an error."""
    first = await anext(events, _END)

    async def frames() -> AsyncIterator[bytes]:
        try:
            for frame in opening:
                yield frame
            if first is _END:
                return
            for frame in encode(first):  # type: ignore[arg-type]  # not _END here
                yield frame
            async for event in events:
                for frame in encode(event):
                    yield frame
        except GatewayError as exc:
            log.warning("sse_stream_failed", stream=name, error=exc.message)
            yield sse_error_event(exc, dialect)
        finally:
            await events.aclose()

    return sse_response(frames())


_END = object()
