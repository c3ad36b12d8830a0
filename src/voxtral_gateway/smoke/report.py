"""What the smoke test prints: a live progress line while a check runs (on a terminal), then one
PASS/FAIL/SKIP line per check with its time, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import AsyncIterator
from typing import Literal, TextIO

import msgspec

Status = Literal["pass", "fail", "skip"]
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_COLOURS = {"pass": "\033[32m", "fail": "\033[31m", "skip": "\033[33m"}
_RESET = "\033[0m"


class CheckResult(msgspec.Struct, kw_only=True):
    name: str
    status: Status
    seconds: float
    detail: str


class Report:
    def __init__(self, total: int, out: TextIO = sys.stdout):
        self.total = total
        self.out = out
        self.interactive = out.isatty()
        self.results: list[CheckResult] = []

    def header(self, url: str, clip_source: str) -> None:
        self._write(f"voxtral-gateway smoke test → {url}\nclip: {clip_source}\n")

    @contextlib.asynccontextmanager
    async def running(self, name: str) -> AsyncIterator[None]:
        """Shows `[n/total] name … 1.2 s` while the block runs (a terminal only)."""
        position = len(self.results) + 1
        started = time.perf_counter()
        ticker = asyncio.create_task(self._tick(position, name, started)) if self.interactive else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                self._write("\r\033[K")

    async def _tick(self, position: int, name: str, started: float) -> None:
        for frame in itertools.cycle(_SPINNER):
            elapsed = time.perf_counter() - started
            self._write(f"\r\033[K{frame} [{position}/{self.total}] {name} … {elapsed:.1f} s")
            await asyncio.sleep(0.1)

    def add(self, result: CheckResult) -> None:
        self.results.append(result)
        label = result.status.upper()
        if self.interactive:
            label = f"{_COLOURS[result.status]}{label}{_RESET}"
        position = f"[{len(self.results)}/{self.total}]"
        self._write(f"{label}  {position:>7} {result.name:<11} {result.seconds:7.2f} s  {result.detail}\n")

    def summary(self, seconds: float) -> bool:
        """Prints the totals; True when nothing failed."""
        counts = {
            status: sum(r.status == status for r in self.results) for status in ("pass", "fail", "skip")
        }
        verdict = "FAILED" if counts["fail"] else "OK"
        self._write(
            f"{verdict}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
            f"in {seconds:.1f} s\n"
        )
        return counts["fail"] == 0

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
