"""The OpenAI-compatible surface: /v1/models, /v1/audio/transcriptions (and its jobs), /v1/chat/completions.

Errors on these routes use OpenAI's shape (`routes/error_handlers.py` decides by path)."""

from voxtral_gateway.routes.openai.chat import ChatCompletionsController
from voxtral_gateway.routes.openai.models import ModelsController
from voxtral_gateway.routes.openai.transcription_jobs import TranscriptionJobsController
from voxtral_gateway.routes.openai.transcriptions import AudioTranscriptionsController

__all__ = [
    "AudioTranscriptionsController",
    "ChatCompletionsController",
    "ModelsController",
    "TranscriptionJobsController",
]
