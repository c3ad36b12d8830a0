"""The long-lived objects of one worker process (`Runtime`) and its graceful shutdown."""

from voxtral_gateway.runtime._runtime import Runtime
from voxtral_gateway.runtime.shutdown import ShutdownCoordinator

__all__ = ["Runtime", "ShutdownCoordinator"]
