"""A stand-in for vLLM's OpenAI-compatible server serving mistralai/Voxtral-Mini-3B-2507.

It is a real aiohttp server on loopback that answers the routes the gateway uses the way
vLLM does, field for field: ``GET /health``, ``GET /v1/models``,
``POST /v1/audio/transcriptions`` (multipart form) and ``POST /v1/chat/completions``
(JSON, optionally streamed as server-sent events).  Audio really is decoded (PyAV, to
16 kHz mono float32) so tests can prove it arrived intact, and every request is
recorded for assertions.  Instead of a model, a ``transcriber`` / ``answerer`` callable
produces the text; ``speed`` and ``delay_seconds`` simulate the time a GPU would take.

Mimicked from the source of vLLM 0.33.0 (the PyPI wheel), read, not copied:

- ``entrypoints/speech_to_text/transcription/api_router.py``, ``base/utils.py``,
  ``base/serving.py``, ``transcription/protocol.py``: form fields, the upload size cap
  (``VLLM_MAX_AUDIO_CLIP_FILESIZE_MB``, 25), ``response_format`` checks, the duration
  usage, streaming ``transcription.chunk`` events.  Note: vLLM answers
  ``response_format=text`` with the same JSON body as ``json``.
- ``multimodal/media/audio.py`` and ``envs.py``: decode errors and the decode duration cap
  (``VLLM_MAX_AUDIO_DECODE_DURATION_S``, 600) with their messages.
- ``model_executor/models/voxtral.py`` and ``interfaces.py``: Voxtral's languages, the
  5-audio-per-prompt limit, ~12.5 audio tokens per second.
- ``entrypoints/openai/chat_completion/{api_router,protocol,serving}.py`` and
  ``renderers/chat_utils/``: chat request parsing, response and chunk shapes.
- ``entrypoints/serve/exception_handling/`` and ``serve/engine/protocol.py``: the error
  body ``{"error": {"message", "type", "param", "code"}}`` and status codes.

What it does not do: run a model (token counts are estimates: words of text, and Voxtral's
12.5 audio tokens per second with audio padded to 30 s chunks as mistral_common does), fetch
remote ``http(s)`` audio URLs, or serve the other vLLM routes.

Run standalone (until killed): ``python -m tests.fakes.vllm_server --port 8000 --speed 27``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import io
import itertools
import json
import math
import re
import secrets
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from aiohttp import web

VLLM_VERSION = "0.33.0"
DEFAULT_MODEL = "mistralai/Voxtral-Mini-3B-2507"
MIB = 1024 * 1024
MODEL_SAMPLE_RATE = 16_000
SAMPLES_PER_AUDIO_TOKEN = 1280  # 16 kHz / Voxtral's 12.5 Hz audio frame rate
AUDIO_CHUNK_SAMPLES = 30 * MODEL_SAMPLE_RATE  # mistral_common pads audio to whole 30 s chunks
AUDIOS_PER_PROMPT = 5  # VoxtralProcessingInfo.get_supported_mm_limits
VOXTRAL_LANGUAGES = ("ar", "nl", "en", "fr", "de", "hi", "it", "pt", "es")
# Whisper's language map (transformers): accepted by vLLM with a warning when not native.
_WHISPER_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur "
    "hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si "
    "km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha "
    "ba jw su yue"
)
WHISPER_LANGUAGES = frozenset(_WHISPER_CODES.split())
TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
_CHAT_PART_TYPES = (
    "audio_embeds audio_url image_embeds image_pil image_url input_audio input_image input_text "
    "output_text prompt_embeds refusal text thinking tool_reference video_embeds video_url"
)
CHAT_PART_TYPES = tuple(_CHAT_PART_TYPES.split())  # sorted, as vLLM lists them in its error
TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text", "refusal", "thinking"})
IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image_pil", "image_embeds"})
VIDEO_PART_TYPES = frozenset({"video_url", "video_embeds"})
INVALID_AUDIO = (
    "Invalid or corrupted audio data. Ensure the input is a valid audio or video file "
    "(e.g. a complete WAV, MP3, or MP4)."
)

Transcriber = Callable[[np.ndarray, "str | None"], str]
Answerer = Callable[[list[np.ndarray], str], str]


# --------------------------------------------------------------------------- records


@dataclass
class RecordedAudio:
    """One audio input as the stand-in received and decoded it."""

    byte_size: int
    container: str | None = None  # PyAV's demuxer name, e.g. "wav", "ogg", "mp3"
    codec: str | None = None
    sample_rate: int | None = None  # of the file, before resampling
    channels: int | None = None
    duration_s: float | None = None  # decoded at 16 kHz; None when decoding failed
    format_label: str | None = None  # chat: input_audio.format or the data URL's audio/<subtype>
    filename: str | None = None  # transcription: the multipart file name
    content_type: str | None = None  # transcription: the multipart part's Content-Type


@dataclass
class RecordedRequest:
    """One request to a model endpoint, whatever its outcome."""

    endpoint: str
    fields: dict[str, Any] = field(default_factory=dict)  # form / JSON, audio payloads elided
    audios: list[RecordedAudio] = field(default_factory=list)
    num_audio_parts: int = 0
    format_labels: list[str | None] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    status: int | None = None  # HTTP status answered (None while running or if aborted early)
    error: str | None = None  # the error message answered, if any
    injected: bool = False  # answered by fail_next()
    aborted: bool = False  # the client went away before the answer was complete
    started_at: float = 0.0  # time.monotonic()
    finished_at: float | None = None


# --------------------------------------------------------------------------- errors


class VLLMError(Exception):
    """An error vLLM answers as ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, message: str, status: int = 400, err_type: str = "BadRequestError", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


