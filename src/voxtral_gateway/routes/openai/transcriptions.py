"""POST /v1/audio/transcriptions: OpenAI's transcription API (multipart), every response format, and
Mistral's on the same path (its fields and stream events converted by `routes/mistral/transcription.py`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, get_args

import msgspec
import structlog
from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.docs import openai_error_responses, success_response, with_alternatives
from voxtral_gateway.routes.error_wire import Dialect, choose_dialect, request_dialect
from voxtral_gateway.routes.mistral.transcription import (
    GRANULARITIES_FIELD,
    MISTRAL_FIELDS,
    MISTRAL_ONLY_FIELDS,
    MistralFields,
    MistralTranscriptionStream,
    audio_seconds,
    check_mistral_fields,
    segment_chunks,
)
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
    "ar": "arabic",
}
_FORMATS = get_args(ResponseFormat)
_GRANULARITIES = "timestamp_granularities[]"
_OPENAI_FIELDS = {
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "stream",
    _GRANULARITIES,
}
_KNOWN_FIELDS = _OPENAI_FIELDS | MISTRAL_FIELDS
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
    """OpenAI's multipart fields (plus `timestamp_granularities[]`: `segment` only), and Mistral's
    (`file_url`, `file_id`, `diarize`, and the repeated `context_bias` and `timestamp_granularities`)."""

    model: str
    file: UploadFile | None = None
    """The audio; required unless Mistral's `file_url` is given."""
    language: str | None = None
    prompt: str | None = None
    """Accepted for compatibility and ignored: Voxtral's transcription takes no prompt."""
    response_format: str = "json"
    temperature: float = 0.0
    stream: bool = False
    file_url: str | None = None
    """Mistral's: an http(s) URL the gateway fetches (guarded: docs/mistral.md)."""
    file_id: str | None = None
    """Mistral's: refused (no files API)."""
    diarize: bool = False
    """Mistral's: `true` is refused (the model does not tell speakers apart)."""


class _Request(msgspec.Struct, kw_only=True, frozen=True):
    """A validated transcription request."""

    dialect: Dialect
    options: TranscriptionOptions
    response_format: str
    segments_asked: bool
    """Mistral's `timestamp_granularities=segment`: segments in the JSON response and the stream."""


async def _recognise_dialect(request: Request) -> None:
    """Read the form before Litestar validates it, and record whose request it is, so that every error
    (Litestar's own validation included) takes that dialect's shape. The dialect rule (docs/mistral.md):
    Mistral's SDK by its User-Agent, or any Mistral-only field; otherwise OpenAI's.

    Reading it here also lets a urlencoded form through: Mistral's SDK sends one when there is no file
    (`file_url`), and Litestar's multipart extractor reuses the form parsed here."""
    raw = await request.form()
    dialect: Dialect = "mistral" if raw.keys() & MISTRAL_ONLY_FIELDS else request_dialect(request.scope)
    choose_dialect(request.scope, dialect)


