"""Read what a WAV file's header declares, which FFmpeg clamps to the bytes present."""

from __future__ import annotations

import struct

# Streaming writers leave the size unknown with one of these.
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})


def declared_wav_seconds(data: bytes) -> float | None:
    """Seconds of audio the RIFF `data` chunk declares, or None when the header does not say."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt " and body + 12 <= len(data):
            (byte_rate,) = struct.unpack_from("<I", data, body + 8)
        elif chunk_id == b"data":
            if size in _UNKNOWN_SIZES or byte_rate == 0:
                return None
            return size / byte_rate
        offset = body + size + (size & 1)
    return None
