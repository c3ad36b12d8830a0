"""P8: does the gateway's memory grow with traffic? RSS after 10,000 mixed requests vs after 100.

The mix (16 keep-alive clients at once, in a fixed shuffled order): health checks, short WAV and
MP3 transcriptions, a two-file batch, the OpenAPI schema, and the usual client mistakes (bytes
that are not audio → 415, a bad field → 422, malformed JSON → 400, an unknown path → 404). RSS is
read from /proc after the first 100 requests (warm-up: imports, first-use caches) and every 1,000
after; a leak shows as steady growth, so the row passes when the RSS after 10,000 is within 5 % of
the RSS after 100 and the last 5,000 requests added less than 2 MB.

    python -m benchmarks.memory_growth
"""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections import Counter
from collections.abc import Sequence

import aiohttp
import msgspec

from benchmarks._media import tone_mp3, tone_wav
from benchmarks._proc import rss_bytes, worker_pid
from benchmarks._report import Row, print_rows
from benchmarks._servers import gateway, standin_vllm

REQUESTS = 10_000
WARMUP = 100
CHECKPOINT = 1_000
CLIENTS = 16
GOAL_RATIO = 1.05
GOAL_LATE_GROWTH = 2_000_000
MB = 1_000_000


class Call(msgspec.Struct, frozen=True):
    method: str
    path: str
    body: bytes | None = None
    expect: int = 200


def _json(value: object) -> bytes:
    return msgspec.json.encode(value)


def request_mix() -> list[Call]:
    """One round of the mix; weights are how often each kind comes up."""
    wav = base64.b64encode(tone_wav(1).read_bytes()).decode()
    mp3 = base64.b64encode(tone_mp3(2).read_bytes()).decode()
    weighted: Sequence[tuple[int, Call]] = (
        (6, Call("GET", "/health/")),
        (6, Call("POST", "/transcribe/", _json({"audio_file": wav, "format": "wav"}))),
        (3, Call("POST", "/transcribe/", _json({"audio_file": mp3, "language": "en"}))),
        (1, Call("POST", "/transcribe/batch/", _json({"audio_files": [{"data": wav}, {"data": mp3}]}))),
        (1, Call("GET", "/docs/openapi.json")),
        (
            1,
            Call(
                "POST",
                "/transcribe/",
                _json({"audio_file": base64.b64encode(b"not audio" * 50).decode()}),
                415,
            ),
        ),
        (1, Call("POST", "/transcribe/", _json({"audio_file": wav, "temperature": 9}), 422)),
        (1, Call("POST", "/transcribe/", b'{"audio_file": ', 400)),
        (1, Call("GET", "/no/such/path", None, 404)),
    )
    return [call for weight, call in weighted for _ in range(weight)]


async def _drive(base_url: str, calls: list[Call], pid: int) -> tuple[list[tuple[int, int]], Counter[str]]:
    """Send `calls` with CLIENTS at once; RSS (requests done, bytes) at each checkpoint."""
    checkpoints: list[tuple[int, int]] = []
    outcomes: Counter[str] = Counter()
    done = 0
    position = 0
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def client(upto: int) -> None:
            nonlocal done, position
            while position < upto:
                call = calls[position]
                position += 1
                headers = {"Content-Type": "application/json"} if call.body is not None else None
                async with session.request(
                    call.method, call.path, data=call.body, headers=headers
                ) as response:
                    await response.read()
                ok = response.status == call.expect
                outcomes["expected" if ok else f"{call.path} {response.status}≠{call.expect}"] += 1
                done += 1

        for upto in (WARMUP, *range(CHECKPOINT, REQUESTS + 1, CHECKPOINT)):
            await asyncio.gather(*(client(upto) for _ in range(CLIENTS)))
            await asyncio.sleep(0.3)  # let in-flight work and timers settle before reading RSS
            checkpoints.append((done, rss_bytes(pid)))
    return checkpoints, outcomes


def run() -> list[Row]:
    rounds = request_mix()
    calls = [call for _ in range(REQUESTS // len(rounds) + 1) for call in rounds][:REQUESTS]
    random.Random(8).shuffle(calls)
    with standin_vllm() as upstream_url, gateway(upstream_url) as gw:
        started = time.monotonic()
        checkpoints, outcomes = asyncio.run(_drive(gw.base_url, calls, worker_pid(gw.process.pid)))
        seconds = time.monotonic() - started
    after_warmup = checkpoints[0][1]
    final = checkpoints[-1][1]
    halfway = next(rss for count, rss in checkpoints if count >= REQUESTS // 2)
    ratio = final / after_warmup
    late_growth = final - halfway
    unexpected = sum(count for key, count in outcomes.items() if key != "expected")
    passed = ratio <= GOAL_RATIO and late_growth < GOAL_LATE_GROWTH and unexpected == 0
    trace = ", ".join(f"{rss / MB:.0f}" for _, rss in checkpoints)
    return [
        Row(
            id="P8",
            figure=f"RSS after {REQUESTS:,} mixed requests ({CLIENTS} clients)",
            ours=f"{final / MB:.1f} MB",
            baseline=f"{after_warmup / MB:.1f} MB (after {WARMUP})",
            ratio=f"{ratio:.3f}×",
            goal=f"≤ {GOAL_RATIO}×, < {GOAL_LATE_GROWTH / MB:g} MB over the last half",
            passed=passed,
            note=(
                f"RSS (MB) at {WARMUP}, then every {CHECKPOINT:,}: {trace}; last {REQUESTS // 2:,} requests "
                f"{late_growth / MB:+.1f} MB; {REQUESTS / seconds:.0f} req/s; unexpected statuses: "
                f"{unexpected or 'none'}"
                + (f" ({dict((k, v) for k, v in outcomes.items() if k != 'expected')})" if unexpected else "")
            ),
        )
    ]


if __name__ == "__main__":
    print_rows(run())
