"""P1: latency the gateway adds to `POST /transcribe/` for a 10 s clip, decoding excluded.

Baseline: the same WAV sent straight to the stand-in vLLM's `/v1/audio/transcriptions`, the request
the gateway itself makes. Gateway and direct requests alternate on two keep-alive connections, one
at a time, so drift on a shared machine hits both alike. Ours is the client-measured latency minus
the `decode` the gateway reports in Server-Timing (decoding is P2's business); the figure is the
median of the per-pair differences.

    python -m benchmarks.overhead
"""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
import msgspec

from benchmarks._media import tone_wav
from benchmarks._report import Row, print_rows
from benchmarks._servers import gateway, standin_vllm
from benchmarks._stats import median, percentile

CLIP_SECONDS = 10
WARMUP = 8
PAIRS = 40
GOAL_MS = 1.0
# What the gateway sends upstream besides the file.
FORM_FIELDS = (
    ("model", "mistralai/Voxtral-Mini-3B-2507"),
    ("response_format", "json"),
    ("temperature", "0.0"),
    ("language", "en"),
)


def server_timing(header: str) -> dict[str, float]:
    """`name;dur=1.5, other;dur=2` → {"name": 1.5, "other": 2.0} (milliseconds)."""
    metrics: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            if param.startswith("dur="):
                metrics[name] = float(param[4:])
    return metrics


class Sample(msgspec.Struct, frozen=True):
    """One pair, in milliseconds."""

    gateway: float
    """Client-measured latency through the gateway, minus its reported `decode`."""
    direct: float
    """The same request straight to the stand-in."""
    decode: float
    queue: float
    upstream: float


async def _measure(gateway_url: str, upstream_url: str) -> list[Sample]:
    wav = tone_wav(CLIP_SECONDS).read_bytes()
    gateway_body = msgspec.json.encode(
        {"audio_file": base64.b64encode(wav).decode(), "format": "wav", "language": "en"}
    )
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=1)
    async with (
        aiohttp.ClientSession(connector=connector) as to_gateway,
        aiohttp.ClientSession() as to_upstream,
    ):

        async def via_gateway() -> tuple[float, dict[str, float]]:
            started = time.perf_counter()
            async with to_gateway.post(
                f"{gateway_url}/transcribe/", data=gateway_body, headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"gateway answered {response.status}")
                timing = server_timing(response.headers["Server-Timing"])
            return elapsed * 1000, timing

        async def straight() -> float:
            # Built per request, as the gateway builds its own.
            form = aiohttp.FormData()
            form.add_field("file", wav, filename="audio.wav", content_type="audio/wav")
            for name, value in FORM_FIELDS:
                form.add_field(name, value)
            started = time.perf_counter()
            async with to_upstream.post(f"{upstream_url}/v1/audio/transcriptions", data=form) as response:
                await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"stand-in answered {response.status}")
            return elapsed * 1000

        for _ in range(WARMUP):
            await via_gateway()
            await straight()
        for index in range(PAIRS):
            # Alternate which goes first, so neither always follows the other.
            if index % 2:
                base = await straight()
                total, timing = await via_gateway()
            else:
                total, timing = await via_gateway()
                base = await straight()
            decoded = timing.get("decode", 0.0)
            samples.append(
                Sample(
                    gateway=total - decoded,
                    direct=base,
                    decode=decoded,
                    queue=timing.get("queue", 0.0),
                    upstream=timing.get("upstream", 0.0),
                )
            )
    return samples


def run() -> list[Row]:
    with standin_vllm() as upstream_url, gateway(upstream_url) as gw:
        samples = asyncio.run(_measure(gw.base_url, upstream_url))
    added = [sample.gateway - sample.direct for sample in samples]
    p50 = median(added)
    return [
        Row(
            id="P1",
            figure=f"added latency, POST /transcribe/ ({CLIP_SECONDS} s WAV), decode excluded, p50",
            ours=f"{median([s.gateway for s in samples]):.2f} ms",
            baseline=f"{median([s.direct for s in samples]):.2f} ms (straight to stand-in)",
            ratio=f"{p50:+.2f} ms",
            goal=f"≤ {GOAL_MS:g} ms",
            passed=p50 <= GOAL_MS,
            note=(
                f"{PAIRS} alternating pairs after {WARMUP} warm-up; added p90 {percentile(added, 0.9):+.2f} ms; "
                f"p50 of the gateway's own parts: decode (excluded) {median([s.decode for s in samples]):.2f} ms, "
                f"queue {median([s.queue for s in samples]):.2f} ms, its upstream call minus the direct request "
                f"{median([s.upstream - s.direct for s in samples]):+.2f} ms"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
