"""Types for asking the model about audio: chat messages whose parts are text or decoded audio."""

from __future__ import annotations

from typing import Literal

import msgspec

from voxtral_gateway.audio import DecodedAudio

MAX_AUDIOS_PER_PROMPT = 5
"""Voxtral's limit on audios in one prompt; vLLM cannot raise it."""


class TextPart(msgspec.Struct, kw_only=True):
    text: str


class AudioPart(msgspec.Struct, kw_only=True):
    audio: DecodedAudio


class ChatMessage(msgspec.Struct, kw_only=True):
    role: Literal["system", "user", "assistant"]
    content: list[TextPart | AudioPart]


class SamplingParams(msgspec.Struct, kw_only=True, frozen=True):
    """What the client asked for; None leaves the choice to the model server."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None


class TokenUsage(msgspec.Struct, kw_only=True):
    """Tokens a model server counted for one answer; also the `usage` object on the wire (OpenAI's
    shape, which vLLM's and the gateway's own responses share)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Answer(msgspec.Struct, kw_only=True):
    text: str
    finish_reason: str | None
    usage: TokenUsage | None
    model: str


class AnswerDelta(msgspec.Struct, kw_only=True):
    """One piece of a streamed answer; the last carries `finish_reason` and/or `usage`."""

    text: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None
