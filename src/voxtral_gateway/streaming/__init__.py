"""Live transcription: an incremental audio decoder, a VAD segmenter cutting the stream into utterances,
chunk ordering, and the session that turns a stream of messages into partials, finals and `done`."""

from voxtral_gateway.streaming.config import StreamConfig, stream_config
from voxtral_gateway.streaming.decoder import AudioStreamDecoder
from voxtral_gateway.streaming.formats import STREAMABLE
from voxtral_gateway.streaming.ordering import ChunkSequencer
from voxtral_gateway.streaming.segmenter import Utterance, UtteranceSegmenter
from voxtral_gateway.streaming.session import Close, Inbound, StreamSession
from voxtral_gateway.streaming.stats import LatencyHistogram

__all__ = [
    "STREAMABLE",
    "AudioStreamDecoder",
    "ChunkSequencer",
    "Close",
    "Inbound",
    "LatencyHistogram",
    "StreamConfig",
    "StreamSession",
    "Utterance",
    "UtteranceSegmenter",
    "stream_config",
]
