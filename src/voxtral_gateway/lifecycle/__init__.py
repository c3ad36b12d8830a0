"""Cancellation and shutdown: stop the work of a client that left, drain a worker on SIGTERM."""

from voxtral_gateway.lifecycle.disconnect import ReceiveWatcher, expects_body
from voxtral_gateway.lifecycle.middleware import LifecycleMiddleware, send_error
from voxtral_gateway.lifecycle.shutdown import ShutdownCoordinator

__all__ = ["LifecycleMiddleware", "ReceiveWatcher", "ShutdownCoordinator", "expects_body", "send_error"]
