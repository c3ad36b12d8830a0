"""Mistral's side of `POST /v1/audio/transcriptions` (shared with OpenAI's): its form fields, and its
results and server-sent events as `mistralai`'s `TranscriptionResponse` and `TranscriptionStreamEvents`.

The dialect rule (also in docs/mistral.md): a request is Mistral's when its User-Agent is Mistral's SDK
(`mistral-client-...`) or its form carries a field only Mistral's API has (`MISTRAL_ONLY_FIELDS`;
the SDK always sends `diarize`); otherwise it is OpenAI's."""

from __future__ import annotations

import math
from collections.abc import Iterator

import msgspec

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.sse import sse_event
from voxtral_gateway.schemas.mistral import (
    MistralTranscriptionUsage,
    TranscriptionSegmentChunk,
    TranscriptionStreamDone,
    TranscriptionStreamLanguage,
    TranscriptionStreamSegment,
    TranscriptionStreamTextDelta,
)
from voxtral_gateway.services.transcription import (
    SegmentDone,
    TextDelta,
    TranscriptionDone,
    TranscriptionEvent,
    TranscriptionResult,
    TranscriptSegment,
)

GRANULARITIES_FIELD = "timestamp_granularities"
"""Mistral's SDK repeats this field without OpenAI's `[]`."""
MISTRAL_ONLY_FIELDS = frozenset(
    {"diarize", "context_bias", "file_url", "file_id", "speaker_references", GRANULARITIES_FIELD}
)
MISTRAL_FIELDS = MISTRAL_ONLY_FIELDS | {"file", "model", "language", "temperature", "stream"}


class MistralFields(msgspec.Struct, kw_only=True, frozen=True):
    """Mistral's own fields, as sent (the SDK omits the ones its caller did not set, but `diarize`)."""

    file_url: str | None = None
    file_id: str | None = None
    diarize: bool = False
    speaker_references: bool = False
    """Whether the part was sent (it only makes sense with diarization)."""


def check_mistral_fields(fields: MistralFields, has_file: bool) -> None:
    """Refuse, naming the field, what the gateway cannot do rather than pretend (docs/mistral.md).

    `context_bias` is not checked: it is accepted and ignored (Voxtral on vLLM takes no bias words)."""
    if fields.file_id is not None:
        raise InvalidRequest(
            "file_id is not supported: this gateway has no files API; send the audio as `file` or `file_url`",
            field="file_id",
        )
    if fields.diarize:
        raise InvalidRequest(
            "diarize=true is not supported: the served model does not tell speakers apart; send diarize=false",
            field="diarize",
        )
    if fields.speaker_references:
        raise InvalidRequest(
            "speaker_references needs diarization, which the served model does not do",
            field="speaker_references",
        )
    if has_file and fields.file_url is not None:
        raise InvalidRequest("send the audio as `file` or `file_url`, not both", field="file_url")
    if not has_file and fields.file_url is None:
        raise InvalidRequest("the audio is missing: send `file` (multipart) or `file_url`", field="file")


def audio_seconds(result: TranscriptionResult) -> int:
    """The audio's duration in whole seconds, rounded up (Mistral's SDK wants an integer)."""
    return math.ceil(result.audio_seconds)


def segment_chunks(segments: list[TranscriptSegment]) -> list[TranscriptionSegmentChunk]:
    return [TranscriptionSegmentChunk(text=s.text, start=s.start, end=s.end) for s in segments]


class MistralTranscriptionStream:
    """Encodes the transcription service's events as Mistral's: `transcription.language` once the
    language is known, `transcription.segment` per timed segment (when asked for), `transcription.text.delta`
    per piece of text, and `transcription.done`. Every event has its `event:` line; no `[DONE]`."""

    def __init__(self, model: str, requested_language: str | None, with_segments: bool):
        self._model = model
        self._with_segments = with_segments
        self._language_sent = requested_language is not None
        self.opening = (
            [_frame(TranscriptionStreamLanguage(audio_language=requested_language))]
            if (requested_language is not None)
            else []
        )
        """Frames sent before any other: the language, when the request named it."""

    def encode(self, event: TranscriptionEvent) -> Iterator[bytes]:
        if isinstance(event, SegmentDone):
            yield from self._language(event.language)
            if self._with_segments:
                for segment in event.segments:
                    yield _frame(
                        TranscriptionStreamSegment(text=segment.text, start=segment.start, end=segment.end)
                    )
        elif isinstance(event, TextDelta):
            yield _frame(TranscriptionStreamTextDelta(text=event.text))
        elif isinstance(event, TranscriptionDone):
            result = event.result
            yield from self._language(result.language)
            yield _frame(
                TranscriptionStreamDone(
                    model=self._model,
                    text=result.text,
                    language=result.language,
                    usage=MistralTranscriptionUsage(prompt_audio_seconds=audio_seconds(result)),
                    segments=segment_chunks(result.segments) if self._with_segments else None,
                )
            )

    def _language(self, language: str | None) -> Iterator[bytes]:
        if language is not None and not self._language_sent:
            self._language_sent = True
            yield _frame(TranscriptionStreamLanguage(audio_language=language))


def _frame(
    event: TranscriptionStreamLanguage
    | TranscriptionStreamSegment
    | TranscriptionStreamTextDelta
    | TranscriptionStreamDone,
) -> bytes:
    """One event with its `event:` line (the SDK drops events without one) naming its `type`."""
    name = type(event).__struct_config__.tag
    assert isinstance(name, str)
    return sse_event(event, event=name)
