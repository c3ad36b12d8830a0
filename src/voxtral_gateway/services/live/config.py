"""The knobs of one live stream, from the settings (STREAM_*) and fixed engineering choices."""

from __future__ import annotations

import msgspec

from voxtral_gateway.audio.vad import EndpointRules
from voxtral_gateway.settings import StreamSettings


class StreamConfig(msgspec.Struct, kw_only=True, frozen=True):
    endpoint: EndpointRules = EndpointRules()
    partial_interval_seconds: float = 1.0
    """New audio in the open utterance between partials; 0 disables them."""
    max_message_bytes: int = 1 << 20
    idle_timeout_seconds: float = 30.0
    max_audio_seconds: float = 1800.0
    reorder_window: int = 8
    max_buffered_seconds: float = 120.0
    reorder_timeout_seconds: float = 2.0
    """How long chunks that arrived after a missing one wait for it before it is declared lost."""
    max_finals_in_flight: int = 4
    """Transcriptions of finished utterances one stream runs at once (the rest wait, in order)."""
    inline_decode_bytes: int = 256 * 1024
    inline_budget_seconds: float = 0.002
    """A message whose decoding + VAD is predicted (from the stream's measured cost per byte) to take
    less than this, and that is at most `inline_decode_bytes`, is handled on the event loop: a thread
    hop costs more than the work. Anything bigger goes to the decode pool."""
    initial_seconds_per_byte: float = 2e-7
    """The prediction before anything is measured: MP3's cost (Opus at 48 kHz stereo costs 5× more per
    byte, PCM 20× less); a first chunk of the usual few kilobytes is handled inline, then it is measured."""
    read_ahead_messages: int = 4
    """Messages received but not yet processed; past this the socket is not read (backpressure)."""
    outbox_messages: int = 256
    """Messages waiting to be written to the client past which no more input is processed: a client
    that does not read is not read either (backpressure; `routes/live/outbox.py`)."""
    overloaded_retry_seconds: float = 0.2
    """Wait before retrying a transcription the backend refused as overloaded (its queue was full)."""
    overloaded_max_wait_seconds: float = 30.0


def stream_config(settings: StreamSettings) -> StreamConfig:
    """The stream configuration the STREAM_* settings describe."""
    return StreamConfig(
        endpoint=EndpointRules(
            silence_seconds=settings.silence_seconds,
            max_region_seconds=settings.max_utterance_seconds,
        ),
        partial_interval_seconds=settings.partial_interval_seconds,
        max_message_bytes=settings.max_message_bytes,
        idle_timeout_seconds=settings.idle_timeout_seconds,
        max_audio_seconds=settings.max_audio_seconds,
        reorder_window=settings.reorder_window,
        max_buffered_seconds=settings.max_buffered_seconds,
    )
