"""Encode decoded audio compactly for an upstream model server."""

from __future__ import annotations

import struct

import numpy as np

WAV_HEADER_BYTES = 44
# Samples converted per step: the scratch stays small (256 KiB of float32) whatever the audio's length.
_STEP_SAMPLES = 64 * 1024


def encode_wav(
    samples: np.ndarray, sample_rate: int, *, prefix: bytes = b"", suffix: bytes = b""
) -> bytearray:
    """16-bit PCM mono WAV of float32 samples in [-1, 1], between `prefix` and `suffix`.

    The PCM is written straight into the one output buffer (no clipped, scaled, converted and
    joined copies of the whole clip); `prefix`/`suffix` let a caller frame it, e.g. as a multipart
    part, without another copy. The samples are the same as `(clip(x, -1, 1) * 32767).astype(int16)`."""
    count = len(samples)
    data_size = count * 2
    start = len(prefix) + WAV_HEADER_BYTES
    out = bytearray(start + data_size + len(suffix))
    out[: len(prefix)] = prefix
    write_wav_header(out, len(prefix), sample_rate, data_size)
    pcm = np.frombuffer(out, dtype="<i2", count=count, offset=start)
    scratch = np.empty(min(count, _STEP_SAMPLES), dtype=samples.dtype)
    for begin in range(0, count, _STEP_SAMPLES):
        chunk = samples[begin : begin + _STEP_SAMPLES]
        step = scratch[: len(chunk)]
        np.clip(chunk, -1.0, 1.0, out=step)
        step *= 32767.0
        # Truncating float → int16, as astype does (NaN included: same cast, same result).
        np.copyto(pcm[begin : begin + len(chunk)], step, casting="unsafe")
    del pcm  # a live view would pin the buffer's size
    out[start + data_size :] = suffix
    return out


def write_wav_header(out: bytearray, offset: int, sample_rate: int, data_size: int) -> None:
    """The 44-byte header of a 16-bit PCM mono WAV with `data_size` bytes of samples, at `offset`."""
    struct.pack_into(
        "<4sI4s4sIHHIIHH4sI",
        out,
        offset,
        b"RIFF",
        36 + data_size,
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data_size,
    )
