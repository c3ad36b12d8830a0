"""Routing by the replicas' own load (BACKEND_ROUTING=load) against each worker's own least-in-flight
(BACKEND_ROUTING=local), in one run.

Three stand-in vLLM replicas, one of them 3× slower, each with a batch of `--max-num-seqs` places (more
requests wait in its scheduler queue, as on a vLLM at capacity). Two gateways of two workers each per
routing mode, all four started at once in front of the same three replicas. Closed-loop clients
(`--clients` per gateway) send a 10 s WAV to `POST /transcribe/` for `--seconds`; the phases alternate
load, local, load, local… so drift on a shared machine hits both alike. Each replica's share comes from
its `vllm:request_success_total` counter, read before and after each phase.

    python -m benchmarks.routing [--seconds 20] [--rounds 2] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import sys
import time
from collections.abc import Iterator

import aiohttp
import msgspec
from tests.support.gateway_process import GatewayProcess

from benchmarks._media import tone_wav
from benchmarks._servers import GATEWAY_ENV, standin_vllm
from benchmarks._stats import median, percentile

CLIP_SECONDS = 10
FAST_SPEED = 27.0
SLOW_SPEED = FAST_SPEED / 3
MODES = ("load", "local")


class Phase(msgspec.Struct, frozen=True):
    mode: str
    latencies_ms: list[float]
    per_replica: list[float]
    """Requests each replica finished during the phase (fast, fast, slow)."""
    errors: int


async def _finished(session: aiohttp.ClientSession, replica: str) -> float:
    async with session.get(f"{replica}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("vllm:request_success_total"):
            return float(line.rsplit(" ", 1)[1])
    raise RuntimeError(f"{replica}/metrics has no vllm:request_success_total")


async def _phase(mode: str, gateways: list[str], replicas: list[str], clients: int, seconds: float) -> Phase:
    body = msgspec.json.encode(
        {"audio_file": base64.b64encode(tone_wav(CLIP_SECONDS).read_bytes()).decode(), "format": "wav"}
    )
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        before = [await _finished(session, replica) for replica in replicas]
        deadline = time.monotonic() + seconds

        async def client(gateway: str) -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.post(
                    f"{gateway}/transcribe/", data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                        continue
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client(gateway) for gateway in gateways for _ in range(clients)))
        await asyncio.sleep(0.5)  # let the last requests leave the replicas' counters
        after = [await _finished(session, replica) for replica in replicas]
    return Phase(
        mode=mode,
        latencies_ms=latencies,
        per_replica=[a - b for a, b in zip(after, before, strict=True)],
        errors=errors,
    )


@contextlib.contextmanager
def _replicas(max_num_seqs: int) -> Iterator[list[str]]:
    args = ("--max-num-seqs", str(max_num_seqs))
    with (
        standin_vllm(FAST_SPEED, args) as fast_a,
        standin_vllm(FAST_SPEED, args) as fast_b,
        standin_vllm(SLOW_SPEED, args) as slow,
    ):
        yield [fast_a, fast_b, slow]


@contextlib.contextmanager
def _gateways(replicas: list[str], mode: str, interval: float, weight: float) -> Iterator[list[str]]:
    env = {
        **GATEWAY_ENV,
        "WORKERS": "2",
        "VOXTRAL_BACKENDS": ",".join(replicas),
        "BACKEND_ROUTING": mode,
        "BACKEND_LOAD_INTERVAL_SECONDS": str(interval),
        "BACKEND_LOAD_WAITING_WEIGHT": str(weight),
        "LOG_LEVEL": "WARNING",
    }
    with GatewayProcess(env=env) as first, GatewayProcess(env=env) as second:
        yield [first.base_url, second.base_url]


def run(
    seconds: float, rounds: int, clients: int, max_num_seqs: int, interval: float, weight: float
) -> list[Phase]:
    tone_wav(CLIP_SECONDS)
    phases: list[Phase] = []
    with (
        _replicas(max_num_seqs) as replicas,
        _gateways(replicas, "load", interval, weight) as by_load,
        _gateways(replicas, "local", interval, weight) as by_local,
    ):
        targets = {"load": by_load, "local": by_local}
        for mode in MODES:  # warm-up: connections, first decodes
            asyncio.run(_phase(mode, targets[mode], replicas, 2, 2.0))
        for index in range(rounds):
            order = MODES if index % 2 == 0 else MODES[::-1]
            for mode in order:
                phases.append(asyncio.run(_phase(mode, targets[mode], replicas, clients, seconds)))
    return phases


def report(phases: list[Phase], args: argparse.Namespace) -> str:
    lines = [
        f"Routing: 2 gateways × 2 workers per mode, 3 stand-in replicas (2 at {FAST_SPEED:g}×, 1 at "
        f"{SLOW_SPEED:g}× real time), --max-num-seqs {args.max_num_seqs}; {args.clients} closed-loop "
        f"clients per gateway, {CLIP_SECONDS} s WAV, {args.rounds} × {args.seconds:g} s per mode, "
        f"interleaved; BACKEND_LOAD_INTERVAL_SECONDS={args.interval:g}, "
        f"BACKEND_LOAD_WAITING_WEIGHT={args.waiting_weight:g}; load average "
        f"{os.getloadavg()[0]:.1f} at the end.",
        "",
        "| routing | requests | req/s | p50 ms | p99 ms | share fast A | share fast B | share slow | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, tuple[float, float, float]] = {}
    for mode in MODES:
        mine = [phase for phase in phases if phase.mode == mode]
        latencies = [value for phase in mine for value in phase.latencies_ms]
        served = [sum(phase.per_replica[i] for phase in mine) for i in range(3)]
        total = sum(served) or 1.0
        rate = len(latencies) / (args.seconds * len(mine))
        p50, p99 = median(latencies), percentile(latencies, 0.99)
        summary[mode] = (p50, p99, rate)
        shares = " | ".join(f"{count / total:.1%}" for count in served)
        lines.append(
            f"| {mode} | {len(latencies)} | {rate:.1f} | {p50:.0f} | {p99:.0f} | {shares} | "
            f"{sum(phase.errors for phase in mine)} |"
        )
    (l50, l99, lrate), (b50, b99, brate) = summary["load"], summary["local"]
    lines += [
        "",
        f"Ratios load/local: p50 {l50 / b50:.2f}×, p99 {l99 / b99:.2f}×, throughput {lrate / brate:.2f}×.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients per gateway")
    parser.add_argument("--max-num-seqs", type=int, default=4)
    parser.add_argument("--interval", type=float, default=0.25, help="BACKEND_LOAD_INTERVAL_SECONDS")
    parser.add_argument("--waiting-weight", type=float, default=1.0, help="BACKEND_LOAD_WAITING_WEIGHT")
    args = parser.parse_args(argv)
    phases = run(
        args.seconds, args.rounds, args.clients, args.max_num_seqs, args.interval, args.waiting_weight
    )
    print(report(phases, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
