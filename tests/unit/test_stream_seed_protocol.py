"""The seed protocol adapter: how the live session's events become `/stream/transcribe` messages."""

from __future__ import annotations

import pytest

from voxtral_gateway.errors import AudioUndecodable, GatewayError, Overloaded, UpstreamTimeout
from voxtral_gateway.routes.seed.stream_protocol import StartRequired, error_message
from voxtral_gateway.services.live import Error, limits
from voxtral_gateway.services.live.config import StreamConfig

CONFIG = StreamConfig(idle_timeout_seconds=30, max_message_bytes=1 << 20, max_audio_seconds=60)


@pytest.mark.parametrize(
    ("error", "code", "close_code", "message"),
    [
        (
            limits.shutting_down(),
            "shutting_down",
            1001,
            "the server is shutting down: the audio received so far is transcribed above; reconnect to go on",
        ),
        (
            limits.idle_timeout(CONFIG),
            "idle_timeout",
            1008,
            "nothing was received for 30 s (STREAM_IDLE_TIMEOUT_SECONDS); the stream is closed",
        ),
        (
            limits.message_too_big(2_000_000, CONFIG),
            "message_too_big",
            1009,
            "a message of 2000000 bytes is over the limit of 1048576 bytes (STREAM_MAX_MESSAGE_BYTES)",
        ),
        (
            limits.audio_too_long(CONFIG),
            "audio_too_long",
            1008,
            "the stream passed 60 s of audio (STREAM_MAX_AUDIO_SECONDS); audio after that was not transcribed",
        ),
        (StartRequired("binary frames need a `start` message first"), "start_required", 1008, None),
        (AudioUndecodable("not audio"), "audio_undecodable", 1003, None),
        (GatewayError("internal error: KeyError"), "internal_error", 1011, None),
        (Overloaded("the decode pool is busy"), "overloaded", 1011, None),
    ],
)
def test_a_fatal_error_keeps_its_code_text_and_close_code(error, code, close_code, message):
    wire = error_message(Error(error=error, fatal=True, mark=4))
    assert (wire.code, wire.close_code, wire.severity, wire.chunk_id) == (code, close_code, "fatal", 4)
    assert wire.message == (message or error.message)


def test_a_failed_segment_is_an_error_naming_the_segment_and_the_stream_goes_on():
    wire = error_message(Error(error=UpstreamTimeout("the model took too long"), segment_id=3, mark=9))
    assert wire.severity == "error" and wire.close_code is None
    assert (wire.code, wire.segment_id, wire.chunk_id) == ("upstream_timeout", 3, 9)
    assert wire.message == "segment 3 could not be transcribed: the model took too long"
