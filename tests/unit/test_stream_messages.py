"""The WebSocket messages: the seed's untyped chunk message, the start message, server encodings."""

from __future__ import annotations

import msgspec
import pytest

from voxtral_gateway.schemas.stream import (
    AudioChunk,
    DoneMessage,
    ErrorMessage,
    FinalMessage,
    StartStream,
    parse_client_message,
)
from voxtral_gateway.services.live.stats import LatencyHistogram


def test_the_seed_chunk_message_needs_no_type():
    message = parse_client_message(
        '{"format": "mp3", "language": "en", "chunk_id": 1, "is_final": false, "audio_data": "AAEC"}'
    )
    assert message == AudioChunk(format="mp3", language="en", chunk_id=1, audio_data=b"\x00\x01\x02")


@pytest.mark.parametrize(
    "raw",
    [
        '{"format": "pcm_s16le", "sample_rate": 16000, "language": "en"}',
        '{"type": "start", "format": "pcm_s16le", "sample_rate": 8000}',
    ],
)
def test_a_message_without_chunk_fields_is_a_start(raw):
    assert isinstance(parse_client_message(raw), StartStream)


def test_an_end_message_is_a_chunk():
    assert parse_client_message('{"is_final": true}') == AudioChunk(is_final=True)


@pytest.mark.parametrize(
    ("raw", "error", "fragment"),
    [
        ("not json", msgspec.DecodeError, "JSON"),
        ('{"chunk_id": 1, "audio_data": "AAE"}', msgspec.ValidationError, "base64"),
        ('{"chunk_id": 1, "audio_data": "AAEC", "format": "xyz"}', msgspec.ValidationError, "format"),
        ('{"chunk_id": -1, "audio_data": ""}', msgspec.ValidationError, "chunk_id"),
        ('{"chunk_id": 1, "colour": "red"}', msgspec.ValidationError, "colour"),
        ('{"type": "hello"}', msgspec.ValidationError, "hello"),
        ('{"type": "start", "sample_rate": 4000}', msgspec.ValidationError, "sample_rate"),
    ],
)
def test_invalid_messages_are_refused_naming_the_problem(raw, error, fragment):
    with pytest.raises(error, match=fragment):
        parse_client_message(raw)


def test_server_messages_carry_their_type_tag():
    final = FinalMessage(
        segment_id=1,
        start=0.0,
        end=1.5,
        text="hi",
        language="en",
        confidence=None,
        chunk_id=3,
        backend_ms=1.0,
    )
    assert msgspec.json.decode(msgspec.json.encode(final))["type"] == "final"
    done = msgspec.json.decode(
        msgspec.json.encode(
            DoneMessage(
                text="hi", language="en", segments=1, audio_duration_seconds=1.5, processing_time_ms=9.0
            )
        )
    )
    assert done["type"] == "done" and done["is_final"] is True
    error = msgspec.json.decode(msgspec.json.encode(ErrorMessage(code="x", message="y", severity="warning")))
    assert error["severity"] == "warning" and error["chunk_id"] is None


def test_latency_histograms_merge_and_give_percentiles_within_a_bucket():
    first, second = LatencyHistogram(), LatencyHistogram()
    for index in range(1, 1001):
        (first if index % 2 else second).record(index / 1000)  # 1 ms … 1 s
    merged = LatencyHistogram.from_json(first.to_json())
    merged.merge(second)
    assert merged.count == 1000
    assert merged.percentile(0.5) == pytest.approx(0.5, rel=0.06)
    assert merged.percentile(0.99) == pytest.approx(0.99, rel=0.06)
