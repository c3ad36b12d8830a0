"""WebSocket /v1/realtime: OpenAI Realtime transcription sessions (GA, and beta with
`OpenAI-Beta: realtime=v1`). The socket is the shared runner's (`routes/live/socket.py`): API keys, rate
limits, stream slots, limits, backpressure and shutdown apply as on /stream/transcribe."""

from __future__ import annotations

import secrets

import msgspec
from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from voxtral_gateway.errors import GatewayError, InvalidRequest
from voxtral_gateway.routes.error_wire import openai_realtime_error
from voxtral_gateway.routes.live import serve_live_socket
from voxtral_gateway.routes.realtime.openai.protocol import OpenAIRealtimeSession
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.realtime_openai import ErrorEvent

OPENAI_REALTIME_PATH = "/v1/realtime"


def _refusal(exc: GatewayError, close_code: int) -> msgspec.Struct:
    return ErrorEvent(event_id="event_" + secrets.token_hex(10), error=openai_realtime_error(exc))


@websocket(OPENAI_REALTIME_PATH, name="openai_realtime")
async def openai_realtime(socket: WebSocket, runtime: NamedDependency[Runtime]) -> None:
    """OpenAI Realtime API, transcription sessions (`?intent=transcription`); see docs/realtime.md."""
    model = socket.query_params.get("model")
    intent = socket.query_params.get("intent")
    beta = "realtime=v1" in (socket.headers.get("openai-beta") or "")

    def precheck() -> None:
        if intent not in (None, "transcription"):
            raise InvalidRequest(
                f"intent {intent!r} is not served here: only transcription sessions (?intent=transcription)",
                field="intent",
            )
        if model is not None:
            runtime.models.resolve(model)

    await serve_live_socket(
        socket,
        runtime,
        lambda: OpenAIRealtimeSession(
            session_id=secrets.token_hex(8), live=runtime.live, models=runtime.models, model=model, beta=beta
        ),
        _refusal,
        protocol="openai-realtime",
        precheck=precheck,
    )
