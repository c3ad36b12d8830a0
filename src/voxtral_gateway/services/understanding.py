"""Answer a question about up to five recordings: decode each, check the totals, ask the model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import msgspec

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends import SpeechBackend
from voxtral_gateway.backends.base import UNDERSTANDING_NEEDS_VOXTRAL
from voxtral_gateway.backends.chat import (
    MAX_AUDIOS_PER_PROMPT,
    Answer,
    AnswerDelta,
    AudioPart,
    ChatMessage,
    SamplingParams,
    TextPart,
)
from voxtral_gateway.errors import AudioTooLong, InvalidRequest, NotSupportedByBackend, PayloadTooLarge
from voxtral_gateway.services.concurrency import gather_or_cancel
from voxtral_gateway.services.transcription import TranscriptionService


class AudioSource(msgspec.Struct, kw_only=True, frozen=True):
    """One audio file as the client sent it, and the request field it came from."""

    data: bytes
    declared_format: str | None
    field: str


class UnderstandingLimits(msgspec.Struct, kw_only=True, frozen=True):
    max_total_seconds: float
    max_total_bytes: int
    max_question_chars: int
    max_tokens: int


class UnderstandingService:
    def __init__(
        self, backend: SpeechBackend, transcription: TranscriptionService, limits: UnderstandingLimits
    ):
        self.backend = backend
        self.transcription = transcription
        self.limits = limits

    def check_backend(self) -> None:
        if not self.backend.supports_chat:
            raise NotSupportedByBackend(UNDERSTANDING_NEEDS_VOXTRAL)

    def check_sources(self, sources: Sequence[AudioSource], field: str = "audio_files") -> None:
        if len(sources) > MAX_AUDIOS_PER_PROMPT:
            raise InvalidRequest(
                f"{field} carry {len(sources)} audios; Voxtral accepts at most {MAX_AUDIOS_PER_PROMPT} per prompt",
                field=field,
            )
        total_bytes = sum(len(source.data) for source in sources)
        if total_bytes > self.limits.max_total_bytes:
            raise PayloadTooLarge(
                f"{field} total {total_bytes} bytes of audio; the limit is {self.limits.max_total_bytes} bytes "
                "(MAX_REQUEST_SIZE_MB)",
                field=field,
            )

    def check(self, sources: Sequence[AudioSource], question: str, sampling: SamplingParams) -> None:
        """Everything /understand/ can refuse before decoding anything."""
        self.check_backend()
        if not question.strip():
            raise InvalidRequest("question is empty", field="question")
        if len(question) > self.limits.max_question_chars:
            raise InvalidRequest(
                f"question is {len(question)} characters; the limit is {self.limits.max_question_chars}",
                field="question",
            )
        if sampling.max_tokens is not None and sampling.max_tokens > self.limits.max_tokens:
            raise InvalidRequest(
                f"max_tokens is {sampling.max_tokens}; the limit is {self.limits.max_tokens}",
                field="max_tokens",
            )
        self.check_sources(sources)

    async def decode_all(
        self, sources: Sequence[AudioSource], field: str = "audio_files"
    ) -> list[DecodedAudio]:
        """Decode concurrently (bounded by the decode pool); the first failure cancels the rest."""
        # Each file may be as long as the whole understanding budget; the total is checked after.
        per_file = msgspec.structs.replace(
            self.transcription.limits, max_duration_seconds=self.limits.max_total_seconds
        )
        audios = await gather_or_cancel(
            self.transcription.decode(s.data, s.declared_format, s.field, per_file) for s in sources
        )
        total = sum(audio.duration_seconds for audio in audios)
        if total > self.limits.max_total_seconds:
            raise AudioTooLong(
                f"{field} total {total:.1f} s of audio; the limit for understanding is "
                f"{self.limits.max_total_seconds:g} s",
                field=field,
                details={"duration_seconds": round(total, 3), "limit_seconds": self.limits.max_total_seconds},
            )
        return audios

    @staticmethod
    def prompt(audios: Sequence[DecodedAudio], question: str) -> list[ChatMessage]:
        """One user message: the audios, then the question."""
        parts: list[TextPart | AudioPart] = [AudioPart(audio=audio) for audio in audios]
        parts.append(TextPart(text=question))
        return [ChatMessage(role="user", content=parts)]

    async def answer(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        return await self.backend.chat(messages, sampling)

    def answer_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        return self.backend.chat_stream(messages, sampling)
