"""Answer questions about audio, whole or as deltas: check the limits, decode every file, build the
prompt and ask the model. Adapters convert their wire request into an `AudioQuestion` (one question
about some files) or a `Conversation` (chat messages whose parts are text or audio files)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Literal

import msgspec

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends import SpeechBackend
from voxtral_gateway.backends.base import UNDERSTANDING_NEEDS_VOXTRAL
from voxtral_gateway.backends.chat import (
    MAX_AUDIOS_PER_PROMPT,
    AudioPart,
    ChatMessage,
    SamplingParams,
    TextPart,
    TokenUsage,
)
from voxtral_gateway.errors import AudioTooLong, InvalidRequest, NotSupportedByBackend, PayloadTooLarge
from voxtral_gateway.services.audio_files import AudioFile, decode_file, fetched
from voxtral_gateway.services.concurrency import gather_or_cancel
from voxtral_gateway.services.models import ModelCatalog
from voxtral_gateway.services.transcription import TranscriptionService

__all__ = [
    "MAX_AUDIOS_PER_PROMPT",
    "UNDERSTANDING_NEEDS_VOXTRAL",
    "AnswerDone",
    "AnswerEvent",
    "AnswerTextDelta",
    "AudioFile",
    "AudioQuestion",
    "Conversation",
    "ConversationMessage",
    "SamplingParams",
    "TextPart",
    "TokenUsage",
    "UnderstandingAnswer",
    "UnderstandingLimits",
    "UnderstandingService",
]


class AudioQuestion(msgspec.Struct, kw_only=True, frozen=True):
    """One question about up to five audio files (the audios come first in the prompt)."""

    files: list[AudioFile]
    question: str
    sampling: SamplingParams
    files_field: str = "audio_files"
    """The request field holding the files: limits on all of them name it."""


class ConversationMessage(msgspec.Struct, kw_only=True, frozen=True):
    role: Literal["system", "user", "assistant"]
    content: list[TextPart | AudioFile]


class Conversation(msgspec.Struct, kw_only=True, frozen=True):
    """Chat messages whose parts are text or audio files, to be answered by the model."""

    model: str | None = None
    """The model the client asked for (refused unless it is the one served); None: the served one."""
    messages: list[ConversationMessage]
    sampling: SamplingParams
    files_field: str = "messages"
    """The request field holding the audio: limits on all of it name it."""
    max_tokens_field: str = "max_tokens"
    """The request field `sampling.max_tokens` came from: its limit names it."""


class UnderstandingAnswer(msgspec.Struct, kw_only=True):
    text: str
    finish_reason: str | None
    usage: TokenUsage | None
    model: str
    audio_seconds: list[float]
    """Each audio file's duration, in request order."""


class AnswerTextDelta(msgspec.Struct, kw_only=True, frozen=True):
    """A piece of the answer as it is generated. Empty when the model server sent a piece without
    text (e.g. the role): the answer has started."""

    text: str


class AnswerDone(msgspec.Struct, kw_only=True, frozen=True):
    """The last event: the whole answer (its text is the deltas joined)."""

    answer: UnderstandingAnswer


AnswerEvent = AnswerTextDelta | AnswerDone


class UnderstandingLimits(msgspec.Struct, kw_only=True, frozen=True):
    max_total_seconds: float
    max_total_bytes: int
    max_question_chars: int
    max_tokens: int


