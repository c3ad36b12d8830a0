"""POST /transcribe/batch request and response."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from voxtral_gateway.schemas.common import AudioFormat, LanguageCode, Temperature
from voxtral_gateway.schemas.errors import ErrorDetail


class BatchAudioFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    data: Annotated[bytes, Meta(description="The audio file, standard padded base64.")]
    format: AudioFormat | None = None
    id: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    """Echoed in the result; assigned as "0", "1", … (the file's position) when omitted."""


class BatchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    audio_files: Annotated[list[BatchAudioFile], Meta(min_length=1)]
    language: LanguageCode | None = None
    temperature: Temperature = 0.0


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One file's outcome: `status` "ok" with the transcription fields, or "error" with `error`."""

    id: str
    status: Literal["ok", "error"]
    status_code: int
    """The HTTP status `POST /transcribe/` would have given this file alone."""
    transcription: str | None = None
    language_detected: str | None = None
    confidence: float | None = None
    audio_duration_seconds: float | None = None
    processing_time_ms: float | None = None
    error: ErrorDetail | None = None


class BatchResponse(msgspec.Struct, kw_only=True):
    results: list[BatchItemResult]
    """One per input file, in input order."""
    total_files: int
    succeeded: int
    failed: int
    total_audio_duration_seconds: float
    processing_time_ms: float
