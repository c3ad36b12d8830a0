"""P7: `GET /health/` requests per second (keep-alive, 64 connections) against a bare granian app.

Both servers run as `run_server.py` runs the gateway (granian, ASGI, one worker) and answer the
same bytes; wrk (Debian's `wrk`) drives them in alternating runs, and each figure is the median.
wrk's two threads share the two cores with the server, so absolute numbers are low; the ratio is
what the row is about. A third server, Litestar alone with one route and no middleware, shows in
the note how much of the gap is the framework's and how much the gateway's layers on top.

    python -m benchmarks.health_rps
"""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx

from benchmarks._report import Row, print_rows
from benchmarks._servers import bare_granian, gateway, standin_vllm
from benchmarks._stats import median, spread

CONNECTIONS = 64
SECONDS = 5
RUNS = 3
GOAL = 0.5


def wrk_requests_per_second(url: str, seconds: int = SECONDS) -> float:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{result.stdout}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx answers from {url}")
    return float(match.group(1))


def run() -> list[Row]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with standin_vllm() as upstream_url, gateway(upstream_url) as gw:
        url = f"{gw.base_url}/health/"
        env = {"BARE_HEALTH_BODY": httpx.get(url).text}
        with (
            bare_granian("benchmarks.bare_health_app:app", env) as (bare_url, _),
            bare_granian("benchmarks.plain_litestar_app:app", env) as (plain_url, _),
        ):
            urls = {"ours": url, "bare": f"{bare_url}/health/", "plain": f"{plain_url}/health/"}
            for warm in urls.values():
                wrk_requests_per_second(warm, 1)
            rates: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(RUNS):
                for name, target in urls.items():
                    rates[name].append(wrk_requests_per_second(target))
    ours, bare, plain = (median(rates[name]) for name in ("ours", "bare", "plain"))
    ratio = ours / bare
    return [
        Row(
            id="P7",
            figure=f"GET /health/ req/s, keep-alive, {CONNECTIONS} connections",
            ours=f"{ours:,.0f}/s",
            baseline=f"{bare:,.0f}/s (bare granian ASGI)",
            ratio=f"{ratio:.2f}×",
            goal=f"≥ {GOAL}×",
            passed=ratio >= GOAL,
            note=(
                f"wrk -t2 -c{CONNECTIONS}, {RUNS}×{SECONDS} s each, alternating; runs "
                f"{spread(rates['ours'], ',.0f')} vs {spread(rates['bare'], ',.0f')} req/s. For scale: "
                f"Litestar alone (one route, no middleware, same bytes) {plain:,.0f}/s = {plain / bare:.2f}× bare"
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
