"""Incremental decoding of a live audio stream (bytes cut anywhere) to 16 kHz mono int16 samples:
`AudioStreamDecoder` picks a container decoder (`formats.py`) from the first bytes."""

from voxtral_gateway.audio.stream.codecs import UnsupportedStreamFormat
from voxtral_gateway.audio.stream.decoder import PCM_FORMATS, AudioStreamDecoder
from voxtral_gateway.audio.stream.formats import STREAMABLE, ContainerDecoder
from voxtral_gateway.audio.stream.raw_pcm import RAW_PCM_ENCODINGS

__all__ = [
    "PCM_FORMATS",
    "RAW_PCM_ENCODINGS",
    "STREAMABLE",
    "AudioStreamDecoder",
    "ContainerDecoder",
    "UnsupportedStreamFormat",
]
