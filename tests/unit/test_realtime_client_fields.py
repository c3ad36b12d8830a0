"""The realtime client events refuse unknown fields, so every field the clients' own types declare must
be declared here: events built from the `openai` and `mistralai` SDKs' parameter types, with every field
set (each variant of a union in turn), all decode; a misspelt field does not, and is named."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
import pytest
import typing_extensions
from mistralai.client.models import (
    RealtimeTranscriptionInputAudioAppendTypedDict,
    RealtimeTranscriptionInputAudioEndTypedDict,
    RealtimeTranscriptionInputAudioFlushTypedDict,
    RealtimeTranscriptionSessionUpdateMessageTypedDict,
)
from openai.types.beta.realtime.input_audio_buffer_append_event_param import (
    InputAudioBufferAppendEventParam as BetaAppend,
)
from openai.types.beta.realtime.input_audio_buffer_clear_event_param import (
    InputAudioBufferClearEventParam as BetaClear,
)
from openai.types.beta.realtime.input_audio_buffer_commit_event_param import (
    InputAudioBufferCommitEventParam as BetaCommit,
)
from openai.types.beta.realtime.transcription_session_update_param import TranscriptionSessionUpdateParam
from openai.types.realtime import (
    InputAudioBufferAppendEventParam,
    InputAudioBufferClearEventParam,
    InputAudioBufferCommitEventParam,
    SessionUpdateEventParam,
)

from voxtral_gateway.routes.realtime.base import invalid_event
from voxtral_gateway.schemas import realtime_mistral, realtime_openai

# Values the gateway checks: a valid one for each (any other field takes a generic value of its type).
_VALUES = {"sample_rate": 16_000, "rate": 24_000, "audio": "AAAA", "silence_duration_ms": 500}


def _samples(hint: Any, name: str = "") -> list[Any]:
    """Values of type `hint`: one per variant of a union, one per distinct shape of a TypedDict."""
    if name in _VALUES and hint in (str, int):
        return [_VALUES[name]]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if getattr(origin, "__name__", "") == "Nullable":  # mistralai's Nullable[T]: T or null
        return _samples(args[0], name)
    if origin is typing.Literal:
        return [args[0]]
    if origin in (typing.Union, types.UnionType):
        # None, and an open enum's "any other string" (a value the gateway refuses as a bad value), aside.
        kinds = [
            arg for arg in args if arg is not type(None) and getattr(arg, "__name__", "") != "UnrecognizedStr"
        ]
        return [value for arg in kinds for value in _samples(arg, name)]
    if typing_extensions.is_typeddict(hint):
        hints = typing_extensions.get_type_hints(hint)
        fields = {key: _samples(value, key) for key, value in hints.items()}
        count = max((len(values) for values in fields.values()), default=1)
        return [{key: values[i % len(values)] for key, values in fields.items()} for i in range(count)]
    if origin is dict:
        return [{"key": _samples(args[1])[0]}]
    if origin is not None and args:  # List, Iterable, SequenceNotStr
        return [[value] for value in _samples(args[0])]
    return [{bool: True, int: 500, float: 0.5, str: "en"}.get(hint, "value")]


def _events(*typed_dicts: Any) -> list[Any]:
    return [
        pytest.param(event, id=f"{event['type']}-{_session_type(event)}")
        for typed_dict in typed_dicts
        for event in _samples(typed_dict)
    ]


def _session_type(event: dict[str, Any]) -> str:
    session = event.get("session")
    return str(session.get("type", "")) if isinstance(session, dict) else ""


@pytest.mark.parametrize(
    "event",
    _events(
        SessionUpdateEventParam,
        InputAudioBufferAppendEventParam,
        InputAudioBufferCommitEventParam,
        InputAudioBufferClearEventParam,
        TranscriptionSessionUpdateParam,
        BetaAppend,
        BetaCommit,
        BetaClear,
    ),
)
def test_every_field_of_the_openai_sdks_events_is_accepted(event):
    realtime_openai.parse_client_event(msgspec.json.encode(event))


@pytest.mark.parametrize(
    "event",
    _events(
        RealtimeTranscriptionSessionUpdateMessageTypedDict,
        RealtimeTranscriptionInputAudioAppendTypedDict,
        RealtimeTranscriptionInputAudioFlushTypedDict,
        RealtimeTranscriptionInputAudioEndTypedDict,
    ),
)
def test_every_field_of_the_mistral_sdks_events_is_accepted(event):
    realtime_mistral.parse_client_event(msgspec.json.encode(event))


@pytest.mark.parametrize(
    ("parse", "event", "field"),
    [
        (
            realtime_openai.parse_client_event,
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"languge": "fr"}}},
                },
            },
            "session.audio.input.transcription.languge",
        ),
        (
            realtime_openai.parse_client_event,
            {
                "type": "transcription_session.update",
                "session": {"turn_detection": {"silence_duration": 300}},
            },
            "session.turn_detection.silence_duration",
        ),
        (realtime_openai.parse_client_event, {"type": "input_audio_buffer.commit", "final": True}, "final"),
        (
            realtime_mistral.parse_client_event,
            {"type": "session.update", "session": {"turn_detection": {"min_silence": 300}}},
            "session.turn_detection.min_silence",
        ),
        (realtime_mistral.parse_client_event, {"type": "input_audio.flush", "force": True}, "force"),
    ],
)
def test_an_unknown_field_is_refused_and_named(parse, event, field):
    with pytest.raises(msgspec.ValidationError) as raised:
        parse(msgspec.json.encode(event))
    error = invalid_event(raised.value)
    assert error.field == field and f"`{field.rsplit('.', 1)[-1]}`" in error.message


_DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("parse", [realtime_openai.parse_client_event, realtime_mistral.parse_client_event])
@pytest.mark.parametrize(
    "text",
    [
        '{"x": ' + _DEEP + ', "type": "input_audio.append", "audio": "AAAA"}',
        '{"audio": ' + _DEEP + ', "type": "input_audio_buffer.append"}',
    ],
)
def test_json_nested_too_deeply_is_a_decode_error(parse, text):
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        parse(text)


@pytest.mark.parametrize(
    ("languages", "language"), [(["fr"], "fr"), (["fr", "de"], None), ([], None), (None, None)]
)
def test_languages_naming_one_language_is_the_language(languages, language):
    config = realtime_openai.TranscriptionConfig(languages=languages)
    assert config.single_language == language
    assert realtime_openai.TranscriptionConfig(language="en", languages=languages).single_language == "en"
