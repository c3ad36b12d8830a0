"""Server-sent events: encoding and the streaming response that carries them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from litestar.response import Stream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(data: object, event: str | None = None) -> bytes:
    """One event; `data` is JSON-encoded unless it is already bytes."""
    payload = data if isinstance(data, bytes) else msgspec.json.encode(data)
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


def sse_response(events: AsyncIterator[bytes]) -> Stream:
    return Stream(events, media_type="text/event-stream", headers=SSE_HEADERS)
