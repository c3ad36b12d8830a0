"""The live-stream configuration (STREAM_* settings → `StreamConfig`). The live session itself is
`services/live/`; the stream decoder is `audio/stream/`; the seed protocol is `routes/seed/`."""

from voxtral_gateway.streaming.config import StreamConfig, stream_config

__all__ = ["StreamConfig", "stream_config"]
