"""The errors that end a live session at one of its limits, worded once for every protocol."""

from __future__ import annotations

from voxtral_gateway.errors import AudioTooLong, MessageTooBig, ShuttingDown, StreamIdle
from voxtral_gateway.services.live.config import StreamConfig


def idle_timeout(config: StreamConfig) -> StreamIdle:
    """Nothing was received for `idle_timeout_seconds`."""
    return StreamIdle(
        f"nothing was received for {config.idle_timeout_seconds:g} s "
        "(STREAM_IDLE_TIMEOUT_SECONDS); the stream is closed"
    )


def client_not_reading(seconds: float, waiting: int) -> StreamIdle:
    """The client read none of the stream's messages for `seconds` (the idle timeout) while `waiting`
    were queued for it."""
    return StreamIdle(
        f"the client read none of the server's messages for {seconds:g} s while {waiting} waited "
        "(STREAM_IDLE_TIMEOUT_SECONDS); the stream is closed",
        details={"waiting_messages": waiting},
    )


def message_too_big(size: int, config: StreamConfig) -> MessageTooBig:
    """One message of `size` bytes is over `max_message_bytes`."""
    return MessageTooBig(
        f"a message of {size} bytes is over the limit of {config.max_message_bytes} bytes "
        "(STREAM_MAX_MESSAGE_BYTES)",
        details={"size_bytes": size, "limit_bytes": config.max_message_bytes},
    )


def shutting_down() -> ShuttingDown:
    """SIGTERM: the session finishes like at any limit."""
    return ShuttingDown(
        "the server is shutting down: the audio received so far is transcribed above; reconnect to go on"
    )


def audio_too_long(config: StreamConfig) -> AudioTooLong:
    """The session passed `max_audio_seconds` of audio."""
    return AudioTooLong(
        f"the stream passed {config.max_audio_seconds:g} s of audio (STREAM_MAX_AUDIO_SECONDS); "
        "audio after that was not transcribed",
        details={"limit_seconds": config.max_audio_seconds},
    )
