"""POST /transcribe/: one base64 audio file in, its transcription out."""

from __future__ import annotations

import time
from typing import Annotated

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body

from voxtral_gateway.routes.docs import error_responses
from voxtral_gateway.routes.upload_request import upload_request_class
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.transcribe import TranscribeRequest, TranscribeResponse
from voxtral_gateway.services.transcription import AudioFile, TranscriptionOptions

_BODY = Body(
    title="Transcription request",
    examples=[
        Example(
            summary="An MP3 in English",
            value={"audio_file": "SUQzBAAAAAAA...", "format": "mp3", "language": "en", "temperature": 0.0},
        ),
        Example(summary="Let the model detect the language", value={"audio_file": "UklGRiQAAABXQVZF..."}),
    ],
)


class TranscribeController(Controller):
    path = "/transcribe"
    tags = ["transcription"]
    # The body is read into one buffer and the file base64-decoded in place (memory: ~1.3× the file).
    request_class = upload_request_class(TranscribeRequest, "audio_file")

    @post(
        "/",
        operation_id="transcribe",
        summary="Transcribe one audio file",
        description=(
            "Send an audio file (MP3, WAV, FLAC, M4A/AAC, OGG Vorbis/Opus, WebM/Opus, …) as standard base64. "
            "The real container is detected from the bytes; `format` is a hint. Limits: MAX_FILE_SIZE_MB per "
            "file, MAX_AUDIO_DURATION_SECONDS of audio, 8–48 kHz, 1–2 channels."
        ),
        status_code=200,
        responses=error_responses(413, 415, 422, 429, 502, 503, 504),
    )
    async def transcribe(
        self, data: Annotated[TranscribeRequest, _BODY], runtime: NamedDependency[Runtime]
    ) -> TranscribeResponse:
        """Transcribe `audio_file` with the configured backend."""
        started = time.perf_counter()
        result = await runtime.transcription.transcribe(
            AudioFile(data=data.audio_file, declared_format=data.format, field="audio_file"),
            TranscriptionOptions(language=data.language, temperature=data.temperature),
        )
        return TranscribeResponse(
            transcription=result.text,
            language_detected=result.language,
            confidence=result.confidence,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
            audio_duration_seconds=round(result.audio_seconds, 3),
        )
