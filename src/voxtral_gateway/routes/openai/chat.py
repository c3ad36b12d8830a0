"""POST /v1/chat/completions: OpenAI's chat API with audio parts, passed to Voxtral."""

from __future__ import annotations

import binascii
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from litestar import Controller, Response, post
from litestar.params import Body

from voxtral_gateway.backends.chat import AudioPart, ChatMessage, SamplingParams, TextPart
from voxtral_gateway.errors import GatewayError, InvalidRequest
from voxtral_gateway.routes.docs import openai_error_responses
from voxtral_gateway.routes.error_wire import sse_error_event
from voxtral_gateway.routes.openai.models import check_model
from voxtral_gateway.routes.sse import sse_event, sse_response
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.openai import (
    AudioUrlContentPart,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatResponseMessage,
    InputAudioContentPart,
    usage_dict,
)
from voxtral_gateway.services.understanding import AudioSource

log = structlog.get_logger(__name__)

_DATA_URL = re.compile(r"^data:audio/([\w.+-]+)?(?:;[\w=.+-]+)*;base64,", re.IGNORECASE)


def _audio_url_bytes(url: str, field: str) -> tuple[bytes, str | None]:
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(
            f"{field} must be a data URL (data:audio/<type>;base64,...); remote URLs are not fetched",
            field=field,
        )
    try:
        return binascii.a2b_base64(url[match.end() :], strict_mode=True), match.group(1)
    except ValueError as exc:  # binascii.Error, or a non-ASCII character (a plain ValueError)
        raise InvalidRequest(f"{field} has invalid base64: {exc}", field=field) from exc


def _split_messages(
    data: ChatCompletionRequest,
) -> tuple[list[list[TextPart | AudioSource]], list[AudioSource]]:
    """Each message's parts, with audio as sources still to decode, and all the sources in order."""
    messages: list[list[TextPart | AudioSource]] = []
    sources: list[AudioSource] = []
    for m, message in enumerate(data.messages):
        parts: list[TextPart | AudioSource] = []
        content = [message.content] if isinstance(message.content, str) else message.content
        for p, part in enumerate(content):
            field = f"messages[{m}].content[{p}]"
            if isinstance(part, str):
                parts.append(TextPart(text=part))
            elif isinstance(part, InputAudioContentPart):
                source = AudioSource(
                    data=part.input_audio.data,
                    declared_format=part.input_audio.format,
                    field=f"{field}.input_audio.data",
                )
                parts.append(source)
                sources.append(source)
            elif isinstance(part, AudioUrlContentPart):
                raw, subtype = _audio_url_bytes(part.audio_url.url, f"{field}.audio_url.url")
                source = AudioSource(data=raw, declared_format=subtype, field=f"{field}.audio_url.url")
                parts.append(source)
                sources.append(source)
            else:
                parts.append(TextPart(text=part.text))
        messages.append(parts)
    return messages, sources


class ChatCompletionsController(Controller):
    path = "/v1/chat/completions"
    tags = ["openai"]

    @post(
        "/",
        operation_id="openai_create_chat_completion",
        summary="Chat about audio (OpenAI-compatible)",
        description=(
            "OpenAI's `chat.completions.create` with `input_audio` ({data: base64, format}) or `audio_url` "
            "(a `data:audio/...;base64,` URL) content parts. Every audio is decoded (any container) and sent "
            "to Voxtral as 16 kHz mono WAV; at most 5 audios and 40 minutes in total. `stream: true` returns "
            "`chat.completion.chunk` server-sent events ending with `data: [DONE]` (usage too with "
            "`stream_options.include_usage`). Needs the vLLM backend (501 on the embedded engine)."
        ),
        status_code=200,
        responses=openai_error_responses(404, 413, 415, 422, 429, 501, 502, 503, 504),
    )
    async def create_chat_completion(
        self, data: Annotated[ChatCompletionRequest, Body(title="Chat completion request")], runtime: Runtime
    ) -> Response:
        service = runtime.understanding
        service.check_backend()
        check_model(runtime, data.model, allow_whisper_alias=False)
        if data.max_tokens is not None and data.max_completion_tokens is not None:
            raise InvalidRequest(
                "send max_tokens or max_completion_tokens, not both", field="max_completion_tokens"
            )
        if data.stream_options is not None and not data.stream:
            # As OpenAI does: otherwise include_usage would be silently ignored.
            raise InvalidRequest("stream_options is only allowed when stream is true", field="stream_options")
        limit = service.limits.max_tokens
        for name in ("max_tokens", "max_completion_tokens"):
            if (value := getattr(data, name)) is not None and value > limit:
                raise InvalidRequest(f"{name} is {value}; the limit is {limit}", field=name)
        split, sources = _split_messages(data)
        service.check_sources(sources, field="messages")
        audios = iter(await service.decode_all(sources, field="messages"))
        messages = [
            ChatMessage(
                role=message.role,
                content=[AudioPart(audio=next(audios)) if isinstance(p, AudioSource) else p for p in parts],
            )
            for message, parts in zip(data.messages, split, strict=True)
        ]
        sampling = SamplingParams(
            temperature=data.temperature,
            top_p=data.top_p,
            max_tokens=data.max_completion_tokens or data.max_tokens,
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not data.stream:
            answer = await service.answer(messages, sampling)
            return Response(
                ChatCompletion(
                    id=completion_id,
                    created=created,
                    model=answer.model,
                    choices=[
                        ChatChoice(
                            message=ChatResponseMessage(content=answer.text),
                            finish_reason=answer.finish_reason,
                        )
                    ],
                    usage=usage_dict(answer.usage),
                )
            )

        deltas = service.answer_stream(messages, sampling)
        first = await anext(deltas, None)  # a refused request answers with its status, not a 200 stream
        include_usage = bool(data.stream_options and data.stream_options.include_usage)
        model = runtime.backend.model_name

        def chunk(delta: ChatDelta, finish_reason: str | None = None) -> bytes:
            choice = ChatChunkChoice(delta=delta, finish_reason=finish_reason)
            return sse_event(
                ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[choice])
            )

        async def events() -> AsyncIterator[bytes]:
            yield chunk(ChatDelta(role="assistant", content=""))
            usage = None
            finish_reason = None
            try:
                delta = first
                while delta is not None:
                    usage = delta.usage or usage
                    finish_reason = delta.finish_reason or finish_reason
                    if delta.text:
                        yield chunk(ChatDelta(content=delta.text))
                    delta = await anext(deltas, None)
            except GatewayError as exc:
                log.warning("chat_stream_failed", error=exc.message)
                yield sse_error_event(exc, "openai")
                return
            yield chunk(ChatDelta(), finish_reason=finish_reason or "stop")
            if include_usage:
                yield sse_event(
                    ChatCompletionChunk(
                        id=completion_id, created=created, model=model, choices=[], usage=usage_dict(usage)
                    )
                )
            yield b"data: [DONE]\n\n"

        return sse_response(events())
