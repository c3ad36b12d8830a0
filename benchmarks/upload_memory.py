"""P5: how much the gateway's resident memory rises while it serves one 100 MB upload.

The upload is a 9.1-minute 48 kHz stereo 16-bit WAV (104.8 MB, just under MAX_FILE_SIZE_MB=100
MiB and well within the 30-minute limit), sent as base64 JSON to `POST /transcribe/` (a 140 MB
body). The gateway worker's peak RSS comes from /proc: VmHWM after resetting it
(`clear_refs`), and a 1 ms RSS poll as a cross-check; "above idle" subtracts the RSS just before
the request, after warm-up requests. The figure is the median over runs, as a multiple of the
file's size.

    python -m benchmarks.upload_memory
"""

from __future__ import annotations

import base64

import httpx

from benchmarks._media import large_wav, tone_wav
from benchmarks._proc import RssPoller, peak_rss_bytes, reset_peak_rss, rss_bytes, worker_pid
from benchmarks._report import Row, print_rows
from benchmarks._servers import gateway, standin_vllm
from benchmarks._stats import median, spread

SECONDS = 546
RUNS = 3
GOAL = 2.5
MB = 1_000_000


def _body(audio: bytes) -> bytes:
    return b'{"audio_file":"' + base64.b64encode(audio) + b'","format":"wav","language":"en"}'


def measure_upload(client: httpx.Client, url: str, body: bytes, pid: int) -> tuple[int, int]:
    """(peak RSS above idle, idle RSS) in bytes, for one request."""
    idle = rss_bytes(pid)
    exact = reset_peak_rss(pid)
    with RssPoller(pid) as poller:
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
    if response.status_code != 200:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    peak = max(poller.peak, peak_rss_bytes(pid) if exact else 0)
    return peak - idle, idle


def run() -> list[Row]:
    audio = large_wav(SECONDS).read_bytes()
    body = _body(audio)
    small = _body(tone_wav(5, rate=48_000, channels=2).read_bytes())  # warm-up: the same path
    rises: list[float] = []
    idles: list[float] = []
    with standin_vllm() as upstream_url, gateway(upstream_url) as gw, httpx.Client(timeout=300) as client:
        pid = worker_pid(gw.process.pid)
        url = f"{gw.base_url}/transcribe/"
        for _ in range(3):
            client.post(url, content=small, headers={"Content-Type": "application/json"}).raise_for_status()
        for _ in range(RUNS):
            rise, idle = measure_upload(client, url, body, pid)
            rises.append(rise)
            idles.append(idle)
    ratio = median(rises) / len(audio)
    return [
        Row(
            id="P5",
            figure=f"peak RSS above idle serving one {len(audio) / MB:.0f} MB upload (WAV, {len(body) / MB:.0f} MB base64 body)",
            ours=f"{median(rises) / MB:.0f} MB",
            baseline=f"{len(audio) / MB:.0f} MB (the file)",
            ratio=f"{ratio:.2f}×",
            goal=f"≤ {GOAL}×",
            passed=ratio <= GOAL,
            note=(
                f"median of {RUNS} uploads; rise {spread([r / MB for r in rises])} MB over idle "
                f"{spread([i / MB for i in idles])} MB"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
