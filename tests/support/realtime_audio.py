"""Speech as the realtime protocols' clients send it: raw PCM in a given encoding and rate (ffmpeg)."""

from __future__ import annotations

import subprocess
from pathlib import Path

_FFMPEG_CODEC = {
    "pcm_s16le": ("s16le", "pcm_s16le"),
    "pcm_s32le": ("s32le", "pcm_s32le"),
    "pcm_f32le": ("f32le", "pcm_f32le"),
    "pcm_mulaw": ("mulaw", "pcm_mulaw"),
    "pcm_alaw": ("alaw", "pcm_alaw"),
}


def raw_audio(path: Path, rate: int, encoding: str = "pcm_s16le") -> bytes:
    """The audio of `path` as headerless mono `encoding` at `rate` (pcm_f16le: converted from f32)."""
    if encoding == "pcm_f16le":
        import numpy as np

        return np.frombuffer(raw_audio(path, rate, "pcm_f32le"), dtype="<f4").astype("<f2").tobytes()
    fmt, codec = _FFMPEG_CODEC[encoding]
    return subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-f",
            fmt,
            "-c:a",
            codec,
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout


def bytes_per_second(rate: int, encoding: str) -> int:
    width = {"pcm_s16le": 2, "pcm_s32le": 4, "pcm_f16le": 2, "pcm_f32le": 4, "pcm_mulaw": 1, "pcm_alaw": 1}
    return rate * width[encoding]
