"""The realtime protocols voice agents speak (OpenAI Realtime, Mistral realtime), over the live session."""

from voxtral_gateway.routes.realtime.mistral import mistral_realtime
from voxtral_gateway.routes.realtime.openai import openai_realtime

__all__ = ["mistral_realtime", "openai_realtime"]
