"""POST /v1/audio/transcriptions: OpenAI's transcription API (multipart), every response format."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, get_args

import structlog
from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.docs import openai_error_responses, success_response, with_alternatives
from voxtral_gateway.routes.sse import SSE_MEDIA_TYPE, sse_after_first_event, sse_event
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.openai import (
    DurationUsage,
    ResponseFormat,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    TranscriptionJson,
    TranscriptionVerboseJson,
    VerboseSegment,
)
from voxtral_gateway.services.language import SUPPORTED_LANGUAGES
from voxtral_gateway.services.models import WHISPER_ALIAS, check_model
from voxtral_gateway.services.subtitles import to_srt, to_vtt
from voxtral_gateway.services.transcription import (
    AudioFile,
    TextDelta,
    TranscriptionDone,
    TranscriptionEvent,
    TranscriptionOptions,
    TranscriptionResult,
)

log = structlog.get_logger(__name__)

LANGUAGE_NAMES = {
    "en": "english",
    "es": "spanish",
    "fr": "french",
    "pt": "portuguese",
    "hi": "hindi",
    "de": "german",
    "nl": "dutch",
    "it": "italian",
}
_FORMATS = get_args(ResponseFormat)
_GRANULARITIES = "timestamp_granularities[]"
_KNOWN_FIELDS = {
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "stream",
    _GRANULARITIES,
}
_TEXT_PLAIN = "text/plain; charset=utf-8"
_VTT = "text/vtt; charset=utf-8"
_OPERATION = with_alternatives(
    {
        _TEXT_PLAIN: "`response_format` `text` (the transcript and a newline) or `srt` (SubRip subtitles).",
        _VTT: "`response_format` `vtt` (WebVTT subtitles).",
        SSE_MEDIA_TYPE: "With `stream: true`: `transcript.text.delta` events, then `transcript.text.done`.",
    }
)


@dataclass
class TranscriptionForm:
    """OpenAI's multipart fields (plus `timestamp_granularities[]`: `segment` only)."""

    file: UploadFile
    model: str
    language: str | None = None
    prompt: str | None = None
    """Accepted for compatibility and ignored: Voxtral's transcription takes no prompt."""
    response_format: str = "json"
    temperature: float = 0.0
    stream: bool = False


async def _validated(request: Request, form: TranscriptionForm) -> tuple[TranscriptionOptions, str]:
    raw = await request.form()
    unknown = sorted(set(raw.keys()) - _KNOWN_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown form field(s): {', '.join(unknown)}", field=unknown[0])
    granularities = raw.getall(_GRANULARITIES) if _GRANULARITIES in raw else []
    if "word" in granularities:
        raise InvalidRequest(
            "timestamp_granularities[]=word is not supported: Voxtral does not produce word timestamps; "
            "use `segment`",
            field=_GRANULARITIES,
        )
    if set(granularities) - {"segment"}:
        raise InvalidRequest(
            f"timestamp_granularities[] must be `segment`, got {granularities}", field=_GRANULARITIES
        )
    if form.response_format not in _FORMATS:
        raise InvalidRequest(
            f"response_format {form.response_format!r} is not one of {', '.join(_FORMATS)}",
            field="response_format",
        )
    if granularities and form.response_format != "verbose_json":
        raise InvalidRequest(
            "timestamp_granularities[] needs response_format=verbose_json", field=_GRANULARITIES
        )
    if form.stream and form.response_format not in ("json", "text"):
        raise InvalidRequest("stream=true works with response_format json or text", field="stream")
    if form.language is not None and form.language not in SUPPORTED_LANGUAGES:
        raise InvalidRequest(
            f"language {form.language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}", field="language"
        )
    if not 0.0 <= form.temperature <= 2.0:
        raise InvalidRequest(f"temperature {form.temperature} is outside 0.0–2.0", field="temperature")
    return TranscriptionOptions(language=form.language, temperature=form.temperature), form.response_format


class AudioTranscriptionsController(Controller):
    path = "/v1/audio/transcriptions"
    tags = ["openai"]

    @post(
        "/",
        operation_id="openai_create_transcription",
        summary="Transcribe audio (OpenAI-compatible)",
        description=(
            "OpenAI's `audio.transcriptions.create`: multipart `file`, `model` (the served model, or "
            "`whisper-1` as an alias), `language`, `prompt` (accepted, ignored by Voxtral), `response_format` "
            "(`json`, `text`, `srt`, `vtt`, `verbose_json`), `temperature`, `timestamp_granularities[]` "
            "(`segment`; `word` is refused), `stream` (server-sent `transcript.text.delta` events as segments "
            "complete, in order, then `transcript.text.done`). Long audio is cut at pauses and transcribed "
            "in parallel; `srt`, `vtt` and `verbose_json` carry each segment's times in the original audio."
        ),
        status_code=200,
        responses={
            **success_response(
                TranscriptionJson | TranscriptionVerboseJson,
                "`response_format` `json` (the default) or `verbose_json` (language, duration, segments).",
            ),
            **openai_error_responses(404, 413, 415, 422, 429, 502, 503, 504),
        },
        operation_class=_OPERATION,
    )
    async def create_transcription(
        self,
        data: Annotated[TranscriptionForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        request: Request,
        runtime: Runtime,
    ) -> Response:
        """Transcribe `file` in the requested `response_format`, whole or streamed."""
        started = time.perf_counter()
        check_model(runtime.backend, data.model, aliases=[WHISPER_ALIAS])
        options, response_format = await _validated(request, data)
        file = AudioFile(data=await data.file.read(), declared_format=None, field="file")
        await data.file.close()
        service = runtime.transcription
        if data.stream:
            return await sse_after_first_event(
                service.transcribe_events(file, options), _encode_event, "openai", name="openai_transcription"
            )
        result = await service.transcribe(file, options)
        log.info(
            "openai_transcription",
            segments=result.segment_count,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return transcription_response(result, response_format)


def _usage(result: TranscriptionResult) -> DurationUsage:
    return DurationUsage(seconds=math.ceil(result.audio_seconds))


def transcription_response(result: TranscriptionResult, response_format: str) -> Response:
    """A transcription in one of OpenAI's response formats (also the result of a finished job)."""
    if response_format == "text":
        return Response(result.text + "\n", media_type=_TEXT_PLAIN)
    if response_format == "srt":
        return Response(to_srt(result.segments), media_type=_TEXT_PLAIN)
    if response_format == "vtt":
        return Response(to_vtt(result.segments), media_type=_VTT)
    if response_format == "verbose_json":
        language = result.language or "en"
        return Response(
            TranscriptionVerboseJson(
                language=LANGUAGE_NAMES.get(language, language),
                duration=round(result.audio_seconds, 3),
                text=result.text,
                segments=[
                    VerboseSegment(id=i, start=s.start, end=s.end, text=s.text)
                    for i, s in enumerate(result.segments)
                ],
                usage=_usage(result),
            )
        )
    return Response(TranscriptionJson(text=result.text, usage=_usage(result)))


def _encode_event(event: TranscriptionEvent) -> Iterator[bytes]:
    if isinstance(event, TextDelta):
        yield sse_event(TranscriptDeltaEvent(delta=event.text))
    elif isinstance(event, TranscriptionDone):
        yield sse_event(TranscriptDoneEvent(text=event.result.text, usage=_usage(event.result)))
