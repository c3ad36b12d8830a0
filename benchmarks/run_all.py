"""Run every benchmark and print the performance table (markdown).

    .venv/bin/python -m benchmarks                 # everything, a few minutes
    .venv/bin/python -m benchmarks --only P1,P7    # some rows
    .venv/bin/python -m benchmarks.overhead        # one benchmark alone

A benchmark is a module of this package with `run() -> list[Row]` (`benchmarks._report.Row`; it may
return sub-rows besides its own) and, to run alone, `if __name__ == "__main__": print_rows(run())`.
The slots below say which module fills which row; a module that does not exist yet leaves its rows
"not yet", so a row lands by adding its file. A module with only a `main()` that prints its own table
is run as a script: its exit status is the row's result, and what it printed follows the table."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from benchmarks._report import Row, markdown_table, not_yet, notes

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_TIMEOUT_SECONDS = 900


class Slot(msgspec.Struct, frozen=True):
    id: str
    module: str
    figure: str
    goal: str


SLOTS = (
    Slot(
        "P1",
        "overhead",
        "added latency of a 10 s transcription beside LiteLLM's proxy (WAV, MP3) and over the stack's floor",
        "P1a ≤ 0.4× LiteLLM, P1b ≤ 1.0×, P1c ≤ 0.5 ms",
    ),
    Slot("P2", "decode_speed", "decode + resample of a 30-minute 128 kb/s MP3 vs ffmpeg CLI", "≤ 1.15×"),
    Slot("P3", "long_audio", "long-audio fan-out", "from its issue"),
    Slot("P4", "stream_load", "concurrent WebSocket streams", "from its issue"),
    Slot("P5", "upload_memory", "peak RSS above idle serving one 100 MB upload vs its size", "≤ 2.5×"),
    Slot("P6", "ratelimit_cost", "rate limiter cost", "from its issue"),
    Slot("P7", "health_rps", "GET /health/ req/s (keep-alive, 64 connections) vs bare granian", "≥ 0.5×"),
    Slot("P8", "memory_growth", "memory after 10,000 mixed requests vs after 100", "no growth beyond noise"),
    Slot(
        "P9",
        "jobs_throughput",
        "200 queued one-minute jobs: 3 gateway instances vs 1 (× 2 job workers)",
        "≥ 2.5×",
    ),
    Slot("P10", "first_text", "time to first text of a 30 s clip: streamed vs per segment", "earlier"),
    Slot("P11", "realtime_load", "realtime protocols (OpenAI, Mistral) under load", "from its issue"),
    Slot("P12", "loop_stall", "event-loop stall while one 40-minute chat (102 MB body) is served", "≤ 50 ms"),
)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), ""
            )
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({model or platform.machine()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average at start {load}"
    )


def _run_module(name: str, slots: list[Slot]) -> tuple[list[Row], str]:
    """The module's rows (all it returns: it may add sub-rows), and any output to show below the table."""
    if importlib.util.find_spec(f"benchmarks.{name}") is None:
        return [not_yet(slot.id, slot.figure, slot.goal) for slot in slots], ""
    started = time.monotonic()
    print(f"… {name} ({', '.join(slot.id for slot in slots)})", file=sys.stderr, flush=True)
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        if hasattr(module, "run"):
            rows, output = module.run(), ""
        else:
            rows, output = _run_script(name, slots)
    except Exception as exc:  # one broken benchmark must not hide the others' rows
        traceback.print_exc()
        rows, output = [_failed(slot, f"{type(exc).__name__}: {exc}") for slot in slots], ""
    print(f"  done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return rows, output


def _run_script(name: str, slots: list[Slot]) -> tuple[list[Row], str]:
    """A benchmark that prints its own table from `main()`: run it as a script and keep what it printed;
    its exit status (0 pass, 1 fail) is the row's result."""
    command = [sys.executable, "-m", f"benchmarks.{name}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_SECONDS)
    passed = {0: True, 1: False}.get(done.returncode)
    rows = [
        Row(id=slot.id, figure=slot.figure, ours="see below", baseline="—", ratio="—", goal=slot.goal,
            passed=passed, note="" if passed is not None else f"exit status {done.returncode}: {done.stderr[-300:]}")
        for slot in slots
    ]  # fmt: skip
    return (
        rows,
        f"### {', '.join(slot.id for slot in slots)}: `python -m benchmarks.{name}`\n\n{done.stdout.strip()}",
    )


def _failed(slot: Slot, reason: str) -> Row:
    return Row(
        id=slot.id,
        figure=slot.figure,
        ours="error",
        baseline="—",
        ratio="—",
        goal=slot.goal,
        passed=None,
        note=reason,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and print the performance table.")
    parser.add_argument("--only", help="comma-separated row ids, e.g. P1,P7")
    args = parser.parse_args(argv)
    wanted = {part.strip().upper() for part in args.only.split(",")} if args.only else {s.id for s in SLOTS}
    header = f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC."
    started = time.monotonic()
    rows: list[Row] = []
    outputs: list[str] = []
    for name in dict.fromkeys(slot.module for slot in SLOTS if slot.id in wanted):
        module_rows, output = _run_module(
            name, [slot for slot in SLOTS if slot.module == name and slot.id in wanted]
        )
        rows.extend(module_rows)
        outputs.extend([output] if output else [])
    print(header)
    print()
    print(markdown_table(rows))
    if text := notes(rows):
        print()
        print(text)
    for output in outputs:
        print()
        print(output)
    print()
    print(f"Total {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
