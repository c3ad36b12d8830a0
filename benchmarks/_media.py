"""Benchmark audio, generated once with the ffmpeg CLI and kept in benchmarks/.cache/."""

from __future__ import annotations

import subprocess
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def _ffmpeg_lavfi(path: Path, graph: str, seconds: float, args: list[str]) -> Path:
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial" + path.suffix)
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            graph,
            "-t",
            f"{seconds}",
            *args,
            str(partial),
        ],
        check=True,
    )
    partial.rename(path)
    return path


def tone_wav(seconds: float, rate: int = 16_000, channels: int = 1) -> Path:
    """A 440 Hz tone as 16-bit PCM WAV."""
    return _ffmpeg_lavfi(
        CACHE / f"tone_{seconds:g}s_{rate}_{channels}ch.wav",
        f"sine=frequency=440:sample_rate={rate}",
        seconds,
        ["-ar", str(rate), "-ac", str(channels), "-c:a", "pcm_s16le"],
    )


def tone_mp3(seconds: float, rate: int = 22_050, bitrate: str = "64k") -> Path:
    """A 440 Hz tone as a mono CBR MP3."""
    return _ffmpeg_lavfi(
        CACHE / f"tone_{seconds:g}s_{rate}_{bitrate}.mp3",
        f"sine=frequency=440:sample_rate={rate}",
        seconds,
        ["-ar", str(rate), "-ac", "1", "-c:a", "libmp3lame", "-b:a", bitrate],
    )


def music_like_mp3(seconds: float, bitrate: str = "128k") -> Path:
    """Pink noise under a tone, 44.1 kHz stereo CBR MP3: every subband busy, as in music."""
    return _ffmpeg_lavfi(
        CACHE / f"noise_{seconds:g}s_{bitrate}.mp3",
        "anoisesrc=color=pink:sample_rate=44100:amplitude=0.25:seed=7,aformat=channel_layouts=stereo",
        seconds,
        ["-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", "7"],
    )


def large_wav(seconds: float, rate: int = 48_000) -> Path:
    """Stereo 16-bit WAV at `rate`: the most bytes per second of audio a client may send."""
    return _ffmpeg_lavfi(
        CACHE / f"noise_{seconds:g}s_{rate}_stereo.wav",
        f"anoisesrc=color=pink:sample_rate={rate}:amplitude=0.25:seed=7,aformat=channel_layouts=stereo",
        seconds,
        ["-ar", str(rate), "-ac", "2", "-c:a", "pcm_s16le"],
    )
