"""Chat messages parsed as vLLM's ``renderers/chat_utils/`` does: content parts, the per-prompt
audio limit, and the records' copy of a body without its audio payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.standin_vllm.errors import validation_error
from tests.standin_vllm.voxtral import AUDIOS_PER_PROMPT

_CHAT_PART_TYPES = (
    "audio_embeds audio_url image_embeds image_pil image_url input_audio input_image input_text "
    "output_text prompt_embeds refusal text thinking tool_reference video_embeds video_url"
)
CHAT_PART_TYPES = tuple(_CHAT_PART_TYPES.split())  # sorted, as vLLM lists them in its error
TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text", "refusal", "thinking"})
IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image_pil", "image_embeds"})
VIDEO_PART_TYPES = frozenset({"video_url", "video_embeds"})


@dataclass
class ChatAudioPart:
    """An audio content part: the URL vLLM builds or receives, and the label it came with."""

    url: str | None
    label: str | None


@dataclass
class ParsedChat:
    texts: list[str] = field(default_factory=list)
    question: str = ""
    audio_parts: list[ChatAudioPart] = field(default_factory=list)
    num_messages: int = 0


def _part_type(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind is None:
        for key in ("image_url", "image_pil", "image_embeds", "audio_url", "input_audio", "video_url"):
            if key in part:
                return key
        raise validation_error("Missing 'type' field in multimodal part.", "type")
    if not isinstance(kind, str):
        raise validation_error("Invalid 'type' field in multimodal part.", "type")
    return kind


def _count_item(counts: dict[str, int], modality: str) -> None:
    """vLLM checks the per-prompt limit as each item is added, before decoding any."""
    counts[modality] = counts.get(modality, 0) + 1
    limit = AUDIOS_PER_PROMPT if modality == "audio" else 0
    if counts[modality] > limit:
        raise validation_error(f"At most {limit} {modality}(s) may be provided in one prompt.", modality)


def _audio_part(kind: str, part: dict[str, Any]) -> ChatAudioPart:
    if kind == "input_audio":
        spec = part.get("input_audio") if isinstance(part.get("input_audio"), dict) else {}
        label, data = spec.get("format", ""), spec.get("data", "")
        return ChatAudioPart(f"data:audio/{label};base64,{data}" if data else None, label)
    spec = part.get("audio_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    match = re.match(r"data:audio/([^;,]*)", url or "", re.IGNORECASE)
    return ChatAudioPart(url, match.group(1) if match else None)


def _parse_part(part: Any, parsed: ParsedChat, counts: dict[str, int], texts: list[str]) -> None:
    if isinstance(part, str):
        texts.append(part)
        return
    if not isinstance(part, dict):
        raise validation_error("Invalid 'type' field in multimodal part.", "type")
    kind = _part_type(part)
    if kind in TEXT_PART_TYPES:
        value = part.get("thinking" if kind == "thinking" else "refusal" if kind == "refusal" else "text")
        if isinstance(value, str):
            texts.append(value)
    elif kind in ("input_audio", "audio_url"):
        _count_item(counts, "audio")
        parsed.audio_parts.append(_audio_part(kind, part))
    elif kind in IMAGE_PART_TYPES or kind in VIDEO_PART_TYPES:
        _count_item(counts, "image" if kind in IMAGE_PART_TYPES else "video")
    else:
        raise validation_error(
            f"Unsupported chat content part type: {kind!r}. Supported types: {', '.join(CHAT_PART_TYPES)}.",
            "type",
            kind,
        )


def audio_parts_sent(messages: list[Any]) -> list[ChatAudioPart]:
    """Every audio part of the request, for the records, even of a request vLLM refuses."""
    parts = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type") or next(
                (key for key in ("input_audio", "audio_url") if key in part), None
            )
            if kind in ("input_audio", "audio_url"):
                parts.append(_audio_part(kind, part))
    return parts


def parse_chat_messages(messages: list[Any]) -> ParsedChat:
    parsed = ParsedChat(num_messages=len(messages))
    counts: dict[str, int] = {}
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        texts: list[str] = []
        for part in [content] if isinstance(content, str) else content or []:
            _parse_part(part, parsed, counts, texts)
        parsed.texts.extend(texts)
        if isinstance(message, dict) and message.get("role") == "user":
            parsed.question = " ".join(texts)
    return parsed


def elide_audio(node: Any) -> Any:
    """A copy of a JSON body with its base64 audio payloads replaced by their length."""
    if isinstance(node, list):
        return [elide_audio(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: elide_audio(value) for key, value in node.items()}
    if isinstance(out.get("input_audio"), dict) and isinstance(out["input_audio"].get("data"), str):
        out["input_audio"]["data"] = f"<{len(out['input_audio']['data'])} base64 chars>"
    url = out["audio_url"].get("url") if isinstance(out.get("audio_url"), dict) else None
    if isinstance(url, str) and url.startswith("data:"):
        head, _, payload = url.partition(",")
        out["audio_url"]["url"] = f"{head},<{len(payload)} base64 chars>"
    return out
