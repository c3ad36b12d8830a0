"""WebSocket /stream/transcribe: live transcription with partial and final results.

The socket (admission, reading with a size limit, idle timeout and backpressure, writing, closing) is the
shared runner's (`routes/live/socket.py`); what the messages mean is the seed protocol's business
(`stream_protocol.py`), over the live session (`services/live/`)."""

from __future__ import annotations

import secrets

from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.live import serve_live_socket
from voxtral_gateway.routes.seed.stream_protocol import SeedStream
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.stream import ErrorMessage

STREAM_PATH = "/stream/transcribe"


def _refusal(exc: GatewayError, close_code: int) -> ErrorMessage:
    return ErrorMessage(code=exc.code, message=exc.message, severity="fatal", close_code=close_code)


@websocket(STREAM_PATH, name="stream_transcribe")
async def stream_transcribe(socket: WebSocket, runtime: NamedDependency[Runtime]) -> None:
    """Live transcription; the protocol is in the README ("Live transcription (WebSocket)")."""
    await serve_live_socket(
        socket,
        runtime,
        lambda: SeedStream(session_id=secrets.token_hex(8), live=runtime.live),
        _refusal,
        protocol="seed",
    )
