"""The smoke-test client for a deployed gateway: `python -m voxtral_gateway.smoke --url ...`."""

from voxtral_gateway.smoke.cli import main

__all__ = ["main"]