def validation_error(message: str, parameter: str | None = None, value: Any = None) -> VLLMError:
    """vLLM's VLLMValidationError: its text gains "(parameter=..., value=...)"; 400."""
    extras = [
        f"{name}={val}" for name, val in (("parameter", parameter), ("value", value)) if val is not None
    ]
    text = f"{message} ({', '.join(extras)})" if extras else message
    return VLLMError(text, param=parameter)


def request_validation_error(errors: list[dict[str, Any] | str]) -> VLLMError:
    """FastAPI's RequestValidationError as vLLM's handler renders it (type "Bad Request")."""
    label = "error" if len(errors) == 1 else "errors"
    lines = "".join(f"  {err}\n" for err in errors[:10])
    first = errors[0]
    param = first.get("loc") if isinstance(first, dict) else None
    return VLLMError(
        f"{len(errors)} validation {label}:\n{lines}".rstrip(), err_type="Bad Request", param=param
    )


def _summarize(value: Any) -> Any:
    """How vLLM's validation handler echoes an offending input."""
    if isinstance(value, (list, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return value if isinstance(value, str) else str(value)


def _field_error(kind: str, loc: str, msg: str, value: Any, **ctx: str) -> dict[str, Any]:
    error = {"type": kind, "loc": f"body.{loc}" if loc else "body", "msg": msg, "input": _summarize(value)}
    if ctx:
        error["ctx"] = ctx
    return error


# --------------------------------------------------------------------------- audio


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _too_long(max_seconds: float, detail: str) -> VLLMError:
    return VLLMError(
        f"Audio exceeds maximum allowed duration of {_seconds_text(max_seconds)}s ({detail}). "
        "Set VLLM_MAX_AUDIO_DECODE_DURATION_S to increase this limit."
    )


def _metadata_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _resample_all(container: Any, stream: Any, max_seconds: float) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_SAMPLE_RATE)
    limit = int(MODEL_SAMPLE_RATE * max_seconds)
    chunks: list[np.ndarray] = []
    total = 0
    for frame in itertools.chain(container.decode(stream), [None]):  # None flushes
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            chunks.append(chunk)
            total += chunk.size
        if total > limit:
            raise _too_long(max_seconds, f"decoded {total} samples at {MODEL_SAMPLE_RATE}Hz")
    if not total:
        raise VLLMError("No audio found in the input.")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def decode_audio(data: bytes, info: RecordedAudio, max_seconds: float) -> np.ndarray:
    """Decode to 16 kHz mono float32 like vLLM's load_audio, filling ``info`` as it goes."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise VLLMError(INVALID_AUDIO) from exc
    with container:
        info.container = container.format.name
        if not container.streams.audio:
            raise VLLMError(INVALID_AUDIO)
        stream = container.streams.audio[0]
        info.codec = stream.codec_context.name
        info.sample_rate = stream.codec_context.sample_rate
        info.channels = stream.codec_context.channels
        reported = _metadata_seconds(container, stream)
        if reported is not None and reported > max_seconds:
            raise _too_long(max_seconds, f"metadata reports {reported:.1f}s")
        try:
            samples = _resample_all(container, stream, max_seconds)
        except av.FFmpegError as exc:
            raise VLLMError(INVALID_AUDIO) from exc
    info.duration_s = samples.size / MODEL_SAMPLE_RATE
    return samples


def check_file_size(size: int, max_file_size_mb: float) -> None:
    if size > int(max_file_size_mb * MIB):
        raise validation_error("Maximum file size exceeded", "audio_filesize_mb", size / MIB)


# --------------------------------------------------------------------------- text, tokens


def pseudo_tokens(text: str) -> list[str]:
    """Split text into word-sized pieces ("Hello", " world.") that join back to ``text``."""
    return re.findall(r"\s*\S+|\s+", text)


def audio_prompt_tokens(num_samples: int) -> int:
    """[BEGIN_AUDIO] plus one token per 80 ms, the audio padded to whole 30 s chunks."""
    chunks = max(1, math.ceil(num_samples / AUDIO_CHUNK_SAMPLES))
    return 1 + chunks * AUDIO_CHUNK_SAMPLES // SAMPLES_PER_AUDIO_TOKEN


@dataclass
class Completion:
    """The generated text split as it is streamed, and how generation ended."""

    pieces: list[str]
    finish_reason: str  # "stop" or "length"
    tokens: int  # vLLM counts the end-of-sequence token when generation stops by itself

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def complete(answer: str, max_tokens: int | None) -> Completion:
    pieces = pseudo_tokens(answer)
    if max_tokens is not None and len(pieces) >= max_tokens:
        return Completion(pieces[:max_tokens], "length", max_tokens)
    return Completion(pieces, "stop", len(pieces) + 1)


def default_transcriber(audio: np.ndarray, language: str | None) -> str:
    text = f"audio of {audio.size / MODEL_SAMPLE_RATE:.2f} seconds"
    return f"{text} in {language}" if language else text


def default_answerer(audios: list[np.ndarray], question: str) -> str:
    total = sum(a.size for a in audios) / MODEL_SAMPLE_RATE
    return f"{len(audios)} audio(s) totalling {total:.2f} seconds; question: {question}"


def check_language(language: str | None) -> None:
    """VoxtralForConditionalGeneration.validate_language (SupportsTranscription)."""
    if language is None or language in VOXTRAL_LANGUAGES or language in WHISPER_LANGUAGES:
        return
    raise VLLMError(f"Unsupported language: {language!r}.  Must be one of {list(VOXTRAL_LANGUAGES)}.")


# --------------------------------------------------------------------------- HTTP helpers


def dumps(obj: Any) -> str:
    """Compact JSON as Starlette's JSONResponse and pydantic's model_dump_json write it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body).encode(), status=status, content_type="application/json")