async def _validated(request: Request, form: TranscriptionForm) -> _Request:
    raw = await request.form()
    dialect = request_dialect(request.scope)
    unknown = sorted(set(raw.keys()) - _KNOWN_FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown form field(s): {', '.join(unknown)}", field=unknown[0])
    check_mistral_fields(
        MistralFields(
            file_url=form.file_url,
            file_id=form.file_id,
            diarize=form.diarize,
            speaker_references="speaker_references" in raw,
        ),
        has_file=form.file is not None,
    )
    granularity_field = _GRANULARITIES if _GRANULARITIES in raw else GRANULARITIES_FIELD
    granularities = raw.getall(_GRANULARITIES, []) + raw.getall(GRANULARITIES_FIELD, [])
    if "word" in granularities:
        raise InvalidRequest(
            f"{granularity_field}=word is not supported: Voxtral does not produce word timestamps; "
            "use `segment`",
            field=granularity_field,
        )
    if set(granularities) - {"segment"}:
        raise InvalidRequest(
            f"{granularity_field} must be `segment`, got {granularities}", field=granularity_field
        )
    if form.response_format not in _FORMATS:
        raise InvalidRequest(
            f"response_format {form.response_format!r} is not one of {', '.join(_FORMATS)}",
            field="response_format",
        )
    # OpenAI's segments come with verbose_json only; Mistral's (no response_format) in the JSON.
    if _GRANULARITIES in raw and form.response_format != "verbose_json":
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
    return _Request(
        dialect=dialect,
        options=TranscriptionOptions(language=form.language, temperature=form.temperature),
        response_format=form.response_format,
        segments_asked=GRANULARITIES_FIELD in raw,
    )


class AudioTranscriptionsController(Controller):
    path = "/v1/audio/transcriptions"
    tags = ["openai"]

    @post(
        "/",
        operation_id="openai_create_transcription",
        summary="Transcribe audio (OpenAI-compatible)",
        description=(
            "OpenAI's `audio.transcriptions.create`: multipart `file`, `model` (the served model, or an "
            "alias of MODEL_ALIASES such as `whisper-1`), `language`, `prompt` (accepted, ignored by "
            "Voxtral), `response_format` (`json`, `text`, `srt`, `vtt`, `verbose_json`), `temperature`, "
            "`timestamp_granularities[]` (`segment`; `word` is refused), `stream` (server-sent "
            "`transcript.text.delta` events as segments complete, in order, then `transcript.text.done`). "
            "Long audio is cut at pauses and transcribed in parallel; `srt`, `vtt` and `verbose_json` carry "
            "each segment's times in the original audio. Mistral's `audio.transcriptions.complete`/`stream` "
            "on the same path: `file_url` (fetched by the gateway), `timestamp_granularities` (`segment`), "
            "`diarize` (`true` refused), `context_bias` (ignored), `file_id` (refused); its stream is "
            "`transcription.*` events (docs/mistral.md)."
        ),
        status_code=200,
        before_request=_recognise_dialect,
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
        runtime: NamedDependency[Runtime],
    ) -> Response:
        """Transcribe `file` (or Mistral's `file_url`) in the requested format, whole or streamed."""
        started = time.perf_counter()
        valid = await _validated(request, data)
        model = runtime.models.resolve(data.model)
        if data.file is not None:
            file = AudioFile(data=await data.file.read(), declared_format=None, field="file")
            await data.file.close()
        else:
            file = AudioFile(url=data.file_url, field="file_url")
        service = runtime.transcription
        options = valid.options
        if data.stream and valid.dialect == "mistral":
            mistral = MistralTranscriptionStream(model, options.language, valid.segments_asked)
            return await sse_after_first_event(
                service.transcribe_events(file, options),
                mistral.encode,
                "mistral",
                opening=mistral.opening,
                name="mistral_transcription",
            )
        if data.stream:
            return await sse_after_first_event(
                service.transcribe_events(file, options), _encode_event, "openai", name="openai_transcription"
            )
        result = await service.transcribe(file, options)
        log.info(
            "openai_transcription",
            dialect=valid.dialect,
            segments=result.segment_count,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return transcription_response(result, valid.response_format, model, valid.segments_asked)


def _usage(result: TranscriptionResult) -> DurationUsage:
    seconds = audio_seconds(result)
    return DurationUsage(seconds=seconds, prompt_audio_seconds=seconds)


def transcription_response(
    result: TranscriptionResult, response_format: str, model: str, segments_asked: bool = False
) -> Response:
    """A transcription in one of the response formats (also the result of a finished job);
    `segments_asked`: Mistral's `timestamp_granularities=segment`, segments in the JSON body."""
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
    # One body for both SDKs: OpenAI's `Transcription` and Mistral's `TranscriptionResponse`.
    return Response(
        TranscriptionJson(
            model=model,
            text=result.text,
            language=result.language,
            segments=segment_chunks(result.segments) if segments_asked else None,
            usage=_usage(result),
        )
    )


def _encode_event(event: TranscriptionEvent) -> Iterator[bytes]:
    if isinstance(event, TextDelta):
        yield sse_event(TranscriptDeltaEvent(delta=event.text))
    elif isinstance(event, TranscriptionDone):
        yield sse_event(TranscriptDoneEvent(text=event.result.text, usage=_usage(event.result)))
