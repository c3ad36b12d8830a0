#!/usr/bin/env python3
"""P9: asynchronous jobs spread over gateway instances. 200 one-minute jobs are queued in one Redis
(through a gateway that runs no jobs, JOBS_WORKERS=0), then 1 and then 3 gateway instances × 2 job
workers drain them against the stand-in vLLM in simulated mode; both measured in one run.

    .venv/bin/python benchmarks/jobs_throughput.py [--jobs 200] [--speed 60] [--instances 1 3]

The stand-in sleeps audio_seconds / speed per request and, like vLLM's continuous batching, parallel
requests do not slow each other (simulated replicas with room to spare), so the gateway's job workers
are what is measured. Throughput is jobs over the time from the first job's start to the last one's end
(read from the job records in Redis). "Lost" is a job that did not complete; "twice" is a job started
more than once (`attempts` > 1). Prints a markdown table; exits 1 if a job is lost or run twice, or if
3 instances do less than GOAL_RATIO × the work of one."""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.audio_fixtures import make_tone  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.redis_server import PrivateRedis  # noqa: E402
from tests.support.standin_process import StandInProcess  # noqa: E402

MODEL = "mistralai/Voxtral-Mini-3B-2507"
JOBS = "/v1/audio/transcriptions/jobs"
WORKERS_PER_INSTANCE = 2
GOAL_RATIO = 2.5
"""3 instances drain the queue at least 2.5× as fast as one (3× is perfect scaling)."""


