"""POST /understand/: ask a question about up to five recordings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Stream

from voxtral_gateway.routes.docs import SSE_ALTERNATIVE, error_responses, success_response
from voxtral_gateway.routes.json_request import large_json_request_class
from voxtral_gateway.routes.sse import sse_after_first_event, sse_event
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.understand import (
    AnswerDeltaEvent,
    AudioFileSummary,
    UnderstandRequest,
    UnderstandResponse,
)
from voxtral_gateway.services.understanding import (
    AnswerDone,
    AnswerEvent,
    AudioFile,
    AudioQuestion,
    SamplingParams,
    UnderstandingAnswer,
)

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


def _question(data: UnderstandRequest) -> AudioQuestion:
    return AudioQuestion(
        files=[
            AudioFile(data=item.data, declared_format=item.format, field=f"audio_files[{index}].data")
            for index, item in enumerate(data.audio_files)
        ],
        question=data.question,
        sampling=SamplingParams(temperature=data.temperature, top_p=data.top_p, max_tokens=data.max_tokens),
    )


def _response(answer: UnderstandingAnswer, started: float) -> UnderstandResponse:
    return UnderstandResponse(
        answer=answer.text,
        model=answer.model,
        finish_reason=answer.finish_reason,
        usage=answer.usage,
        processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
        audio_duration_seconds=round(sum(answer.audio_seconds), 3),
        audio_files=[
            AudioFileSummary(index=index, audio_duration_seconds=round(seconds, 3))
            for index, seconds in enumerate(answer.audio_seconds)
        ],
    )


class UnderstandController(Controller):
    path = "/understand"
    tags = ["understanding"]
    # A large body (its files' base64) is parsed on the decode pool, off the event loop.
    request_class = large_json_request_class(UnderstandRequest)

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
        responses={
            **success_response(
                UnderstandResponse, "The answer (or, with `stream: true`, server-sent events)."
            ),
            **error_responses(413, 415, 422, 429, 501, 502, 503, 504),
        },
        operation_class=SSE_ALTERNATIVE,
    )
    async def understand(
        self, data: Annotated[UnderstandRequest, _BODY], runtime: NamedDependency[Runtime]
    ) -> Response[UnderstandResponse] | Stream:
        """Answer `question` about the audio files, whole or streamed."""
        started = time.perf_counter()
        question = _question(data)
        if not data.stream:
            return Response(_response(await runtime.understanding.answer(question), started))

        def encode(event: AnswerEvent) -> Iterator[bytes]:
            if isinstance(event, AnswerDone):
                yield sse_event(_response(event.answer, started), event="done")
            elif event.text:
                yield sse_event(AnswerDeltaEvent(text=event.text), event="delta")

        return await sse_after_first_event(
            runtime.understanding.answer_events(question), encode, "seed", name="understand"
        )
