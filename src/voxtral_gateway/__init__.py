"""voxtral-gateway: a fast, safe HTTP and WebSocket API in front of Mistral's Voxtral speech model."""

__version__ = "0.1.0"
__all__ = ["__version__"]
