"""POST /v1/chat/completions: OpenAI's chat API with audio parts, answered by the understanding service;
Mistral's chat on the same path (its `input_audio` string converted by `routes/mistral/chat.py`)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Annotated

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import Body

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.base64_text import strict_base64
from voxtral_gateway.routes.docs import SSE_ALTERNATIVE, openai_error_responses, success_response
from voxtral_gateway.routes.error_wire import request_dialect
from voxtral_gateway.routes.json_request import large_json_request_class, off_loop_if_large
from voxtral_gateway.routes.mistral.chat import (
    check_prefix,
    input_audio_string_file,
    streams_usage,
    unwrapped,
)
from voxtral_gateway.routes.sse import sse_after_first_event, sse_event
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
)
from voxtral_gateway.services.understanding import (
    AnswerDone,
    AnswerEvent,
    AudioFile,
    Conversation,
    ConversationMessage,
    SamplingParams,
    TextPart,
)

_DATA_URL = re.compile(r"^data:audio/([\w.+-]+)?(?:;[\w=.+-]+)*;base64,", re.IGNORECASE)
_REMOTE_URL = re.compile(r"^https?://", re.IGNORECASE)
_DONE = b"data: [DONE]\n\n"


def _audio_url_file(url: str, field: str) -> AudioFile:
    if _REMOTE_URL.match(url):
        return AudioFile(url=url, field=field)  # fetched by the service, through the SSRF guard
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(
            f"{field} must be a data URL (data:audio/<type>;base64,...) or an http(s) URL", field=field
        )
    try:
        data = strict_base64(url[match.end() :])
    except ValueError as exc:  # binascii.Error, or a non-ASCII character (a plain ValueError)
        raise InvalidRequest(f"{field} has invalid base64: {exc}", field=field) from exc
    return AudioFile(data=data, declared_format=match.group(1), field=field)


def _conversation(data: ChatCompletionRequest) -> Conversation:
    """The request as the understanding service's input: text parts and audio files, in order."""
    if data.max_tokens is not None and data.max_completion_tokens is not None:
        raise InvalidRequest(
            "send max_tokens or max_completion_tokens, not both", field="max_completion_tokens"
        )
    if data.stream_options is not None and not data.stream:
        # As OpenAI does: otherwise include_usage would be silently ignored.
        raise InvalidRequest("stream_options is only allowed when stream is true", field="stream_options")
    messages: list[ConversationMessage] = []
    for m, message in enumerate(data.messages):
        check_prefix(message.prefix, f"messages[{m}].prefix")
        parts: list[TextPart | AudioFile] = []
        content = [message.content] if isinstance(message.content, str) else message.content
        for p, wire_part in enumerate(content):
            field = f"messages[{m}].content[{p}]"
            part = unwrapped(wire_part)
            if isinstance(part, str):
                parts.append(TextPart(text=part))
            elif isinstance(part, InputAudioContentPart) and isinstance(part.input_audio, str):
                parts.append(input_audio_string_file(part.input_audio, f"{field}.input_audio"))
            elif isinstance(part, InputAudioContentPart):
                parts.append(
                    AudioFile(
                        data=part.input_audio.data,
                        declared_format=part.input_audio.format,
                        field=f"{field}.input_audio.data",
                    )
                )
            elif isinstance(part, AudioUrlContentPart):
                url = part.audio_url
                if isinstance(url, str):
                    parts.append(_audio_url_file(url, f"{field}.audio_url"))
                else:
                    parts.append(_audio_url_file(url.url, f"{field}.audio_url.url"))
            else:
                parts.append(TextPart(text=part.text))
        messages.append(ConversationMessage(role=message.role, content=parts))
    return Conversation(
        model=data.model,
        messages=messages,
        sampling=SamplingParams(
            temperature=data.temperature,
            top_p=data.top_p,
            max_tokens=data.max_completion_tokens or data.max_tokens,
        ),
        files_field="messages",
        max_tokens_field="max_completion_tokens" if data.max_completion_tokens is not None else "max_tokens",
    )


class ChatCompletionsController(Controller):
    path = "/v1/chat/completions"
    tags = ["openai"]
    # A large body is parsed, and its audio's base64 decoded, on the decode pool, off the event loop.
    request_class = large_json_request_class(ChatCompletionRequest)

    @post(
        "/",
        operation_id="openai_create_chat_completion",
        summary="Chat about audio (OpenAI-compatible)",
        description=(
            "OpenAI's `chat.completions.create` (and Mistral's `chat.complete`/`chat.stream`) with "
            "`input_audio` ({data: base64, format}, or Mistral's plain base64 string) or `audio_url` "
            "(a `data:audio/...;base64,` URL, or an http(s) URL the gateway fetches) content parts. Every audio is decoded (any container) and sent "
            "to Voxtral as 16 kHz mono WAV; at most 5 audios and 40 minutes in total. `stream: true` returns "
            "`chat.completion.chunk` server-sent events ending with `data: [DONE]` (usage too with "
            "`stream_options.include_usage`). Needs the vLLM backend (501 on the embedded engine)."
        ),
        status_code=200,
        responses={
            **success_response(
                ChatCompletion, "The completion (or, with `stream: true`, server-sent events)."
            ),
            **openai_error_responses(404, 413, 415, 422, 429, 501, 502, 503, 504),
        },
        operation_class=SSE_ALTERNATIVE,
    )
    async def create_chat_completion(
        self,
        data: Annotated[ChatCompletionRequest, Body(title="Chat completion request")],
        request: Request,
        runtime: NamedDependency[Runtime],
    ) -> Response:
        """Answer the conversation, whole or as `chat.completion.chunk` events."""
        conversation = await off_loop_if_large(request, _conversation, data)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        service = runtime.understanding
        if not data.stream:
            answer = await service.answer(conversation)
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
                    usage=answer.usage,
                )
            )

        dialect = request_dialect(request.scope)
        include_usage = streams_usage(
            bool(data.stream_options and data.stream_options.include_usage), dialect
        )
        model = runtime.backend.model_name

        def chunk(delta: ChatDelta, finish_reason: str | None = None) -> bytes:
            choice = ChatChunkChoice(delta=delta, finish_reason=finish_reason)
            return sse_event(
                ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[choice])
            )

        def encode(event: AnswerEvent) -> Iterator[bytes]:
            if not isinstance(event, AnswerDone):
                if event.text:
                    yield chunk(ChatDelta(content=event.text))
                return
            yield chunk(ChatDelta(), finish_reason=event.answer.finish_reason or "stop")
            if include_usage:
                yield sse_event(
                    ChatCompletionChunk(
                        id=completion_id, created=created, model=model, choices=[], usage=event.answer.usage
                    )
                )
            yield _DONE

        return await sse_after_first_event(
            service.answer_events(conversation),
            encode,
            dialect,
            opening=[chunk(ChatDelta(role="assistant", content=""))],
            name="chat",
        )
