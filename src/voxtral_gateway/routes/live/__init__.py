"""What every live-transcription WebSocket shares, whatever its protocol: the adapter base over a live
session, its bounded outbox, and the socket runner."""

from voxtral_gateway.routes.live.adapter import Close, Inbound, LiveAdapter, close_for
from voxtral_gateway.routes.live.outbox import Outbox
from voxtral_gateway.routes.live.socket import serve_live_socket

__all__ = ["Close", "Inbound", "LiveAdapter", "Outbox", "close_for", "serve_live_socket"]
