"""``POST /v1/audio/transcriptions`` as vLLM 0.33 answers it (``entrypoints/speech_to_text/transcription/
api_router.py``, ``base/utils.py``, ``base/serving.py``, ``transcription/protocol.py``)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.standin_vllm.audio import check_file_size
from tests.standin_vllm.errors import VLLMError, field_error, request_validation_error, validation_error
from tests.standin_vllm.form_fields import form_bool, form_number
from tests.standin_vllm.records import RecordedAudio, RecordedRequest
from tests.standin_vllm.voxtral import (
    MODEL_SAMPLE_RATE,
    SAMPLES_PER_AUDIO_TOKEN,
    Completion,
    audio_prompt_tokens,
    check_language,
    complete,
)
from tests.standin_vllm.wire import content_steps, json_response, random_id, usage_body

if TYPE_CHECKING:
    from tests.standin_vllm.server import StandInVLLM

TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")


def transcription_prompt_tokens(num_samples: int, language: str | None) -> int:
    """What vLLM reports for a streamed transcription: prompt ids plus audio tokens again."""
    prompt_ids = 4 + (2 if language else 0) + audio_prompt_tokens(num_samples)
    return prompt_ids + math.ceil(num_samples / SAMPLES_PER_AUDIO_TOKEN)


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
    for text, finish_reason in content_steps(completion):
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


async def _read_form(
    server: StandInVLLM, request: web.Request, record: RecordedRequest
) -> tuple[dict[str, str], Any]:
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


def _validate_form(server: StandInVLLM, form: dict[str, str], upload: Any, record: RecordedRequest) -> None:
    """TranscriptionRequest's validation: its 'before' validator, then the field types."""
    stream_options = ("stream_include_usage", "stream_continuous_usage_stats")
    if any(form.get(name) for name in stream_options) and not form.get("stream"):
        name = next(name for name in stream_options if form.get(name))
        raise validation_error("Stream options can only be defined when `stream=True`.", name)
    errors: list[Any] = []
    if upload is None:
        errors.append(field_error("missing", "file", "Field required", None))
    response_format = form.get("response_format", "json")
    if response_format not in TRANSCRIPTION_FORMATS:
        expected = (
            ", ".join(f"'{f}'" for f in TRANSCRIPTION_FORMATS[:-1]) + f" or '{TRANSCRIPTION_FORMATS[-1]}'"
        )
        errors.append(
            field_error(
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


def _check_response_format(server: StandInVLLM, response_format: str) -> None:
    if response_format not in ("text", "json", "verbose_json", "diarized_json"):
        raise VLLMError(
            "Currently only support response_format: `text`, `json`, `verbose_json` or `diarized_json`"
        )
    if response_format in ("verbose_json", "diarized_json"):
        raise VLLMError(f"Currently do not support {response_format} for {server.model}")


async def transcribe(
    server: StandInVLLM, request: web.Request, record: RecordedRequest
) -> web.StreamResponse:
    """Checks in vLLM's order (injected failure, form, size, model, format, language), decode, then the
    duration-usage JSON body or ``transcription.chunk`` events."""
    form, upload = await _read_form(server, request, record)
    data = upload.file.read() if upload is not None else b""
    if upload is not None:
        record.audios.append(
            RecordedAudio(len(data), filename=upload.filename, content_type=upload.content_type)
        )
        record.num_audio_parts = 1
    server.maybe_fail(record)
    _validate_form(server, form, upload, record)
    check_file_size(len(data), server.max_file_size_mb)
    server.check_model(form.get("model"))
    _check_response_format(server, form.get("response_format", "json"))
    language = form.get("language")
    check_language(language)
    audio = await server.decode(data, record.audios[0])
    work = server.work_seconds(audio.size / MODEL_SAMPLE_RATE)
    # Streamed: the prefill, then the tokens one engine step apart; whole: all of it before answering.
    await asyncio.sleep(work * server.prefill_fraction if record.stream else work)
    # In a thread, as a model runs beside the server's loop: concurrent requests overlap as on vLLM.
    text = await asyncio.to_thread(server.transcriber, audio, language)
    completion = complete(text, record.max_tokens)
    if not record.stream:  # response_format "text" gets this same JSON body from vLLM
        seconds = math.ceil(audio.size / MODEL_SAMPLE_RATE)
        return json_response({"text": completion.text, "usage": {"type": "duration", "seconds": seconds}})
    include_usage = bool(form_bool(form, "stream_include_usage", []))
    continuous = include_usage and bool(form_bool(form, "stream_continuous_usage_stats", []))
    request_id = f"transcribe-{request.headers.get('X-Request-Id') or random_id()}"
    prompt_tokens = transcription_prompt_tokens(audio.size, language)
    model = form.get("model") or server.model
    events = transcription_chunks(request_id, model, completion, prompt_tokens, include_usage, continuous)
    step_seconds = work * (1 - server.prefill_fraction) / len(content_steps(completion))
    return await server.stream(request, record, events, step_seconds)


# ---- /v1/chat/completions
