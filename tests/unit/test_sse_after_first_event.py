"""routes/sse.sse_after_first_event: a refusal before the first event is an exception (the route
answers with its HTTP status); an error after it ends the 200 stream with the dialect's error event,
mapped as on HTTP; the events are closed however the stream ends."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import pytest

from voxtral_gateway.errors import InvalidRequest, UpstreamRejected
from voxtral_gateway.routes.sse import sse_after_first_event


class Events:
    def __init__(self, items: list[str | Exception]):
        self.items = items
        self.closed = False

    async def run(self) -> AsyncGenerator[str, None]:
        try:
            for item in self.items:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.closed = True


def _encode(event: str) -> list[bytes]:
    return [f"data: {event}\n\n".encode()] if event else []


async def _body(stream) -> bytes:
    return b"".join([chunk async for chunk in stream.iterator])


async def test_a_refusal_before_the_first_event_raises():
    events = Events([InvalidRequest("max_tokens is 9; the limit is 8", field="max_tokens")])
    with pytest.raises(InvalidRequest):
        await sse_after_first_event(events.run(), _encode, "seed", name="test")


async def test_events_are_encoded_after_the_opening_frames():
    events = Events(["a", "", "b"])
    stream = await sse_after_first_event(events.run(), _encode, "openai", opening=[b": open\n\n"], name="t")
    assert stream.media_type == "text/event-stream"
    assert await _body(stream) == b": open\n\ndata: a\n\ndata: b\n\n"
    assert events.closed


@pytest.mark.parametrize(
    ("dialect", "prefix", "kind"),
    [("seed", b"event: error\ndata: ", None), ("openai", b"data: ", "invalid_request_error")],
)
async def test_an_error_after_the_start_ends_the_stream_with_the_mapped_error_event(
    dialect, prefix: bytes, kind: str | None
):
    refused = UpstreamRejected("vLLM refused the request: too long", upstream_status=400)
    events = Events(["a", refused])
    stream = await sse_after_first_event(events.run(), _encode, dialect, name="t")
    body = await _body(stream)
    first, error = body.split(b"\n\n", 1)
    assert first == b"data: a"
    assert error.startswith(prefix)
    payload = json.loads(error[len(prefix) :])
    assert payload["error"]["code"] == "upstream_rejected_request"
    if kind is not None:  # a 400 from upstream is the client's fault on SSE as on HTTP
        assert payload["error"]["type"] == kind
    assert events.closed


async def test_closing_the_stream_early_closes_the_events():
    events = Events(["a", "b", "c"])
    stream = await sse_after_first_event(events.run(), _encode, "seed", name="t")
    frames = stream.iterator
    assert await anext(frames) == b"data: a\n\n"
    await frames.aclose()
    assert events.closed
