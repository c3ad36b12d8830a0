"""What every live-transcription WebSocket shares, whatever its protocol: the socket runner."""

from voxtral_gateway.routes.live.outbox import Outbox
from voxtral_gateway.routes.live.socket import Close, Inbound, LiveAdapter, close_for, serve_live_socket

__all__ = ["Close", "Inbound", "LiveAdapter", "Outbox", "close_for", "serve_live_socket"]
