"""A client that does not read its messages: the stream's outbox is bounded (at `outbox_messages`, 256,
the stream stops reading the client), nothing is lost once the client reads again, and a client that reads
nothing for STREAM_IDLE_TIMEOUT_SECONDS is closed like an idle one. Each client message here is invalid
JSON, which the seed protocol answers with one `invalid_message` error: many small messages, no backend.
The figure checked is the stream's `outbox_peak` in its `stream_closed` log line."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlparse

import websockets

from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.stream_client import stream_url
from tests.support.waiting import wait_until

OUTBOX_MESSAGES = 256  # StreamConfig.outbox_messages
# Enough that the replies fill the kernel's buffers and then the outbox (here after ~17,000), and long
# enough that the client's sends stall soon after that rather than filling the kernel's buffers with more.
SENT = 40_000
NOT_JSON = "not json " + "x" * 1000
IDLE_SECONDS = 4
GATEWAY_ENV = {
    "RATE_LIMIT_ENABLED": "false",
    "STREAM_IDLE_TIMEOUT_SECONDS": str(IDLE_SECONDS),
    "MAX_STREAMS_PER_IDENTITY": "4",
}


def small_window_socket(url: str) -> socket.socket:
    """A connected TCP socket whose receive buffer is a few kilobytes: what the client does not read
    stays on the server's side instead of in the kernel's buffers here."""
    where = urlparse(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((where.hostname, where.port))
    sock.setblocking(False)
    return sock


def streams_waiting_on_client(gateway: GatewayProcess) -> float:
    """Streams whose outbox is full, so that they stopped reading their client (the gateway's metric)."""
    return value(scrape(gateway.base_url), "voxtral_gateway_websocket_streams_waiting_on_client")


def closed_streams(gateway: GatewayProcess) -> list[dict[str, Any]]:
    lines = (json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == "stream_closed"]


async def send_all(ws: websockets.ClientConnection, count: int) -> int:
    sent = 0
    for _ in range(count):
        await ws.send(NOT_JSON)
        sent += 1
    return sent


async def test_a_client_that_pauses_reading_meets_a_bounded_outbox_and_loses_nothing(gateway: GatewayProcess):
    url = stream_url(gateway)
    before = len(closed_streams(gateway))
    async with websockets.connect(url, sock=small_window_socket(url), max_queue=1, max_size=None) as ws:
        sending = asyncio.create_task(send_all(ws, SENT))
        # Not reading, while the kernel's buffers and then the outbox fill, until the server stops reading.
        assert await asyncio.to_thread(wait_until, lambda: streams_waiting_on_client(gateway) == 1, 60)
        replies = []
        while len(replies) < SENT + 1:  # ready, then one error per message
            replies.append(json.loads(await ws.recv()))
        assert await sending == SENT
        await ws.send(json.dumps({"is_final": True}))
        done = json.loads(await ws.recv())
    assert replies[0]["type"] == "ready"
    assert [r["code"] for r in replies[1:]] == ["invalid_message"] * SENT
    assert done["type"] == "done"
    assert await asyncio.to_thread(wait_until, lambda: len(closed_streams(gateway)) > before)
    summary = closed_streams(gateway)[-1]
    assert summary["close_code"] == 1000
    assert OUTBOX_MESSAGES <= summary["outbox_peak"] <= OUTBOX_MESSAGES + 1, summary["outbox_peak"]


async def test_a_client_that_never_reads_is_closed_after_the_idle_timeout(gateway: GatewayProcess):
    url = stream_url(gateway)
    before = len(closed_streams(gateway))
    async with websockets.connect(url, sock=small_window_socket(url), max_queue=1, max_size=None) as ws:
        sending = asyncio.create_task(send_all(ws, SENT))
        # The stream gives up on the client: its outbox stayed full for the idle timeout, and then the end
        # of the stream could not be written either.
        assert await asyncio.to_thread(
            wait_until, lambda: len(closed_streams(gateway)) > before, 3 * IDLE_SECONDS + 10
        )
        sending.cancel()
    summary = closed_streams(gateway)[-1]
    assert summary["close_code"] == 1008  # idle_timeout's
    assert summary["outbox_peak"] <= OUTBOX_MESSAGES + 3  # + the done and the fatal error
    assert "stream_client_not_reading" in gateway.logs()
