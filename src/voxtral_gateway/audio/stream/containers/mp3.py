"""The Xing/Info frame LAME writes first in an MP3: a silent frame carrying the encoder's delay."""

from __future__ import annotations

_TAGS = (b"Xing", b"Info")
_ENCODERS = (b"LAME", b"Lavf", b"Lavc")
_DECODER_DELAY = 529  # samples every MP3 decoder adds (528 + 1, as FFmpeg counts them)


def info_frame_skip(frame: bytes) -> int | None:
    """None when `frame` is audio; else the samples (at the stream's rate) to drop from the start of
    the decoded stream: the encoder's delay plus the decoder's (0 without a LAME tag)."""
    head = frame[:44]
    position = next((head.find(tag) for tag in _TAGS if tag in head), -1)
    if position < 4:
        return None
    flags = int.from_bytes(frame[position + 4 : position + 8], "big")
    offset = position + 8
    offset += 4 if flags & 0x1 else 0  # frame count
    offset += 4 if flags & 0x2 else 0  # byte count
    offset += 100 if flags & 0x4 else 0  # seek table
    offset += 4 if flags & 0x8 else 0  # quality
    if frame[offset : offset + 4] not in _ENCODERS or len(frame) < offset + 24:
        return 0
    delays = int.from_bytes(frame[offset + 21 : offset + 24], "big")
    return (delays >> 12) + _DECODER_DELAY
