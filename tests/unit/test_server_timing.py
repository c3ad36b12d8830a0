"""The Server-Timing recorder, and its header as the gateway's middleware adds it."""

from __future__ import annotations

import asyncio
from typing import Any

from voxtral_gateway.lifecycle import GatewayMiddleware
from voxtral_gateway.observability.server_timing import (
    TimedCall,
    TimingRecorder,
    add_span,
    current_recorder,
    recording,
)
from voxtral_gateway.runtime import ShutdownCoordinator


def test_a_metric_is_the_union_of_its_spans():
    recorder = TimingRecorder(started=0.0)
    recorder.add_span("upstream", 1.0, 3.0)
    recorder.add_span("upstream", 2.0, 4.0)  # overlaps: concurrent segments count once
    recorder.add_span("upstream", 6.0, 7.0)
    recorder.add_span("decode", 0.5, 0.75)
    assert recorder.seconds("upstream") == 4.0
    assert recorder.seconds("decode") == 0.25
    assert recorder.seconds("queue") == 0.0
    assert (
        recorder.header_value(now=10.0) == b"upstream;dur=4000.000, decode;dur=250.000, total;dur=10000.000"
    )


def test_timed_call_records_the_wait_as_queue_and_the_run_as_its_metric():
    call = TimedCall(lambda: 42)
    assert call() == 42
    assert call.started is not None and call.finished is not None
    recorded: dict[str, list[tuple[float, float]]] = {}

    with recording(TimingRecorder()) as recorder:
        call.record(call.started - 0.5, "decode")  # type: ignore[operator]
        assert current_recorder() is recorder
        recorded.update(recorder.spans)
    assert current_recorder() is None
    assert recorded == {
        "queue": [(call.started - 0.5, call.started)],
        "decode": [(call.started, call.finished)],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_middleware_adds_the_header_and_isolates_concurrent_requests():
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        add_span(scope["path"], 0.0, 0.001 if scope["path"] == "a" else 0.002)
        await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def both() -> None:
        middleware = GatewayMiddleware(app, ShutdownCoordinator(timeout_seconds=1))
        await asyncio.gather(
            middleware({"type": "http", "path": "a", "method": "GET", "headers": []}, _receive, send),
            middleware({"type": "http", "path": "b", "method": "GET", "headers": []}, _receive, send),
        )

    asyncio.run(both())
    headers = [dict(m["headers"]) for m in sent if m["type"] == "http.response.start"]
    values = sorted(h[b"server-timing"].decode() for h in headers)
    assert values[0].startswith("a;dur=1.000, total;dur=")
    assert values[1].startswith("b;dur=2.000, total;dur=")
    assert all(h[b"x"] == b"1" for h in headers)
    assert len({h[b"x-request-id"] for h in headers}) == 2
    assert current_recorder() is None  # nothing leaks outside a request


def test_outside_a_request_recording_is_a_no_op():
    add_span("decode", 0.0, 1.0)
    assert current_recorder() is None
