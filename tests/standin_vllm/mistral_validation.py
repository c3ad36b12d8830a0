"""mistral_common's request validation as vLLM runs it with ``--tokenizer_mode mistral``
(``renderers/mistral.py safe_apply_chat_template`` turns its errors into ValueError: 400).

Only the rule the gateway meets: below tokenizer version 13, a system message may not sit beside
audio (``mistral_common/protocol/instruct/validator.py _validate_system_prompt_and_audio``, 1.13.1).
Voxtral Mini 3B (2507) uses tokenizer v7."""

from __future__ import annotations

from typing import Any

from tests.standin_vllm.errors import VLLMError

SYSTEM_WITH_AUDIO_FROM_VERSION = 13


def _has_audio(message: Any) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(part, dict)
        and (part.get("type") in ("input_audio", "audio_url") or "input_audio" in part or "audio_url" in part)
        for part in content
    )


def check_system_and_audio(messages: list[Any], tokenizer_version: int) -> None:
    """The validator's ValueError, as vLLM answers it."""
    if tokenizer_version >= SYSTEM_WITH_AUDIO_FROM_VERSION:
        return
    system = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "system"]
    audio = [i for i, m in enumerate(messages) if _has_audio(m)]
    if system and audio:
        raise VLLMError(
            f"Found system messages at indexes {system} and audio chunks in messages at indexes {audio}"
            ". This is not allowed prior to the tokenizer version 13."
        )
