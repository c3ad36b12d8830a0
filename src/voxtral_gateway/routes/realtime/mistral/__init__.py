"""Mistral realtime transcription."""

from voxtral_gateway.routes.realtime.mistral.route import mistral_realtime

__all__ = ["mistral_realtime"]
