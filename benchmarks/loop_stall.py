"""P12: how long the worker's event loop stalls while it serves one 40-minute chat request.

Four 10-minute 16 kHz mono WAVs (19 MB each) as OpenAI `input_audio` parts of one
`POST /v1/chat/completions` (a 102 MB body): the gateway parses the body, decodes the audio and
sends vLLM its own 102 MB body. Meanwhile a client asks `GET /health/` over and over on one
keep-alive connection; that answer comes from the event loop alone, so its slowest round trip while
the chat is served is the longest the loop was held. The baseline is the slowest round trip over an
equal idle window just after each request. The stand-in vLLM answers at `--speed 100000`, so the
gateway's own work fills the request's time.

    python -m benchmarks.loop_stall
"""

from __future__ import annotations

import base64
import threading
import time

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


class _Probe(threading.Thread):
    """GET /health/ in a loop; each round trip's (start, duration)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                client.get(self.url).raise_for_status()
                self.samples.append((started, time.perf_counter() - started))
                time.sleep(0.001)

    def worst(self, start: float, end: float) -> float:
        """The slowest round trip that was under way at some point in [start, end]."""
        return max(d for s, d in self.samples if s <= end and s + d >= start)


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
    stalls: list[float] = []
    idles: list[float] = []
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
                started = time.perf_counter()
                response = client.post(url, content=body, headers={"Content-Type": "application/json"})
                ended = time.perf_counter()
                response.raise_for_status()
                duration = ended - started
                time.sleep(duration)  # an equal idle window after it, for the baseline
                stalls.append(probe.worst(started, ended))
                idles.append(probe.worst(ended + 0.05, ended + duration))
                durations.append(duration)
        finally:
            probe.stop.set()
            probe.join(30)
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
            goal=f"≤ {GOAL_MS:g} ms",
            passed=ours <= GOAL_MS,
            note=(
                f"median of {RUNS} requests after 1 warm-up; slowest probe {spread([s * 1000 for s in stalls])} ms "
                f"(idle {spread([i * 1000 for i in idles])} ms); the chat took {spread(durations)} s"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
