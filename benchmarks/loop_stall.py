"""P12: how long the worker's event loop stalls while it serves one 40-minute chat request.

Four 10-minute 16 kHz mono WAVs (19 MB each) as OpenAI `input_audio` parts of one
`POST /v1/chat/completions` (a 102 MB body): the gateway parses the body, decodes the audio and
sends vLLM its own 102 MB body. Meanwhile a client asks `GET /health/` over and over on one
keep-alive connection; that answer comes from the event loop alone, so its slowest round trip while
the chat is served (and half a second after) is the longest the loop was held. The baseline is the
slowest round trip over a 3 s idle window just before each request. The stand-in vLLM answers at `--speed 100000`, so the
gateway's own work fills the request's time.

    python -m benchmarks.loop_stall
"""

from __future__ import annotations

import base64
import multiprocessing
import time
from typing import Any

import httpx
import msgspec

from benchmarks._media import tone_wav
from benchmarks._report import Row, print_rows
from benchmarks._servers import gateway, standin_vllm
from benchmarks._stats import median, spread

FILES = 4
FILE_SECONDS = 600
RUNS = 3
GOAL_MS = 50.0
IDLE_SECONDS = 3.0
AFTER_SECONDS = 0.5


class _Probe:
    """GET /health/ in a loop, in a process of its own (a thread here would share this process's GIL
    with the client sending the 102 MB body); each round trip's (start, duration)."""

    def __init__(self, url: str):
        context = multiprocessing.get_context("fork")
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_probe, args=(url, self._stop, send), daemon=True)
        self.samples: list[tuple[float, float]] = []

    def start(self) -> None:
        self._process.start()

    def finish(self) -> None:
        self._stop.set()
        self.samples = self._receive.recv()
        self._process.join(30)

    def worst(self, start: float, end: float) -> float:
        """The slowest round trip that was under way at some point in [start, end]."""
        return max(d for s, d in self.samples if s <= end and s + d >= start)


def _probe(url: str, stop: Any, send: Any) -> None:
    samples: list[tuple[float, float]] = []
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
            client.get(url).raise_for_status()
            samples.append((started, time.perf_counter() - started))
            time.sleep(0.001)
    send.send(samples)


def _body() -> bytes:
    data = base64.b64encode(tone_wav(FILE_SECONDS).read_bytes()).decode("ascii")
    part = msgspec.json.encode(
        {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
    ).decode()
    parts = ", ".join([part] * FILES + ['{"type": "text", "text": "What is this?"}'])
    return (
        '{"model": "mistralai/Voxtral-Mini-3B-2507", "max_tokens": 20, '
        f'"messages": [{{"role": "user", "content": [{parts}]}}]}}'
    ).encode()


def run() -> list[Row]:
    body = _body()
    request_windows: list[tuple[float, float]] = []
    idle_windows: list[tuple[float, float]] = []
    durations: list[float] = []
    with (
        standin_vllm(speed=100_000) as upstream_url,
        gateway(upstream_url) as gw,
        httpx.Client(timeout=600) as client,
    ):
        url = f"{gw.base_url}/v1/chat/completions"
        probe = _Probe(f"{gw.base_url}/health/")
        probe.start()
        try:
            client.post(url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
            for _ in range(RUNS):
                idle_from = time.perf_counter()
                time.sleep(IDLE_SECONDS)
                idle_windows.append((idle_from, time.perf_counter()))
                started = time.perf_counter()
                response = client.post(url, content=body, headers={"Content-Type": "application/json"})
                ended = time.perf_counter()
                response.raise_for_status()
                time.sleep(AFTER_SECONDS)  # freeing the request's buffers is part of serving it
                request_windows.append((started, ended + AFTER_SECONDS))
                durations.append(ended - started)
        finally:
            probe.finish()
    stalls = [probe.worst(*window) for window in request_windows]
    idles = [probe.worst(*window) for window in idle_windows]
    ours, baseline = median(stalls) * 1000, median(idles) * 1000
    return [
        Row(
            id="P12",
            figure=(
                f"event-loop stall: slowest GET /health/ while one {FILES * FILE_SECONDS // 60}-minute chat "
                f"({len(body) / 1e6:.0f} MB body) is served"
            ),
            ours=f"{ours:.1f} ms",
            baseline=f"{baseline:.1f} ms (idle)",
            ratio=f"+{ours - baseline:.1f} ms",
            goal=f"≤ {GOAL_MS:g} ms over idle",
            passed=ours - baseline <= GOAL_MS,
            note=(
                f"median of {RUNS} requests after 1 warm-up; slowest probe {spread([s * 1000 for s in stalls])} ms "
                f"(idle {spread([i * 1000 for i in idles])} ms); the chat took {spread(durations)} s"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
