"""Incremental decoding of a live audio stream (bytes cut anywhere) to 16 kHz mono int16 samples:
`AudioStreamDecoder` picks a container decoder (`formats.py`) from the first bytes."""

from voxtral_gateway.audio.stream.codecs import UnsupportedStreamFormat
from voxtral_gateway.audio.stream.decoder import PCM_FORMATS, AudioStreamDecoder
from voxtral_gateway.audio.stream.formats import STREAMABLE, ContainerDecoder

__all__ = ["PCM_FORMATS", "STREAMABLE", "AudioStreamDecoder", "ContainerDecoder", "UnsupportedStreamFormat"]
