"""Transcribe one audio file: decode it off the loop, check it against the backend, transcribe."""

from __future__ import annotations

import time

import msgspec

from voxtral_gateway.audio import AudioLimits, DecodedAudio, decode_audio
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptionOptions
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import AudioTooLong, InvalidRequest
from voxtral_gateway.services.language import identify_language


class TranscriptionResult(msgspec.Struct, kw_only=True):
    transcript: Transcript
    language: str | None
    audio_duration_seconds: float
    decode_ms: float
    backend_ms: float


class TranscriptionService:
    def __init__(self, backend: SpeechBackend, decode_pool: CpuPool, limits: AudioLimits):
        self.backend = backend
        self.decode_pool = decode_pool
        self.limits = limits

    def check_language(self, language: str | None) -> None:
        supported = self.backend.supported_languages
        if language is not None and supported is not None and language not in supported:
            raise InvalidRequest(
                f"language {language!r} is not supported by the {self.backend.kind} model "
                f"{self.backend.model_name}; supported: {', '.join(sorted(supported))}",
                field="language",
            )

    async def decode(
        self,
        data: bytes,
        declared_format: str | None,
        field: str = "audio_file",
        limits: AudioLimits | None = None,
    ) -> DecodedAudio:
        limits = limits or self.limits
        if field != limits.field:
            limits = msgspec.structs.replace(limits, field=field)
        return await self.decode_pool.run(decode_audio, data, declared_format, limits)

    async def transcribe(
        self,
        data: bytes,
        declared_format: str | None,
        options: TranscriptionOptions,
        field: str = "audio_file",
    ) -> TranscriptionResult:
        self.check_language(options.language)
        started = time.perf_counter()
        audio = await self.decode(data, declared_format, field)
        decoded = time.perf_counter()
        self._check_backend_limits(audio, field)
        transcript = await self.backend.transcribe(audio, options)
        finished = time.perf_counter()
        return TranscriptionResult(
            transcript=transcript,
            language=options.language or transcript.language or identify_language(transcript.text),
            audio_duration_seconds=round(audio.duration_seconds, 3),
            decode_ms=(decoded - started) * 1000,
            backend_ms=(finished - decoded) * 1000,
        )

    def _check_backend_limits(self, audio: DecodedAudio, field: str) -> None:
        cap = self.backend.max_audio_seconds
        if cap is not None and audio.duration_seconds > cap:
            raise AudioTooLong(
                f"{field} is {audio.duration_seconds:.1f} s long; the {self.backend.kind} backend accepts "
                f"at most {cap:g} s per request (VOXTRAL_MAX_AUDIO_SECONDS)",
                field=field,
                details={"duration_seconds": round(audio.duration_seconds, 3), "limit_seconds": cap},
            )