def random_id() -> str:
    return secrets.token_hex(8)  # vLLM's random_uuid(): 16 hex digits


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_PARSING_MESSAGES = {
    float: ("float_parsing", "Input should be a valid number, unable to parse string as a number"),
    int: ("int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
}


def form_bool(form: dict[str, str], name: str, errors: list[Any]) -> bool | None:
    """A form field as pydantic parses a bool; a failure is appended to ``errors``."""
    raw = form.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    message = "Input should be a valid boolean, unable to interpret input"
    errors.append(_field_error("bool_parsing", name, message, raw))
    return None


def form_number(form: dict[str, str], name: str, kind: type[int] | type[float], errors: list[Any]) -> Any:
    """A form field as pydantic parses an int or float; a failure is appended to ``errors``."""
    raw = form.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        error_type, message = _PARSING_MESSAGES[kind]
        errors.append(_field_error(error_type, name, message, raw))
        return None


# --------------------------------------------------------------------------- chat parsing


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


def data_url_bytes(url: str | None, max_file_size_mb: float) -> bytes:
    """MediaConnector.load_from_url + AudioMediaIO.load_base64, for the URLs the stand-in can serve."""
    if not url:
        raise VLLMError(INVALID_AUDIO)  # vLLM would fail later, in the model's processor
    if url[:5].lower() != "data:":
        if url.startswith(("http://", "https://")):
            raise VLLMError("The stand-in vLLM does not fetch remote audio; send a data: URL.")
        if url.startswith("file:"):
            raise VLLMError(
                "Cannot load local files without `--allowed-local-media-path`.", 500, "InternalServerError"
            )
        raise VLLMError("The URL must be either a HTTP, data or file URL.")
    spec, sep, data = url[5:].partition(",")
    if not sep:
        raise VLLMError(f"Invalid data URL {url[:32]!r}: missing ',' separator.")
    _, sep, encoding = spec.rpartition(";")
    if not sep or encoding != "base64":
        raise VLLMError("Only base64 data URLs are supported for now.", 501, "NotImplementedError")
    max_bytes = int(max_file_size_mb * MIB)
    if len(data) > 4 * ((max_bytes + 2) // 3):
        raise validation_error("Maximum file size exceeded", "audio_filesize_mb", (len(data) * 3 / 4) / MIB)
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise VLLMError(str(exc)) from exc
    check_file_size(len(raw), max_file_size_mb)
    return raw


def _elide_audio(node: Any) -> Any:
    """A copy of a JSON body with its base64 audio payloads replaced by their length."""
    if isinstance(node, list):
        return [_elide_audio(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _elide_audio(value) for key, value in node.items()}
    if isinstance(out.get("input_audio"), dict) and isinstance(out["input_audio"].get("data"), str):
        out["input_audio"]["data"] = f"<{len(out['input_audio']['data'])} base64 chars>"
    url = out["audio_url"].get("url") if isinstance(out.get("audio_url"), dict) else None
    if isinstance(url, str) and url.startswith("data:"):
        head, _, payload = url.partition(",")
        out["audio_url"]["url"] = f"{head},<{len(payload)} base64 chars>"
    return out


# --------------------------------------------------------------------------- responses


def chat_prompt_tokens(parsed: ParsedChat, audios: list[np.ndarray]) -> int:
    """BOS, [INST]/[/INST] per message, words of text, audio tokens (Tekken-like estimate)."""
    text_tokens = sum(len(pseudo_tokens(text)) for text in parsed.texts)
    return 1 + 2 * parsed.num_messages + text_tokens + sum(audio_prompt_tokens(a.size) for a in audios)


def transcription_prompt_tokens(num_samples: int, language: str | None) -> int:
    """What vLLM reports for a streamed transcription: prompt ids plus audio tokens again."""
    prompt_ids = 4 + (2 if language else 0) + audio_prompt_tokens(num_samples)
    return prompt_ids + math.ceil(num_samples / SAMPLES_PER_AUDIO_TOKEN)


def usage_body(prompt: int, completion: int, details: bool) -> dict[str, Any]:
    """UsageInfo as the stream chunks serialize it (set fields only)."""
    usage: dict[str, Any] = {"prompt_tokens": prompt, "total_tokens": prompt + completion}
    usage["completion_tokens"] = completion
    if details:
        usage["completion_tokens_details"] = None
    return usage


def chat_response_body(
    request_id: str, model: str, completion: Completion, prompt_tokens: int, fingerprint: str
) -> dict[str, Any]:
    """ChatCompletionResponse.model_dump(): every field, unset ones as null."""
    message = {
        "role": "assistant",
        "content": completion.text,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
        "reasoning": None,
    }
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": completion.finish_reason,
        "stop_reason": None,
        "token_ids": None,
        "routed_experts": None,
        "weight_versions": None,
    }
    usage = {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion.tokens,
        "completion_tokens": completion.tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "service_tier": None,
        "system_fingerprint": fingerprint,
        "usage": usage,
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def _content_steps(completion: Completion) -> list[tuple[str, str | None]]:
    """(delta text, finish_reason) per engine step; a natural stop ends with an empty EOS step."""
    steps: list[tuple[str, str | None]] = [(piece, None) for piece in completion.pieces]
    if completion.finish_reason == "stop":
        steps.append(("", "stop"))
    elif steps:
        steps[-1] = (steps[-1][0], completion.finish_reason)
    else:
        steps.append(("", completion.finish_reason))
    return steps


def _chat_step_choice(text: str, finish_reason: str | None) -> dict[str, Any]:
    """One content step's choice; the finishing one also sets stop_reason and weight_versions."""
    choice = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": finish_reason}
    if finish_reason is None:
        return {**choice, "token_ids": None}
    return {**choice, "stop_reason": None, "token_ids": None, "weight_versions": None}


def chat_chunks(
    request_id: str,
    model: str,
    completion: Completion,
    prompt_tokens: int,
    stream_options: dict[str, Any],
    fingerprint: str,
) -> Iterator[dict[str, Any]]:
    """The ChatCompletionStreamResponse events vLLM sends, serialized with exclude_unset."""
    include_usage = bool(stream_options.get("include_usage"))
    continuous = include_usage and bool(stream_options.get("continuous_usage_stats"))
    head = {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    first_choice = {
        "index": 0,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    first: dict[str, Any] = {**head, "choices": [first_choice]}
    if continuous:
        first["usage"] = usage_body(prompt_tokens, 0, details=True)
    yield {**first, "prompt_token_ids": None, "prompt_text": None}
    produced = 0
    for text, finish_reason in _content_steps(completion):
        produced = completion.tokens if finish_reason else produced + 1
        chunk: dict[str, Any] = {**head, "choices": [_chat_step_choice(text, finish_reason)]}
        if continuous:
            chunk["usage"] = usage_body(prompt_tokens, produced, details=True)
        yield {**chunk, "kv_transfer_params": None}
    if include_usage:
        usage = usage_body(prompt_tokens, completion.tokens, details=False)
        yield {**head, "choices": [], "usage": usage, "system_fingerprint": fingerprint}


def transcription_chunks(
    request_id: str,
    model: str,
    completion: Completion,
    prompt_tokens: int,
    include_usage: bool,
    continuous: bool,
) -> Iterator[dict[str, Any]]:
    """The TranscriptionStreamResponse events vLLM sends (no role chunk, no index)."""
    head = {"id": request_id, "object": "transcription.chunk", "created": int(time.time()), "model": model}
    produced = 0
    for text, finish_reason in _content_steps(completion):
        produced = completion.tokens if finish_reason else produced + 1
        choice: dict[str, Any] = {"delta": {"content": text}}
        if finish_reason:
            choice.update(finish_reason=finish_reason, stop_reason=None)
        chunk: dict[str, Any] = {**head, "choices": [choice]}
        if continuous:
            chunk["usage"] = usage_body(prompt_tokens, produced, details=False)
        yield chunk
    if include_usage:
        yield {**head, "choices": [], "usage": usage_body(prompt_tokens, completion.tokens, details=False)}


# --------------------------------------------------------------------------- the server


@dataclass
class _Failure:
    status: int
    message: str
    err_type: str


class StandInVLLM:
    """vLLM's OpenAI-compatible server for Voxtral, as far as the gateway can tell."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        speed: float | None = None,
        delay_seconds: float = 0.0,
        max_audio_seconds: float = 600,
        max_file_size_mb: float = 25,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
        max_model_len: int = 32768,
    ) -> None:
        self.model = model
        self.speed = speed
        self.delay_seconds = delay_seconds
        self.max_audio_seconds = max_audio_seconds
        self.max_file_size_mb = max_file_size_mb
        self.transcriber = transcriber or default_transcriber
        self.answerer = answerer or default_answerer
        self.max_model_len = max_model_len
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.aborted = 0
        self.base_url: str | None = None
        self._failures: deque[_Failure] = deque()
        self._runner: web.AppRunner | None = None

    # ---- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=1 << 30, middlewares=[_not_found_middleware])
        app.router.add_get("/health", self._health)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{f'[{bound_host}]' if ':' in bound_host else bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandInVLLM:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- test controls

    def fail_next(self, status: int, message: str, count: int = 1, err_type: str = "BadRequestError") -> None:
        """Answer the next ``count`` model requests with this error, in vLLM's error body."""
        self._failures.extend(_Failure(status, message, err_type) for _ in range(count))

    def reset(self) -> None:
        self.requests.clear()
        self.max_in_flight = self.in_flight
        self.aborted = 0
        self._failures.clear()

    @property
    def system_fingerprint(self) -> str:
        return f"vllm-{VLLM_VERSION}-{hashlib.sha256(self.model.encode()).hexdigest()[:8]}"

    # ---- routes

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _models(self, request: web.Request) -> web.Response:
        now = int(time.time())
        permission = {
            "id": f"modelperm-{random_id()}",
            "object": "model_permission",
            "created": now,
            "allow_create_engine": False,
            "allow_sampling": True,
            "allow_logprobs": True,
            "allow_search_indices": False,
            "allow_view": True,
            "allow_fine_tuning": False,
            "organization": "*",
            "group": None,
            "is_blocking": False,
        }
        card = {
            "id": self.model,
            "object": "model",
            "created": now,
            "owned_by": "vllm",
            "root": self.model,
            "parent": None,
            "max_model_len": self.max_model_len,
            "permission": [permission],
        }
        return json_response({"object": "list", "data": [card]})

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        return await self._model_request(request, "/v1/audio/transcriptions", self._transcribe)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._model_request(request, "/v1/chat/completions", self._chat)

    # ---- bookkeeping shared by the model routes

    async def _model_request(
        self,
        request: web.Request,
        endpoint: str,
        process: Callable[[web.Request, RecordedRequest], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        record = RecordedRequest(endpoint=endpoint, started_at=time.monotonic())
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await process(request, record)
            record.status = response.status
            return response
        except VLLMError as exc:
            record.status, record.error = exc.status, exc.message
            return json_response(exc.body(), exc.status)
        except Exception as exc:  # e.g. a test's transcriber raised: vLLM's catch-all answers 500
            error = VLLMError(str(exc), 500, "InternalServerError")
            record.status, record.error = error.status, error.message
            return json_response(error.body(), error.status)
        except asyncio.CancelledError:
            self._mark_aborted(record)
            raise
        finally:
            record.finished_at = time.monotonic()
            self.in_flight -= 1

    def _mark_aborted(self, record: RecordedRequest) -> None:
        if not record.aborted:
            record.aborted = True
            self.aborted += 1

    def _maybe_fail(self, record: RecordedRequest) -> None:
        if self._failures:
            failure = self._failures.popleft()
            record.injected = True
            raise VLLMError(failure.message, failure.status, failure.err_type)

    def _check_model(self, requested: str | None) -> None:
        if requested and requested != self.model:
            raise VLLMError(
                f"The model `{requested}` does not exist. Valid aliases: {self.model}.",
                404,
                "NotFoundError",
                "model",
            )

    async def _simulate_work(self, audio_seconds: float) -> None:
        seconds = self.delay_seconds + (audio_seconds / self.speed if self.speed else 0.0)
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def _decode(self, data: bytes, info: RecordedAudio) -> np.ndarray:
        return await asyncio.to_thread(decode_audio, data, info, self.max_audio_seconds)

    async def _stream(
        self, request: web.Request, record: RecordedRequest, events: Iterator[dict[str, Any]]
    ) -> web.StreamResponse:
        """Server-sent events, one per engine step, then ``data: [DONE]``."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        try:
            for event in events:
                await response.write(f"data: {dumps(event)}\n\n".encode())
                await asyncio.sleep(0)
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            self._mark_aborted(record)
        return response

    # ---- /v1/audio/transcriptions

    async def _read_form(self, request: web.Request, record: RecordedRequest) -> tuple[dict[str, str], Any]:
        """The multipart form's text fields (FastAPI drops empty ones) and the ``file`` part."""
        fields: dict[str, str] = {}
        upload = None
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    upload = value if name == "file" else upload
                else:
                    fields[name] = str(value)
        record.fields = dict(fields)
        return {name: value for name, value in fields.items() if value != ""}, upload

    def _validate_form(self, form: dict[str, str], upload: Any, record: RecordedRequest) -> None:
        """TranscriptionRequest's validation: its 'before' validator, then the field types."""
        stream_options = ("stream_include_usage", "stream_continuous_usage_stats")
        if any(form.get(name) for name in stream_options) and not form.get("stream"):
            name = next(name for name in stream_options if form.get(name))
            raise validation_error("Stream options can only be defined when `stream=True`.", name)
        errors: list[Any] = []
        if upload is None:
            errors.append(_field_error("missing", "file", "Field required", None))
        response_format = form.get("response_format", "json")
        if response_format not in TRANSCRIPTION_FORMATS:
            expected = (
                ", ".join(f"'{f}'" for f in TRANSCRIPTION_FORMATS[:-1]) + f" or '{TRANSCRIPTION_FORMATS[-1]}'"
            )
            errors.append(
                _field_error(
                    "literal_error",
                    "response_format",
                    f"Input should be {expected}",
                    response_format,
                    expected=expected,
                )
            )
        record.stream = bool(form_bool(form, "stream", errors))
        record.temperature = form_number(form, "temperature", float, errors)
        record.top_p = form_number(form, "top_p", float, errors)
        record.max_tokens = form_number(form, "max_completion_tokens", int, errors)
        for name in stream_options:
            form_bool(form, name, errors)
        if errors:
            raise request_validation_error(errors)

    def _check_response_format(self, response_format: str) -> None:
        if response_format not in ("text", "json", "verbose_json", "diarized_json"):
            raise VLLMError(
                "Currently only support response_format: `text`, `json`, `verbose_json` or `diarized_json`"
            )
        if response_format in ("verbose_json", "diarized_json"):
            raise VLLMError(f"Currently do not support {response_format} for {self.model}")

    async def _transcribe(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        form, upload = await self._read_form(request, record)
        data = upload.file.read() if upload is not None else b""
        if upload is not None:
            record.audios.append(
                RecordedAudio(len(data), filename=upload.filename, content_type=upload.content_type)
            )
            record.num_audio_parts = 1
        self._maybe_fail(record)
        self._validate_form(form, upload, record)
        check_file_size(len(data), self.max_file_size_mb)
        self._check_model(form.get("model"))
        self._check_response_format(form.get("response_format", "json"))
        language = form.get("language")
        check_language(language)
        audio = await self._decode(data, record.audios[0])
        await self._simulate_work(audio.size / MODEL_SAMPLE_RATE)
        completion = complete(self.transcriber(audio, language), record.max_tokens)
        if not record.stream:  # response_format "text" gets this same JSON body from vLLM
            seconds = math.ceil(audio.size / MODEL_SAMPLE_RATE)
            return json_response({"text": completion.text, "usage": {"type": "duration", "seconds": seconds}})
        include_usage = bool(form_bool(form, "stream_include_usage", []))
        continuous = include_usage and bool(form_bool(form, "stream_continuous_usage_stats", []))
        request_id = f"transcribe-{request.headers.get('X-Request-Id') or random_id()}"
        prompt_tokens = transcription_prompt_tokens(audio.size, language)
        model = form.get("model") or self.model
        events = transcription_chunks(request_id, model, completion, prompt_tokens, include_usage, continuous)
        return await self._stream(request, record, events)

    # ---- /v1/chat/completions

    async def _read_chat_body(self, request: web.Request, record: RecordedRequest) -> dict[str, Any]:
        """FastAPI's JSON body handling and vLLM's ``validate_json_request`` dependency."""
        raw = await request.read()
        body: Any = None
        problem: VLLMError | None = None
        if request.content_type == "application/json" or request.content_type.endswith("+json"):
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError as exc:
                error = _field_error("json_invalid", str(exc.pos), "JSON decode error", {}, error=exc.msg)
                problem = request_validation_error([error])
        record.fields = _elide_audio(body) if isinstance(body, dict) else {}
        if isinstance(body, dict) and isinstance(body.get("messages"), list):
            record.format_labels = [part.label for part in audio_parts_sent(body["messages"])]
            record.num_audio_parts = len(record.format_labels)
        self._maybe_fail(record)
        if problem is not None:
            raise problem
        if request.content_type != "application/json":
            raise request_validation_error(["Unsupported Media Type: Only 'application/json' is allowed"])
        if body is None:
            raise request_validation_error([_field_error("missing", "", "Field required", None)])
        if not isinstance(body, dict):
            message = "Input should be a valid dictionary or object to extract fields from"
            raise request_validation_error([_field_error("model_attributes_type", "", message, body)])
        return body

    def _validate_chat_body(self, body: dict[str, Any], record: RecordedRequest) -> None:
        if body.get("stream_options") and not body.get("stream"):
            raise validation_error("Stream options can only be defined when `stream=True`.", "stream_options")
        if "messages" not in body:
            raise request_validation_error([_field_error("missing", "messages", "Field required", body)])
        if not isinstance(body["messages"], list):
            msg = "Input should be a valid list"
            raise request_validation_error([_field_error("list_type", "messages", msg, body["messages"])])
        record.stream = bool(body.get("stream"))
        record.temperature = body.get("temperature")
        record.top_p = body.get("top_p")
        max_completion = body.get("max_completion_tokens")
        record.max_tokens = max_completion if max_completion is not None else body.get("max_tokens")

    async def _chat_audios(self, parsed: ParsedChat, record: RecordedRequest) -> list[np.ndarray]:
        audios = []
        for part in parsed.audio_parts:
            info = RecordedAudio(0, format_label=part.label)
            record.audios.append(info)
            data = data_url_bytes(part.url, self.max_file_size_mb)
            info.byte_size = len(data)
            audios.append(await self._decode(data, info))
        return audios

    async def _chat(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = await self._read_chat_body(request, record)
        self._validate_chat_body(body, record)
        self._check_model(body.get("model"))
        parsed = parse_chat_messages(body["messages"])
        audios = await self._chat_audios(parsed, record)
        await self._simulate_work(sum(a.size for a in audios) / MODEL_SAMPLE_RATE)
        completion = complete(self.answerer(audios, parsed.question), record.max_tokens)
        request_id = f"chatcmpl-{request.headers.get('X-Request-Id') or random_id()}"
        prompt_tokens = chat_prompt_tokens(parsed, audios)
        if not record.stream:
            return json_response(
                chat_response_body(request_id, self.model, completion, prompt_tokens, self.system_fingerprint)
            )
        options = body.get("stream_options") or {}
        events = chat_chunks(
            request_id, self.model, completion, prompt_tokens, options, self.system_fingerprint
        )
        return await self._stream(request, record, events)


@web.middleware
async def _not_found_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """FastAPI's own answers for unknown routes and methods (vLLM does not override them)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return json_response({"detail": "Not Found"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"detail": "Method Not Allowed"}, 405)


# --------------------------------------------------------------------------- command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stand-in vLLM server (Voxtral, OpenAI-compatible API).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--speed", type=float, default=None, help="audio seconds processed per second")
    parser.add_argument(
        "--delay-seconds", "--delay", type=float, default=0.0, help="extra seconds per request"
    )
    parser.add_argument("--max-audio-seconds", type=float, default=600)
    parser.add_argument("--max-file-size-mb", type=float, default=25)
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = StandInVLLM(
        model=args.model,
        speed=args.speed,
        delay_seconds=args.delay_seconds,
        max_audio_seconds=args.max_audio_seconds,
        max_file_size_mb=args.max_file_size_mb,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"stand-in vLLM ({args.model}) listening on {await server.start(args.host, args.port)}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
