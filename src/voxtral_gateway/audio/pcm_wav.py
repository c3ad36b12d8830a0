"""The cheap path: a WAV that is already what the models take (16 kHz, mono, 16-bit PCM) needs no
decoding, resampling or re-encoding. Its header is read and checked here, its samples are taken as they
are, and the PCM bytes go to vLLM unchanged (`backends.multipart.pcm_wav_form`).

Every check of the full decode is still made: the RIFF/WAVE structure and `fmt ` chunk, rate and
channels (`check_source_format`), the declared duration against the limit, and the declared data size
against the bytes really present (a truncated file is refused with the same message). Anything else —
another rate, stereo, 8/24/32-bit or float samples, WAVE_FORMAT_EXTENSIBLE, a malformed header — returns
None and takes the full decode."""

from __future__ import annotations

import struct

import msgspec
import numpy as np

from voxtral_gateway.audio.limits import (
    TARGET_SAMPLE_RATE,
    AudioLimits,
    check_decoded,
    check_duration,
    check_source_format,
)

_PCM = 1
_BYTES_PER_SAMPLE = 2
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})
_SCALE = np.float32(1 / 32768)


class PcmWav(msgspec.Struct, kw_only=True, frozen=True):
    """Where a 16 kHz mono 16-bit WAV's samples are, and what its header declares."""

    data_offset: int
    present_bytes: int
    """PCM bytes in the file (the declared size, or fewer when the file is cut short), whole samples."""
    declared_bytes: int | None
    """The `data` chunk's size, None when a streaming writer left it unknown."""


def find_pcm16_mono(
    data: bytes | bytearray | memoryview, sample_rate: int = TARGET_SAMPLE_RATE
) -> PcmWav | None:
    """The `data` chunk of a canonical PCM WAV at `sample_rate`, mono, 16-bit; None for anything else."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    offset = 12
    fmt_ok = False
    while offset + 8 <= len(data):
        chunk_id = bytes(data[offset : offset + 4])
        (size,) = struct.unpack_from("<I", data, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                return None
            tag, channels, rate, byte_rate, align, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt_ok = (tag, channels, rate, bits, align, byte_rate) == (
                _PCM,
                1,
                sample_rate,
                16,
                _BYTES_PER_SAMPLE,
                sample_rate * _BYTES_PER_SAMPLE,
            )
            if not fmt_ok:
                return None
        elif chunk_id == b"data":
            if not fmt_ok:
                return None
            available = len(data) - body
            declared = None if size in _UNKNOWN_SIZES else size
            present = available if declared is None else min(declared, available)
            return PcmWav(
                data_offset=body,
                present_bytes=present - present % _BYTES_PER_SAMPLE,
                declared_bytes=declared,
            )
        offset = body + size + (size & 1)
    return None


def read_pcm16_mono(data: bytes | bytearray, limits: AudioLimits) -> tuple[np.ndarray, memoryview] | None:
    """Float32 samples and the untouched PCM bytes of a canonical 16 kHz mono 16-bit WAV, after the
    same checks the full decode makes; None when the file is anything else (decode it fully)."""
    found = find_pcm16_mono(data)
    if found is None:
        return None
    check_source_format(TARGET_SAMPLE_RATE, 1, limits)
    bytes_per_second = TARGET_SAMPLE_RATE * _BYTES_PER_SAMPLE
    declared = None if found.declared_bytes is None else found.declared_bytes / bytes_per_second
    present = found.present_bytes / bytes_per_second
    check_duration(max(declared or 0.0, present), limits)
    check_decoded(declared, present, "wav", limits)
    pcm = memoryview(data)[found.data_offset : found.data_offset + found.present_bytes]
    samples = np.multiply(np.frombuffer(pcm, dtype="<i2"), _SCALE, dtype=np.float32)
    return samples, pcm
