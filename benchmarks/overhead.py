"""P1: latency the gateway adds to `POST /transcribe/` for a 10 s clip, decoding excluded.

Baseline: the same WAV sent straight to the stand-in vLLM's `/v1/audio/transcriptions`, the request
the gateway itself makes. Gateway and direct requests alternate on keep-alive connections, one at a
time, so drift on a shared machine hits both alike. Ours is the client-measured latency minus the
`decode` the gateway reports in Server-Timing (decoding is P2's business); the figure is the median
of the per-pair differences.

Each round also sends the gateway's request to `minimal_proxy_app` (granian + msgspec + aiohttp and
nothing else): what it adds is the floor of the stack, the least any gateway built on it could add.

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
from benchmarks._servers import bare_granian, gateway, standin_vllm
from benchmarks._stats import median, percentile
from benchmarks.minimal_proxy_app import FORM_FIELDS

CLIP_SECONDS = 10
WARMUP = 8
ROUNDS = 80
GOAL_MS = 1.0


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
    """One round, in milliseconds."""

    gateway: float
    """Client-measured latency through the gateway, minus its reported `decode`."""
    direct: float
    """The same request straight to the stand-in."""
    floor: float
    """The gateway's request through the minimal proxy."""
    decode: float
    queue: float
    upstream: float


async def _measure(gateway_url: str, upstream_url: str, floor_url: str) -> list[Sample]:
    wav = tone_wav(CLIP_SECONDS).read_bytes()
    gateway_body = msgspec.json.encode(
        {"audio_file": base64.b64encode(wav).decode(), "format": "wav", "language": "en"}
    )
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=1)
    async with (
        aiohttp.ClientSession(connector=connector) as to_gateway,
        aiohttp.ClientSession() as to_upstream,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as to_floor,
    ):

        async def upload(session: aiohttp.ClientSession, url: str, what: str) -> tuple[float, str]:
            """The gateway's request to `url`: milliseconds, and the Server-Timing header if any."""
            started = time.perf_counter()
            async with session.post(
                f"{url}/transcribe/", data=gateway_body, headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"{what} answered {response.status}")
                return elapsed * 1000, response.headers.get("Server-Timing", "")

        async def via_floor() -> float:
            return (await upload(to_floor, floor_url, "the minimal proxy"))[0]

        async def via_gateway() -> tuple[float, dict[str, float]]:
            elapsed, timing = await upload(to_gateway, gateway_url, "the gateway")
            return elapsed, server_timing(timing)

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
            await via_floor()
        for index in range(ROUNDS):
            # Rotate which goes first, so none always follows another.
            if index % 2:
                base = await straight()
                total, timing = await via_gateway()
                floor = await via_floor()
            else:
                floor = await via_floor()
                total, timing = await via_gateway()
                base = await straight()
            decoded = timing.get("decode", 0.0)
            samples.append(
                Sample(
                    gateway=total - decoded,
                    direct=base,
                    floor=floor,
                    decode=decoded,
                    queue=timing.get("queue", 0.0),
                    upstream=timing.get("upstream", 0.0),
                )
            )
    return samples


def run() -> list[Row]:
    with (
        standin_vllm() as upstream_url,
        gateway(upstream_url) as gw,
        bare_granian("benchmarks.minimal_proxy_app:app", {"UPSTREAM_URL": upstream_url}) as (floor_url, _),
    ):
        samples = asyncio.run(_measure(gw.base_url, upstream_url, floor_url))
    added = [sample.gateway - sample.direct for sample in samples]
    p50 = median(added)
    floor_added = median([sample.floor - sample.direct for sample in samples])
    over_floor = median([sample.gateway - sample.floor for sample in samples])
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
                f"{ROUNDS} rounds after {WARMUP} warm-up; added p90 {percentile(added, 0.9):+.2f} ms; "
                f"the stack's floor (benchmarks/minimal_proxy_app.py: granian + msgspec + aiohttp, nothing "
                f"else) adds {floor_added:+.2f} ms, the gateway {over_floor:+.2f} ms more than that; "
                f"p50 of the gateway's own parts: decode (excluded) {median([s.decode for s in samples]):.2f} ms, "
                f"queue {median([s.queue for s in samples]):.2f} ms, its upstream call minus the direct request "
                f"{median([s.upstream - s.direct for s in samples]):+.2f} ms"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
