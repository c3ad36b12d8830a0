"""The gateway's own API: /transcribe/, /transcribe/batch and /understand/ (errors in `ErrorResponse`)."""

from voxtral_gateway.routes.seed.batch import BatchController
from voxtral_gateway.routes.seed.transcribe import TranscribeController
from voxtral_gateway.routes.seed.understand import UnderstandController

__all__ = ["BatchController", "TranscribeController", "UnderstandController"]
