"""A WebSocket client for /stream/transcribe (the `websockets` library), as tests and benchmarks use it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jiwer
import websockets
import websockets.sync.client
from websockets.exceptions import ConnectionClosed

from tests.audio_fixtures import normalize_text
from tests.support.gateway_process import GatewayProcess

Outgoing = dict[str, Any] | str | bytes


def stream_url(gateway: GatewayProcess) -> str:
    return gateway.base_url.replace("http://", "ws://") + "/stream/transcribe"


def cut(data: bytes, sizes: int | Iterable[int]) -> list[bytes]:
    """`data` in pieces of `sizes` bytes (one size, or a sequence cycled through)."""
    pieces, position = [], 0
    sizes_iter = iter(sizes) if not isinstance(sizes, int) else None
    while position < len(data):
        size = sizes if isinstance(sizes, int) else next(sizes_iter)  # type: ignore[arg-type]
        pieces.append(data[position : position + size])
        position += size
    return pieces


def chunk_messages(
    pieces: Sequence[bytes], fmt: str | None, language: str | None = "en", first_id: int = 1
) -> list[dict[str, Any]]:
    """The seed's chunk messages for `pieces`, then the final one (`is_final`, no audio)."""
    messages: list[dict[str, Any]] = []
    for index, piece in enumerate(pieces):
        message: dict[str, Any] = {
            "chunk_id": first_id + index,
            "is_final": False,
            "audio_data": base64.b64encode(piece).decode("ascii"),
        }
        if fmt:
            message["format"] = fmt
        if language:
            message["language"] = language
        messages.append(message)
    messages.append({"chunk_id": first_id + len(pieces), "is_final": True, "audio_data": ""})
    return messages


@dataclass
class StreamResult:
    messages: list[dict[str, Any]] = field(default_factory=list)
    arrival: list[float] = field(default_factory=list)
    """Seconds since the connection opened, per message."""
    close_code: int | None = None
    close_reason: str = ""
    closed_at: float | None = None
    """Seconds since the connection opened when the server's close arrived."""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return self.of("final")

    @property
    def partials(self) -> list[dict[str, Any]]:
        return self.of("partial")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of("error")

    @property
    def done(self) -> dict[str, Any]:
        done = self.of("done")
        assert len(done) == 1, f"expected one done message, got {self.messages}"
        return done[0]

    def codes(self) -> list[str]:
        return [m["code"] for m in self.errors]


async def run_stream(
    url: str,
    outgoing: Sequence[Outgoing],
    *,
    pace_seconds: float = 0.0,
    time_limit: float = 120.0,
    headers: dict[str, str] | None = None,
) -> StreamResult:
    """Send `outgoing` (dicts as JSON text, str as text, bytes as binary frames), `pace_seconds` apart,
    while collecting every server message until the server closes."""
    result = StreamResult()
    async with asyncio.timeout(time_limit):
        async with websockets.connect(url, max_size=None, additional_headers=headers) as socket:
            opened = time.perf_counter()

            async def send_all() -> None:
                for index, item in enumerate(outgoing):
                    if index and pace_seconds:
                        await asyncio.sleep(pace_seconds)
                    try:
                        await socket.send(json.dumps(item) if isinstance(item, dict) else item)
                    except websockets.ConnectionClosed:
                        return

            sender = asyncio.create_task(send_all())
            try:
                async for raw in socket:
                    result.messages.append(json.loads(raw))
                    result.arrival.append(time.perf_counter() - opened)
            except websockets.ConnectionClosed:
                pass
            result.closed_at = time.perf_counter() - opened
            sender.cancel()
            result.close_code = socket.close_code
            result.close_reason = socket.close_reason or ""
    return result


def word_error_rate(reference: str, hypothesis: str) -> float:
    return float(jiwer.wer(normalize_text(reference), normalize_text(hypothesis) or "<empty>"))


def messages_until_closed(socket: websockets.sync.client.ClientConnection) -> list[dict[str, Any]]:
    """Every JSON message the server sends on `socket` until it closes it."""
    messages = []
    try:
        while True:
            messages.append(json.loads(socket.recv(timeout=30)))
    except ConnectionClosed:
        return messages
