"""P2: decoding a 30-minute 128 kb/s MP3 to 16 kHz mono float32, against the ffmpeg CLI.

Ours: `decode_audio` (what a decode worker thread runs) on the file's bytes, in this process.
Baseline: `ffmpeg -i in.mp3 -ac 1 -ar 16000 -f f32le` writing raw PCM to /dev/null, process start
included. Runs alternate; each figure is the median wall time (CPU time in the note). The file is
pink noise under a tone, 44.1 kHz stereo, so every MP3 subband carries data, as in music.

    python -m benchmarks.decode_speed
"""

from __future__ import annotations

import resource
import subprocess
import time

from benchmarks._media import music_like_mp3
from benchmarks._report import Row, print_rows
from benchmarks._stats import median, spread
from voxtral_gateway.audio import AudioLimits, decode_audio

SECONDS = 1800
RUNS = 5
GOAL = 1.15


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_ffmpeg(path: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the ffmpeg CLI doing the same conversion."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            path,
            "-ac",
            "1",
            "-ar",
            "16000",
            "-f",
            "f32le",
            "-y",
            "/dev/null",
        ],
        check=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def time_ours(data: bytes, limits: AudioLimits) -> tuple[float, float]:
    cpu = time.thread_time()
    started = time.perf_counter()
    audio = decode_audio(data, "mp3", limits)
    wall = time.perf_counter() - started
    if abs(audio.duration_seconds - SECONDS) > 1:
        raise RuntimeError(f"decoded {audio.duration_seconds} s, expected {SECONDS}")
    return wall, time.thread_time() - cpu


def run() -> list[Row]:
    path = music_like_mp3(SECONDS)
    data = path.read_bytes()
    limits = AudioLimits(max_bytes=len(data), max_duration_seconds=SECONDS + 60)
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    time_ours(data, limits)  # warm-up: imports, page cache
    for index in range(RUNS):
        # Alternate which goes first, so neither always runs on a warmer cache.
        if index % 2:
            base.append(time_ffmpeg(str(path)))
            ours.append(time_ours(data, limits))
        else:
            ours.append(time_ours(data, limits))
            base.append(time_ffmpeg(str(path)))
    ours_wall, base_wall = median([w for w, _ in ours]), median([w for w, _ in base])
    ratio = ours_wall / base_wall
    cpu_ratio = median([c for _, c in ours]) / median([c for _, c in base])
    return [
        Row(
            id="P2",
            figure=f"decode + resample to 16 kHz mono, {SECONDS // 60}-min 128 kb/s MP3 ({len(data) / 1e6:.1f} MB)",
            ours=f"{ours_wall:.2f} s",
            baseline=f"{base_wall:.2f} s (ffmpeg CLI → raw PCM)",
            ratio=f"{ratio:.2f}×",
            goal=f"≤ {GOAL}×",
            passed=ratio <= GOAL,
            note=(
                f"median of {RUNS} alternating runs; wall {spread([w for w, _ in ours])} s vs "
                f"{spread([w for w, _ in base])} s; CPU-time ratio {cpu_ratio:.2f}×"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
