"""A request's life in the gateway: its context, cancellation when the client leaves, draining on SIGTERM."""

from voxtral_gateway.lifecycle.disconnect import ReceiveWatcher, expects_body
from voxtral_gateway.lifecycle.middleware import GatewayMiddleware, send_error

__all__ = ["GatewayMiddleware", "ReceiveWatcher", "expects_body", "send_error"]