def _cpu_seconds(pids: set[int] = frozenset(), groups: set[int] = frozenset()) -> float:
    """User + system CPU time of the live processes named, or in the process groups named (a gateway:
    granian and its worker)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) in pids or int(fields[2]) in groups:  # pid, pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Outcome:
    def __init__(
        self,
        instances: int,
        submitted: int,
        completed: int,
        twice: int,
        seconds: float,
        cpu_seconds: tuple[float, float],
    ):
        self.gateway_cpu, self.standin_cpu = cpu_seconds
        self.instances = instances
        self.submitted = submitted
        self.completed = completed
        self.twice = twice
        self.seconds = seconds

    @property
    def per_minute(self) -> float:
        return self.completed / self.seconds * 60 if self.seconds else 0.0


def _env(standin: StandInProcess, redis_url: str, prefix: str, blobs: Path, workers: int) -> dict[str, str]:
    return {
        **standin.gateway_env(),
        "RATE_LIMIT_ENABLED": "false",
        "JOBS_REDIS_URL": redis_url,
        "JOBS_KEY_PREFIX": prefix,
        "JOBS_BLOB_DIR": str(blobs),
        "JOBS_WORKERS": str(workers),
        # One client submits everything: its per-key limits must not be what is measured.
        "JOBS_MAX_QUEUED_PER_KEY": "100000",
        "JOBS_MAX_RUNNING_PER_KEY": "1000",
    }


def _queue_jobs(base_url: str, audio: bytes, count: int) -> list[str]:
    def submit(_: int) -> str:
        response = httpx.post(
            f"{base_url}{JOBS}",
            data={"model": MODEL},
            files={"file": ("minute.mp3", audio, "audio/mpeg")},
            timeout=60,
        )
        response.raise_for_status()
        return str(response.json()["id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(submit, range(count)))


def _job_times(client: redis.Redis, prefix: str, ids: list[str]) -> list[tuple[str, float, float, int]]:
    rows = []
    for job_id in ids:
        status, started, finished, attempts = client.hmget(
            f"{prefix}:job:{job_id}", "status", "started_at", "finished_at", "attempts"
        )
        rows.append(
            (
                (status or b"missing").decode(),
                float(started or 0),
                float(finished or 0),
                int(attempts or 0),
            )
        )
    return rows


def measure(
    instances: int, count: int, audio: bytes, standin: StandInProcess, redis_url: str, tmp: Path
) -> Outcome:
    prefix = f"bench-jobs-{instances}-{int(time.time())}"
    blobs = tmp / f"blobs-{instances}"
    client = redis.Redis.from_url(redis_url)
    with GatewayProcess(
        env=_env(standin, redis_url, prefix, blobs, 0), log_path=tmp / "submitter.log"
    ) as front:
        ids = _queue_jobs(front.base_url, audio, count)
    gateways = [
        GatewayProcess(
            env=_env(standin, redis_url, prefix, blobs, WORKERS_PER_INSTANCE),
            log_path=tmp / f"worker-{instances}-{n}.log",
        )
        for n in range(instances)
    ]
    try:
        with concurrent.futures.ThreadPoolExecutor(instances) as pool:
            list(pool.map(lambda g: g.start(), gateways))
        groups = {g.process.pid for g in gateways if g.process is not None}
        standin_pid = {standin.process.pid} if standin.process is not None else set()
        cpu_before = (_cpu_seconds(groups=groups), _cpu_seconds(pids=standin_pid))
        deadline = time.monotonic() + 60 + count * 30 / WORKERS_PER_INSTANCE
        while time.monotonic() < deadline:
            times = _job_times(client, prefix, ids)
            if all(status in {"completed", "failed", "cancelled"} for status, *_ in times):
                break
            time.sleep(0.5)
        cpu_seconds = (
            _cpu_seconds(groups=groups) - cpu_before[0],
            _cpu_seconds(pids=standin_pid) - cpu_before[1],
        )
    finally:
        for gateway in gateways:
            gateway.stop()
    times = _job_times(client, prefix, ids)
    done = [t for t in times if t[0] == "completed"]
    seconds = max(t[2] for t in done) - min(t[1] for t in done) if done else 0.0
    pending = client.xpending(f"{prefix}:stream", "workers")["pending"]
    client.close()
    if pending:
        print(f"warning: {pending} stream entries still pending", file=sys.stderr)
    return Outcome(instances, len(ids), len(done), sum(1 for t in times if t[3] > 1), seconds, cpu_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        audio = Path(make_tone(tmp / "minute.mp3", 60.0, rate=16000, fmt="mp3", bitrate="32k")).read_bytes()
        private_redis = PrivateRedis(tmp).start()
        try:
            with StandInProcess(tmp, speed=args.speed) as standin:
                outcomes = [
                    measure(n, args.jobs, audio, standin, private_redis.url, tmp) for n in args.instances
                ]
        finally:
            private_redis.kill()
    baseline = outcomes[0]
    load = os.getloadavg()[0]
    print(
        f"P9: {args.jobs} queued one-minute jobs, one Redis, stand-in at {args.speed:g}× real time "
        f"(a job: two 30 s segments in parallel, {30 / args.speed:.2f} s at the stand-in); "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end\n"
    )
    print(
        "| instances × workers | completed | lost | run twice | seconds | jobs/min | ratio vs 1 instance "
        "| CPU s/job: gateways, stand-in | cores busy | goal | pass |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    passed = True
    for outcome in outcomes:
        lost = outcome.submitted - outcome.completed
        jobs = max(1, outcome.completed)
        ratio = outcome.per_minute / baseline.per_minute if baseline.per_minute else 0.0
        goal = f"≥ {GOAL_RATIO}×" if outcome.instances == 3 else "baseline"
        ok = lost == 0 and outcome.twice == 0 and (outcome.instances != 3 or ratio >= GOAL_RATIO)
        passed &= ok
        print(
            f"| {outcome.instances} × {WORKERS_PER_INSTANCE} | {outcome.completed} | {lost} | {outcome.twice} "
            f"| {outcome.seconds:.1f} | {outcome.per_minute:.1f} | {ratio:.2f} "
            f"| {outcome.gateway_cpu / jobs:.3f}, {outcome.standin_cpu / jobs:.3f} "
            f"| {(outcome.gateway_cpu + outcome.standin_cpu) / outcome.seconds:.2f} | {goal} | {'pass' if ok else 'FAIL'} |"
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
