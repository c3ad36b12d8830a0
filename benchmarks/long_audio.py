#!/usr/bin/env python3
"""P3: a 30-minute file through the gateway (cut at pauses, segments in parallel) against the same file
sent as one request straight to the stand-in vLLM, in simulated mode, measured in one run; and what the
long file does to short requests arriving while it is in flight.

    .venv/bin/python -m benchmarks.long_audio [--speed 27] [--repeats 1]

The stand-in sleeps audio_seconds / speed per request (27× real time, Voxtral Mini on one GPU) and,
like vLLM's continuous batching, parallel requests do not slow each other (its batch is 256 places,
vLLM's default `--max-num-seqs`; this benchmark sends at most 72 at once). The baseline raises the
stand-in's 600 s cap so the whole file can go as one request (what a client without the gateway would
have to do, with vLLM's limit raised).

Configurations, each a gateway of one worker in front of the same stand-in:
- `defaults`: no settings (SEGMENT_SHARE=8 always; past it, up to 72 — ADMISSION_MAX_IN_FLIGHT=96 less
  a quarter — while the worker has no other backend request);
- `fixed 72`: SEGMENT_SHARE=SEGMENT_CONCURRENCY=72, the same concurrency without the adaptivity;
- `fixed 8`: SEGMENT_CONCURRENCY=8, ADMISSION_MAX_IN_FLIGHT=32, the defaults before.

Mixed load: 10 s clips sent to `POST /transcribe/` every `--clip-interval` seconds, alone (the
baseline), then while the long file is in flight; their p50/p99 latency. Prints markdown tables; exits 1
if the goal (defaults ≥ 12× faster than one request) is missed."""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import msgspec
from tests.support.gateway_process import GatewayProcess

from benchmarks._media import tone_mp3, tone_wav
from benchmarks._servers import standin_vllm
from benchmarks._stats import median, percentile

MODEL = "mistralai/Voxtral-Mini-3B-2507"
SECONDS = 1800.0
GOAL_SPEEDUP = 12.0
CLIP_SECONDS = 10
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "defaults": {},
    "fixed 72": {"SEGMENT_SHARE": "72", "SEGMENT_CONCURRENCY": "72"},
    "fixed 8 (before)": {"SEGMENT_CONCURRENCY": "8", "ADMISSION_MAX_IN_FLIGHT": "32"},
}


class Mixed(msgspec.Struct, frozen=True):
    long_seconds: float | None
    """The long file's time (None: clips alone)."""
    clip_ms: list[float]


def _post_file(base_url: str, path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as handle:
        response = httpx.post(
            f"{base_url}/v1/audio/transcriptions",
            files={"file": (path.name, handle, "audio/mpeg")},
            data={"model": MODEL, "response_format": "json"},
            timeout=600,
        )
    response.raise_for_status()
    return time.perf_counter() - started


def _clips(base_url: str, interval: float, keep_going: Callable[[int], bool]) -> list[float]:
    """10 s clips, one every `interval` s (each on its own thread), while `keep_going(sent so far)`;
    their latencies in milliseconds."""
    body = {"audio_file": base64.b64encode(tone_wav(CLIP_SECONDS).read_bytes()).decode(), "format": "wav"}

    def one() -> float:
        started = time.perf_counter()
        response = httpx.post(f"{base_url}/transcribe/", json=body, timeout=120)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        futures: list[concurrent.futures.Future[float]] = []
        while keep_going(len(futures)):
            futures.append(pool.submit(one))
            time.sleep(interval)
        return [future.result() for future in futures]


def _mixed(base_url: str, audio: Path, interval: float) -> Mixed:
    """Clips sent while the long file is in flight (from 1 s after it was sent, when its segments go)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        long_run = pool.submit(_post_file, base_url, audio)
        time.sleep(1.0)
        clips = _clips(base_url, interval, lambda _: not long_run.done())
        return Mixed(long_seconds=long_run.result(), clip_ms=clips)


def measure(
    speed: float, repeats: int, interval: float
) -> tuple[float, dict[str, list[float]], dict[str, Mixed]]:
    audio = tone_mp3(SECONDS, rate=16_000, bitrate="32k")
    tone_wav(CLIP_SECONDS)
    times: dict[str, list[float]] = {}
    mixed: dict[str, Mixed] = {}
    # In its own process: its decoding of every segment must not share this process's GIL with the
    # clients whose latency is measured.
    with standin_vllm(speed, ("--max-audio-seconds", "1e9", "--max-file-size-mb", "1e6")) as upstream:
        baseline = statistics.median(_post_file(upstream, audio) for _ in range(repeats))
        for name, extra in CONFIGURATIONS.items():
            env = {
                "VOXTRAL_HOST": "127.0.0.1",
                "VOXTRAL_PORT": upstream.rsplit(":", 1)[1],
                "HEALTH_CACHE_SECONDS": "0",
                "WORKERS": "1",
                "RATE_LIMIT_ENABLED": "false",
                **extra,
            }
            with GatewayProcess(env=env) as gateway:
                _post_file(gateway.base_url, tone_wav(CLIP_SECONDS))  # warm-up
                times[name] = [_post_file(gateway.base_url, audio) for _ in range(repeats)]
                if name == "defaults":
                    alone = _clips(gateway.base_url, interval, lambda sent: sent < 30)
                    mixed["clips alone"] = Mixed(long_seconds=None, clip_ms=alone)
                mixed[name] = _mixed(gateway.base_url, audio, interval)
    return baseline, times, mixed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=27.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--clip-interval", type=float, default=0.1, help="seconds between short clips")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    baseline, times, mixed = measure(args.speed, args.repeats, args.clip_interval)
    print(
        f"P3: 30-minute MP3, stand-in at {args.speed:g}× real time; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after\n"
    )
    print("| configuration | ours (s) | baseline: one request (s) | speed-up | goal | result |")
    print("|---|---|---|---|---|---|")
    passed = True
    for name, values in times.items():
        ours = statistics.median(values)
        speedup = baseline / ours
        ok = speedup >= GOAL_SPEEDUP if name == "defaults" else None
        passed &= ok is not False
        goal = f"≥ {GOAL_SPEEDUP:g}×" if ok is not None else "—"
        verdict = "—" if ok is None else ("pass" if ok else "FAIL")
        print(f"| {name} | {ours:.2f} | {baseline:.2f} | {speedup:.1f}× | {goal} | {verdict} |")
    print(
        f"\nMixed load: {CLIP_SECONDS} s WAV clips to POST /transcribe/, one every {args.clip_interval:g} s, "
        "while the 30-minute file is in flight\n"
    )
    print("| configuration | long file (s) | clips | clip p50 (ms) | clip p99 (ms) | p50 vs alone |")
    print("|---|---|---|---|---|---|")
    alone = median(mixed["clips alone"].clip_ms)
    for name, run in mixed.items():
        long_text = "—" if run.long_seconds is None else f"{run.long_seconds:.2f}"
        if not run.clip_ms:
            print(f"| {name} | {long_text} | 0 | — | — | — |")
            continue
        p50 = median(run.clip_ms)
        print(
            f"| {name} | {long_text} | {len(run.clip_ms)} | {p50:.0f} | {percentile(run.clip_ms, 0.99):.0f} | "
            f"{p50 / alone:.2f}× |"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
