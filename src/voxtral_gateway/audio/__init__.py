"""Audio in and out: sniff the container, decode to 16 kHz mono float32, encode WAV for upstreams."""

from voxtral_gateway.audio.decode import AudioLimits, DecodedAudio, SourceInfo, decode_audio
from voxtral_gateway.audio.encode import encode_wav
from voxtral_gateway.audio.sniff import sniff_container

TARGET_SAMPLE_RATE = 16_000

__all__ = [
    "TARGET_SAMPLE_RATE",
    "AudioLimits",
    "DecodedAudio",
    "SourceInfo",
    "decode_audio",
    "encode_wav",
    "sniff_container",
]
