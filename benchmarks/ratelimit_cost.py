#!/usr/bin/env python3
"""What the rate limiter costs per request: Redis round trips, added latency (p50/p99) and throughput,
against the same route on a gateway with limits off, measured in one run on loopback.

    .venv/bin/python benchmarks/ratelimit_cost.py [--requests 600] [--burst 800]

Three gateways (one worker each, embedded backend) run side by side: limits in Redis (a private
`redis-server` on a free port, so its command count is ours alone), limits in process, and
RATE_LIMIT_ENABLED=false. The route is POST /transcribe/ with an empty JSON object: the limiter runs,
then validation answers 422 at once, so the request's own work is tiny and the limiter's cost shows.
(Health, docs and metrics are never limited; there is no other cheap limited route.) Limits are set
high enough that nothing is refused. Requests are interleaved across the gateways so drift (CPU
frequency, other load) hits all three alike. About 4,700 requests in all, loopback only. Prints a markdown
table; exits 1 if a goal is missed."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import PrivateRedis  # noqa: E402

ROUTE = "/transcribe/"
BODY = b"{}"
HEADERS = {"Content-Type": "application/json"}
HIGH_LIMIT = "1000000000"
CONCURRENCY = 8

# Goals, set before measuring: the limiter may add one Redis round trip and about a millisecond.
GOAL_ROUND_TRIPS = 1.0
GOAL_ADDED_P50_MS = 1.0
GOAL_ADDED_P99_MS = 5.0
GOAL_THROUGHPUT_RATIO = 0.8


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def count_round_trips(port: int, client: httpx.Client, requests: int) -> tuple[float, Counter[str]]:
    """Commands the gateway sent to Redis per request, read with MONITOR (which also shows the commands
    a script runs, marked `lua`: those are not round trips and are left out)."""
    received = bytearray()
    monitor = socket.create_connection(("127.0.0.1", port))
    monitor.sendall(b"MONITOR\r\n")
    monitor.settimeout(0.5)

    def read() -> None:
        while True:
            try:
                chunk = monitor.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.2)
    for _ in range(requests):
        client.post(ROUTE, content=BODY, headers=HEADERS)
    time.sleep(0.5)
    monitor.shutdown(socket.SHUT_RDWR)
    monitor.close()
    reader.join(5)
    commands: Counter[str] = Counter()
    for line in received.decode(errors="replace").splitlines():
        if '] "' in line and " lua]" not in line:
            commands[line.split('] "', 1)[1].split('"', 1)[0].lower()] += 1
    return sum(commands.values()) / requests, commands


def sequential_latencies(clients: dict[str, httpx.Client], requests: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for _ in range(requests):
        random.shuffle(names)
        for name in names:
            started = time.perf_counter()
            response = clients[name].post(ROUTE, content=BODY, headers=HEADERS)
            samples[name].append((time.perf_counter() - started) * 1000)
            if response.status_code != 422:
                raise SystemExit(f"{name}: unexpected {response.status_code}: {response.text[:200]}")
    return samples


async def burst(base_url: str, requests: int) -> float:
    """Seconds to serve `requests` requests at CONCURRENCY."""
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                response = await client.post(ROUTE, content=BODY, headers=HEADERS)
                assert response.status_code == 422, response.status_code

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def throughputs(gateways: dict[str, GatewayProcess], requests: int, rounds: int = 4) -> dict[str, float]:
    """Requests per second at CONCURRENCY, in interleaved rounds so drift hits every gateway alike."""
    elapsed = dict.fromkeys(gateways, 0.0)
    names = list(gateways)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            elapsed[name] += asyncio.run(burst(gateways[name].base_url, requests // rounds))
    return {name: (requests // rounds) * rounds / seconds for name, seconds in elapsed.items()}


def row(figure: str, ours: str, baseline: str, ratio: str, goal: str, passed: bool) -> str:
    return f"| {figure} | {ours} | {baseline} | {ratio} | {goal} | {'pass' if passed else 'FAIL'} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="sequential requests per gateway")
    parser.add_argument(
        "--burst", type=int, default=800, help=f"requests per gateway at concurrency {CONCURRENCY}"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ratelimit-bench-"))
    store = PrivateRedis(workdir).start()
    common = {
        "BACKEND": "embedded",
        "EMBEDDED_CPU_THREADS": "1",
        "RATE_LIMIT_GENERAL": HIGH_LIMIT,
        "RATE_LIMIT_TRANSCRIPTION": HIGH_LIMIT,
    }
    gateways = {
        "redis": GatewayProcess(env={**common, "REDIS_URL": store.url}, log_path=workdir / "redis.log"),
        "in_process": GatewayProcess(env=common, log_path=workdir / "in_process.log"),
        "off": GatewayProcess(env={**common, "RATE_LIMIT_ENABLED": "false"}, log_path=workdir / "off.log"),
    }
    try:
        for gateway in gateways.values():
            gateway.start()
        clients = {name: httpx.Client(base_url=g.base_url, timeout=30) for name, g in gateways.items()}
        sequential_latencies(clients, 100)  # warm-up: connections open, code paths warm

        samples = sequential_latencies(clients, args.requests)
        round_trips, commands = count_round_trips(store.port, clients["redis"], 200)

        # The "on" check: the Redis gateway really is limiting, the baseline really is not.
        assert "RateLimit-Limit" in clients["redis"].post(ROUTE, content=BODY, headers=HEADERS).headers
        assert "RateLimit-Limit" not in clients["off"].post(ROUTE, content=BODY, headers=HEADERS).headers
        for client in clients.values():
            client.close()

        rates = throughputs(gateways, args.burst)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        store.kill()

    p50 = {name: percentile(values, 0.50) for name, values in samples.items()}
    p99 = {name: percentile(values, 0.99) for name, values in samples.items()}
    mean = {name: statistics.fmean(values) for name, values in samples.items()}
    lines = [
        f"Rate limiter cost, POST {ROUTE} (422 after the limiter), one worker per gateway, "
        f"{args.requests} sequential requests per gateway, interleaved; {args.burst} more at "
        f"concurrency {CONCURRENCY}; {os.cpu_count()} CPUs, loopback. Baseline: RATE_LIMIT_ENABLED=false.",
        "",
        "| figure | our value | baseline | ratio | goal | pass/fail |",
        "|---|---|---|---|---|---|",
        row(
            "Redis round trips per request",
            f"{round_trips:.2f}",
            "0",
            "–",
            f"≤ {GOAL_ROUND_TRIPS:g}",
            round_trips <= GOAL_ROUND_TRIPS + 1e-9,
        ),
    ]
    for name, label in (("redis", "Redis limiter"), ("in_process", "in-process limiter")):
        for figure, values, goal in (("p50", p50, GOAL_ADDED_P50_MS), ("p99", p99, GOAL_ADDED_P99_MS)):
            added = values[name] - values["off"]
            lines.append(
                row(
                    f"{figure} latency, {label} (added {added:+.3f} ms)",
                    f"{values[name]:.3f} ms",
                    f"{values['off']:.3f} ms",
                    f"{values[name] / values['off']:.2f}",
                    f"added ≤ {goal:g} ms",
                    added <= goal,
                )
            )
        ratio = rates[name] / rates["off"]
        lines.append(
            row(
                f"throughput at concurrency {CONCURRENCY}, {label}",
                f"{rates[name]:.0f} req/s",
                f"{rates['off']:.0f} req/s",
                f"{ratio:.2f}",
                f"≥ {GOAL_THROUGHPUT_RATIO:g} × baseline",
                ratio >= GOAL_THROUGHPUT_RATIO,
            )
        )
    lines.append("")
    lines.append(
        "Mean latency: "
        + ", ".join(f"{name} {value:.3f} ms" for name, value in mean.items())
        + ". Redis commands seen per 200 requests (MONITOR, script-internal calls excluded): "
        + ", ".join(f"{name} {count}" for name, count in commands.most_common())
        + f". Logs in {workdir}."
    )
    print("\n".join(lines))
    return 0 if all("| FAIL |" not in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
