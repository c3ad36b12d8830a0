"""POST /understand/: ask a question about up to five recordings."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from litestar import Controller, Response, post
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Stream

from voxtral_gateway.backends.chat import AnswerDelta, SamplingParams, TokenUsage
from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.docs import error_responses
from voxtral_gateway.routes.error_wire import sse_error_event
from voxtral_gateway.routes.sse import sse_event, sse_response
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.understand import (
    AnswerDeltaEvent,
    AudioFileSummary,
    TokenUsageOut,
    UnderstandRequest,
    UnderstandResponse,
)
from voxtral_gateway.services.understanding import AudioSource

log = structlog.get_logger(__name__)

_BODY = Body(
    title="Understanding request",
    examples=[
        Example(
            summary="One question about one recording",
            value={
                "audio_files": [{"data": "SUQzBAAAAAAA...", "format": "mp3"}],
                "question": "What is this audio about?",
                "temperature": 0.2,
                "max_tokens": 500,
                "top_p": 0.95,
            },
        )
    ],
)


def _usage(usage: TokenUsage | None) -> TokenUsageOut | None:
    if usage is None:
        return None
    return TokenUsageOut(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class UnderstandController(Controller):
    path = "/understand"
    tags = ["understanding"]

    @post(
        "/",
        operation_id="understand",
        summary="Ask a question about audio",
        description=(
            "Sends the audio files (any container; each is transcoded to 16 kHz mono WAV) and the question to "
            "Voxtral as one chat message. At most 5 files (Voxtral's per-prompt cap), 40 minutes of audio in "
            "total. With `stream: true` the answer arrives as server-sent events: `delta` events "
            '(`{"text": ...}`), then one `done` event whose data is the full response below, or an `error` '
            "event. Needs the vLLM backend: the embedded engine answers 501."
        ),
        status_code=200,
        responses=error_responses(413, 415, 422, 429, 501, 502, 503, 504),
    )
    async def understand(
        self, data: Annotated[UnderstandRequest, _BODY], runtime: Runtime
    ) -> Response[UnderstandResponse] | Stream:
        started = time.perf_counter()
        service = runtime.understanding
        sampling = SamplingParams(temperature=data.temperature, top_p=data.top_p, max_tokens=data.max_tokens)
        sources = [
            AudioSource(data=item.data, declared_format=item.format, field=f"audio_files[{index}].data")
            for index, item in enumerate(data.audio_files)
        ]
        service.check(sources, data.question, sampling)
        audios = await service.decode_all(sources)
        summaries = [
            AudioFileSummary(index=index, audio_duration_seconds=round(audio.duration_seconds, 3))
            for index, audio in enumerate(audios)
        ]
        total_seconds = round(sum(audio.duration_seconds for audio in audios), 3)
        messages = service.prompt(audios, data.question)

        def response(
            text: str, finish_reason: str | None, usage: TokenUsage | None, model: str
        ) -> UnderstandResponse:
            return UnderstandResponse(
                answer=text,
                model=model,
                finish_reason=finish_reason,
                usage=_usage(usage),
                processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
                audio_duration_seconds=total_seconds,
                audio_files=summaries,
            )

        if not data.stream:
            answer = await service.answer(messages, sampling)
            return Response(response(answer.text, answer.finish_reason, answer.usage, answer.model))

        deltas = service.answer_stream(messages, sampling)
        # Wait for the first event before answering 200, so a refused request gets its real status.
        first = await anext(deltas, None)
        model = runtime.backend.model_name

        async def events() -> AsyncIterator[bytes]:
            pieces: list[str] = []
            finish_reason: str | None = None
            usage: TokenUsage | None = None

            def take(delta: AnswerDelta) -> bytes | None:
                nonlocal finish_reason, usage
                finish_reason = delta.finish_reason or finish_reason
                usage = delta.usage or usage
                if not delta.text:
                    return None
                pieces.append(delta.text)
                return sse_event(AnswerDeltaEvent(text=delta.text), event="delta")

            try:
                if first is not None and (event := take(first)):
                    yield event
                async for delta in deltas:
                    if event := take(delta):
                        yield event
            except GatewayError as exc:
                log.warning("understand_stream_failed", error=exc.message)
                yield sse_error_event(exc, "seed")
                return
            yield sse_event(response("".join(pieces), finish_reason, usage, model), event="done")

        return sse_response(events())
