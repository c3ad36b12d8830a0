"""Audio in and out: sniff the container, decode a file or a live stream to 16 kHz mono, check the
source's format, find speech (VAD), encode WAV for upstreams. Knows nothing of HTTP, schemas or
backends."""

from voxtral_gateway.audio.decode import DecodedAudio, SourceInfo, decode_audio
from voxtral_gateway.audio.encode import encode_wav
from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE, AudioLimits, check_source_format
from voxtral_gateway.audio.sniff import new_file_container, sniff_container

__all__ = [
    "TARGET_SAMPLE_RATE",
    "AudioLimits",
    "DecodedAudio",
    "SourceInfo",
    "check_source_format",
    "decode_audio",
    "encode_wav",
    "new_file_container",
    "sniff_container",
]
