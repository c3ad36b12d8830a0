"""Process memory from /proc (Linux): resident set size, its peak, and a poller for the peak."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def rss_bytes(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the highest RSS since start or since `reset_peak_rss`."""
    return _status_kib(pid, "VmHWM") * 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, needs permission); False if it could not."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _is_resource_tracker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing.resource_tracker" in command


def worker_pid(server_pid: int, timeout: float = 10.0) -> int:
    """The one granian worker process under `server_pid` (granian runs workers as children; spawned
    workers come with multiprocessing's resource tracker, a child too, which is not one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [kid for kid in children(server_pid) if not _is_resource_tracker(kid)]
        if len(kids) == 1:
            return kids[0]
        time.sleep(0.05)
    raise RuntimeError(f"expected one worker process under {server_pid}, found {children(server_pid)}")


class RssPoller:
    """Polls a process's RSS every `interval` seconds on a thread, keeping the highest seen."""

    def __init__(self, pid: int, interval: float = 0.001):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rss-poller", daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(self.interval)

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))
