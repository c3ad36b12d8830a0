"""``POST /v1/chat/completions`` with audio, as vLLM 0.33 answers it
(``entrypoints/openai/chat_completion/{api_router,protocol,serving}.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import web

from tests.standin_vllm.audio import data_url_bytes
from tests.standin_vllm.chat_parsing import ParsedChat, audio_parts_sent, elide_audio, parse_chat_messages
from tests.standin_vllm.errors import VLLMError, field_error, request_validation_error, validation_error
from tests.standin_vllm.mistral_validation import check_system_and_audio
from tests.standin_vllm.records import RecordedAudio, RecordedRequest
from tests.standin_vllm.voxtral import (
    MODEL_SAMPLE_RATE,
    Completion,
    audio_prompt_tokens,
    complete,
    pseudo_tokens,
)
from tests.standin_vllm.wire import content_steps, json_response, random_id, usage_body

if TYPE_CHECKING:
    from tests.standin_vllm.server import StandInVLLM


def chat_prompt_tokens(parsed: ParsedChat, audios: list[np.ndarray]) -> int:
    """BOS, [INST]/[/INST] per message, words of text, audio tokens (Tekken-like estimate)."""
    text_tokens = sum(len(pseudo_tokens(text)) for text in parsed.texts)
    return 1 + 2 * parsed.num_messages + text_tokens + sum(audio_prompt_tokens(a.size) for a in audios)


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
    for text, finish_reason in content_steps(completion):
        produced = completion.tokens if finish_reason else produced + 1
        chunk: dict[str, Any] = {**head, "choices": [_chat_step_choice(text, finish_reason)]}
        if continuous:
            chunk["usage"] = usage_body(prompt_tokens, produced, details=True)
        yield {**chunk, "kv_transfer_params": None}
    if include_usage:
        usage = usage_body(prompt_tokens, completion.tokens, details=False)
        yield {**head, "choices": [], "usage": usage, "system_fingerprint": fingerprint}


async def _read_chat_body(
    server: StandInVLLM, request: web.Request, record: RecordedRequest
) -> dict[str, Any]:
    """FastAPI's JSON body handling and vLLM's ``validate_json_request`` dependency."""
    raw = await request.read()
    body: Any = None
    problem: VLLMError | None = None
    if request.content_type == "application/json" or request.content_type.endswith("+json"):
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError as exc:
            error = field_error("json_invalid", str(exc.pos), "JSON decode error", {}, error=exc.msg)
            problem = request_validation_error([error])
    record.fields = elide_audio(body) if isinstance(body, dict) else {}
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        record.format_labels = [part.label for part in audio_parts_sent(body["messages"])]
        record.num_audio_parts = len(record.format_labels)
    server.maybe_fail(record)
    if problem is not None:
        raise problem
    if request.content_type != "application/json":
        raise request_validation_error(["Unsupported Media Type: Only 'application/json' is allowed"])
    if body is None:
        raise request_validation_error([field_error("missing", "", "Field required", None)])
    if not isinstance(body, dict):
        message = "Input should be a valid dictionary or object to extract fields from"
        raise request_validation_error([field_error("model_attributes_type", "", message, body)])
    return body


def _validate_chat_body(server: StandInVLLM, body: dict[str, Any], record: RecordedRequest) -> None:
    if body.get("stream_options") and not body.get("stream"):
        raise validation_error("Stream options can only be defined when `stream=True`.", "stream_options")
    if "messages" not in body:
        raise request_validation_error([field_error("missing", "messages", "Field required", body)])
    if not isinstance(body["messages"], list):
        msg = "Input should be a valid list"
        raise request_validation_error([field_error("list_type", "messages", msg, body["messages"])])
    record.stream = bool(body.get("stream"))
    record.temperature = body.get("temperature")
    record.top_p = body.get("top_p")
    max_completion = body.get("max_completion_tokens")
    record.max_tokens = max_completion if max_completion is not None else body.get("max_tokens")


async def _chat_audios(server: StandInVLLM, parsed: ParsedChat, record: RecordedRequest) -> list[np.ndarray]:
    audios = []
    for part in parsed.audio_parts:
        info = RecordedAudio(0, format_label=part.label)
        record.audios.append(info)
        data = data_url_bytes(part.url, server.max_file_size_mb)
        info.byte_size = len(data)
        audios.append(await server.decode(data, info))
    return audios


async def chat(server: StandInVLLM, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
    """Parse and check the body and messages, decode every audio, then the completion or its chunks."""
    body = await _read_chat_body(server, request, record)
    _validate_chat_body(server, body, record)
    server.check_model(body.get("model"))
    parsed = parse_chat_messages(body["messages"])
    audios = await _chat_audios(server, parsed, record)
    check_system_and_audio(body["messages"], server.tokenizer_version)
    work = server.work_seconds(sum(a.size for a in audios) / MODEL_SAMPLE_RATE)
    async with server.load.scheduled():
        # As for transcription: streamed, the prefill and then the tokens one engine step apart.
        await asyncio.sleep(work * server.prefill_fraction if record.stream else work)
        completion = complete(server.answerer(audios, parsed.question), record.max_tokens)
        request_id = f"chatcmpl-{request.headers.get('X-Request-Id') or random_id()}"
        prompt_tokens = chat_prompt_tokens(parsed, audios)
        if not record.stream:
            return json_response(
                chat_response_body(
                    request_id, server.model, completion, prompt_tokens, server.system_fingerprint
                )
            )
        options = body.get("stream_options") or {}
        events = chat_chunks(
            request_id, server.model, completion, prompt_tokens, options, server.system_fingerprint
        )
        step_seconds = work * (1 - server.prefill_fraction) / len(content_steps(completion))
        return await server.stream(request, record, events, step_seconds)
