"""WebSocket /v1/audio/transcriptions/realtime: Mistral's realtime transcription protocol. The socket is
the shared runner's (`routes/live/socket.py`): API keys, rate limits, stream slots, limits,
backpressure and shutdown apply as on /stream/transcribe."""

from __future__ import annotations

import secrets

import msgspec
from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.error_wire import mistral_realtime_error
from voxtral_gateway.routes.live import serve_live_socket
from voxtral_gateway.routes.realtime.mistral.protocol import MistralRealtimeSession
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.realtime_mistral import ErrorEvent

MISTRAL_REALTIME_PATH = "/v1/audio/transcriptions/realtime"


def _refusal(exc: GatewayError, close_code: int) -> msgspec.Struct:
    return ErrorEvent(error=mistral_realtime_error(exc))


@websocket(MISTRAL_REALTIME_PATH, name="mistral_realtime")
async def mistral_realtime(socket: WebSocket, runtime: NamedDependency[Runtime]) -> None:
    """Mistral realtime transcription (`?model=`); see docs/realtime.md."""
    model = socket.query_params.get("model") or runtime.live.model_name

    await serve_live_socket(
        socket,
        runtime,
        lambda: MistralRealtimeSession(session_id=secrets.token_hex(8), live=runtime.live, model=model),
        _refusal,
        protocol="mistral-realtime",
        precheck=lambda: runtime.models.resolve(model),
    )
