"""OpenAI Realtime API, transcription sessions."""

from voxtral_gateway.routes.realtime.openai.route import openai_realtime

__all__ = ["openai_realtime"]