class UnderstandingService:
    def __init__(
        self,
        backend: SpeechBackend,
        transcription: TranscriptionService,
        limits: UnderstandingLimits,
        models: ModelCatalog | None = None,
    ):
        self.backend = backend
        self.transcription = transcription
        self.limits = limits
        self.models = models or ModelCatalog(backend, {})
        """The names a conversation's `model` may use."""

    async def answer(self, request: AudioQuestion | Conversation) -> UnderstandingAnswer:
        """The model's whole answer; every limit is checked before anything is decoded."""
        messages, seconds = await self._prompt(request)
        answer = await self.backend.chat(messages, request.sampling)
        return UnderstandingAnswer(
            text=answer.text,
            finish_reason=answer.finish_reason,
            usage=answer.usage,
            model=answer.model,
            audio_seconds=seconds,
        )

    async def answer_events(self, request: AudioQuestion | Conversation) -> AsyncGenerator[AnswerEvent, None]:
        """The answer as it is generated: `AnswerTextDelta`s, then one `AnswerDone`. A refusal (limits,
        audio, the model server refusing) raises before the first event."""
        messages, seconds = await self._prompt(request)
        texts: list[str] = []
        finish_reason: str | None = None
        usage: TokenUsage | None = None
        deltas = self.backend.chat_stream(messages, request.sampling)
        try:
            async for delta in deltas:
                finish_reason = delta.finish_reason or finish_reason
                usage = delta.usage or usage
                texts.append(delta.text)
                yield AnswerTextDelta(text=delta.text)
        finally:  # closed early (the client left): free the backend's slot now, not at collection
            if isinstance(deltas, AsyncGenerator):
                await deltas.aclose()
        yield AnswerDone(
            answer=UnderstandingAnswer(
                text="".join(texts),
                finish_reason=finish_reason,
                usage=usage,
                model=self.backend.model_name,
                audio_seconds=seconds,
            )
        )

    # --- steps ------------------------------------------------------------------------------------

    async def _prompt(self, request: AudioQuestion | Conversation) -> tuple[list[ChatMessage], list[float]]:
        """The messages for the model, and each audio's duration; refusals come first."""
        if not self.backend.supports_chat:
            raise NotSupportedByBackend(UNDERSTANDING_NEEDS_VOXTRAL)
        if isinstance(request, AudioQuestion):
            self._check_question(request.question)
            conversation = Conversation(
                messages=[
                    ConversationMessage(
                        role="user", content=[*request.files, TextPart(text=request.question)]
                    )
                ],
                sampling=request.sampling,
                files_field=request.files_field,
            )
        else:
            conversation = request
            if request.model is not None:
                self.models.resolve(request.model)
        self._check_max_tokens(conversation)
        files = [part for m in conversation.messages for part in m.content if isinstance(part, AudioFile)]
        self._check_count(files, conversation.files_field)
        files = await gather_or_cancel(fetched(file, self.transcription.fetcher) for file in files)
        self._check_bytes(files, conversation.files_field)
        decoded = await self._decode_all(files, conversation.files_field)
        audios = iter(decoded)
        messages = _system_folded(
            [
                ChatMessage(
                    role=message.role,
                    content=[
                        AudioPart(audio=next(audios)) if isinstance(p, AudioFile) else p
                        for p in message.content
                    ],
                )
                for message in conversation.messages
            ]
        )
        return messages, [audio.duration_seconds for audio in decoded]

    def _check_question(self, question: str) -> None:
        if not question.strip():
            raise InvalidRequest("question is empty", field="question")
        if len(question) > self.limits.max_question_chars:
            raise InvalidRequest(
                f"question is {len(question)} characters; the limit is {self.limits.max_question_chars}",
                field="question",
            )

    def _check_max_tokens(self, conversation: Conversation) -> None:
        max_tokens = conversation.sampling.max_tokens
        if max_tokens is not None and max_tokens > self.limits.max_tokens:
            name = conversation.max_tokens_field
            raise InvalidRequest(f"{name} is {max_tokens}; the limit is {self.limits.max_tokens}", field=name)

    def _check_count(self, files: Sequence[AudioFile], field: str) -> None:
        if len(files) > MAX_AUDIOS_PER_PROMPT:
            raise InvalidRequest(
                f"{field} carry {len(files)} audios; Voxtral accepts at most {MAX_AUDIOS_PER_PROMPT} per prompt",
                field=field,
            )

    def _check_bytes(self, files: Sequence[AudioFile], field: str) -> None:
        total_bytes = sum(len(file.data) for file in files)
        if total_bytes > self.limits.max_total_bytes:
            raise PayloadTooLarge(
                f"{field} total {total_bytes} bytes of audio; the limit is {self.limits.max_total_bytes} bytes "
                "(MAX_REQUEST_SIZE_MB)",
                field=field,
            )

    async def _decode_all(self, files: Sequence[AudioFile], field: str) -> list[DecodedAudio]:
        """Decode concurrently (bounded by the decode pool); the first failure cancels the rest."""
        # Each file may be as long as the whole understanding budget; the total is checked after.
        transcription = self.transcription
        per_file = msgspec.structs.replace(
            transcription.limits, max_duration_seconds=self.limits.max_total_seconds
        )
        audios = await gather_or_cancel(decode_file(transcription.decode_pool, f, per_file) for f in files)
        total = sum(audio.duration_seconds for audio in audios)
        if total > self.limits.max_total_seconds:
            raise AudioTooLong(
                f"{field} total {total:.1f} s of audio; the limit for understanding is "
                f"{self.limits.max_total_seconds:g} s",
                field=field,
                details={"duration_seconds": round(total, 3), "limit_seconds": self.limits.max_total_seconds},
            )
        return audios


def _system_folded(messages: list[ChatMessage]) -> list[ChatMessage]:
    """With audio in the conversation, the system messages' text moved to the front of the first user
    turn. Voxtral Mini's tokenizer (mistral_common's v7) refuses a system message beside audio
    ("... not allowed prior to the tokenizer version 13", vLLM's 400), so the instructions are kept
    the way mistral_common itself places a system prompt for older tokenizers: as the user's text."""
    has_audio = any(isinstance(part, AudioPart) for message in messages for part in message.content)
    system = [message for message in messages if message.role == "system"]
    if not has_audio or not system:
        return messages
    instructions = "\n\n".join(
        part.text for message in system for part in message.content if isinstance(part, TextPart)
    )
    audios = [part for message in system for part in message.content if isinstance(part, AudioPart)]
    lead: list[TextPart | AudioPart] = [*audios, TextPart(text=instructions)] if instructions else audios
    rest = [message for message in messages if message.role != "system"]
    first_user = next((i for i, message in enumerate(rest) if message.role == "user"), None)
    if first_user is None:
        return [ChatMessage(role="user", content=lead), *rest]
    user = rest[first_user]
    rest[first_user] = ChatMessage(role="user", content=[*lead, *user.content])
    return rest
