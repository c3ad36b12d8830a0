"""P1: the latency and CPU the gateway adds to a 10 s transcription, beside LiteLLM's proxy, in one run.

Every request goes to the stand-in vLLM (at `--speed 1000`, so the model's sleep is 10 ms) either
straight (`direct`, the baseline) or through a proxy:

- LiteLLM's proxy (`litellm[proxy]`, installed by this benchmark into its own venv under
  benchmarks/.cache/, one worker, no callbacks, an `openai/` model whose `api_base` is the stand-in),
  `POST /v1/audio/transcriptions`;
- ours, `POST /v1/audio/transcriptions` (the same multipart request) and `POST /transcribe/` (JSON,
  base64 audio);
- `benchmarks/minimal_proxy_app.py` (granian + msgspec + aiohttp doing only what `/transcribe/` must):
  the floor of our stack.

For a 10 s 16 kHz mono WAV and a 10 s MP3. One round sends each request once, in a shuffled order, one
at a time on keep-alive connections, so drift on a shared machine hits all alike; 200 rounds after a
warm-up. "Added" is the median over rounds of (through the proxy − direct, same file). CPU ms per
request: the proxy's processes' user + system time, read from /proc around each request, summed and
divided by the requests.

    python -m benchmarks.overhead [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import msgspec
from tests.support.gateway_process import free_port

from benchmarks._media import CACHE, tone_mp3, tone_wav
from benchmarks._proc import children
from benchmarks._report import Row, print_rows
from benchmarks._servers import _stop, _wait_ready, bare_granian, gateway, standin_vllm
from benchmarks._stats import median, percentile
from benchmarks.minimal_proxy_app import FORM_FIELDS

CLIP_SECONDS = 10
WARMUP = 10
ROUNDS = 200
STANDIN_SPEED = 1000.0
MODEL = "mistralai/Voxtral-Mini-3B-2507"
LITELLM_VENV = CACHE / "litellm-venv"
P1A_GOAL = 0.4
P1B_GOAL = 1.0
P1C_GOAL_MS = 0.5
_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def server_timing(header: str) -> dict[str, float]:
    """`name;dur=1.5, other;dur=2` → {"name": 1.5, "other": 2.0} (milliseconds)."""
    metrics: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            if param.startswith("dur="):
                metrics[name] = float(param[4:])
    return metrics


# ---- processes ---------------------------------------------------------------------------------


def _cpu_ms(pids: list[int]) -> float:
    """User + system CPU of `pids` and their children, in milliseconds."""
    total = 0
    for pid in pids:
        for one in [pid, *_descendants(pid)]:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
    return total * _TICK_MS


def _descendants(pid: int) -> list[int]:
    try:
        kids = children(pid)
    except OSError:
        return []
    return [kid for child in kids for kid in (child, *_descendants(child))]


def _ensure_litellm() -> Path:
    """LiteLLM's proxy in its own venv (installed from PyPI on first use)."""
    executable = LITELLM_VENV / "bin" / "litellm"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return executable


def litellm_version() -> str:
    done = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


@contextlib.contextmanager
def litellm_proxy(upstream_url: str) -> Iterator[tuple[str, int]]:
    """LiteLLM's proxy, one worker, no callbacks, the model served by `upstream_url`; yields (URL, pid)."""
    executable = _ensure_litellm()
    config = CACHE / "litellm-config.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream_url}/v1\n"
        "      api_key: none\n"
        "    model_info:\n"
        "      mode: audio_transcription\n"
        "litellm_settings:\n"
        "  callbacks: []\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no internet fetch at start-up
        # No master key, as our gateway runs without API keys here (LiteLLM refuses to start otherwise).
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        "LITELLM_LOG": "ERROR",
    }
    process = subprocess.Popen(
        [str(executable), "--config", str(config), "--port", str(port), "--num_workers", "1"],
        cwd=CACHE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base_url}/health/liveliness", process, 180, "LiteLLM's proxy")
        yield base_url, process.pid
    finally:
        _stop(process)


# ---- requests ----------------------------------------------------------------------------------


class Result(msgspec.Struct, frozen=True):
    ms: float
    cpu_ms: float
    timing: dict[str, float]


Send = Callable[[], Awaitable[tuple[float, dict[str, float]]]]


def _form(
    audio: bytes, filename: str, content_type: str, fields: tuple[tuple[str, str], ...]
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", audio, filename=filename, content_type=content_type)
    for name, value in fields:
        form.add_field(name, value)
    return form


async def _post(
    session: aiohttp.ClientSession, url: str, make_body: Callable[[], object], what: str
) -> tuple[float, dict[str, float]]:
    body = make_body()
    headers = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"{what} answered {response.status}: {(await response.read())[:300]!r}")
        return elapsed, server_timing(response.headers.get("Server-Timing", ""))


async def _measure(urls: dict[str, str], pids: dict[str, list[int]], rounds: int) -> dict[str, list[Result]]:
    wav = tone_wav(CLIP_SECONDS).read_bytes()
    mp3 = tone_mp3(CLIP_SECONDS, rate=16_000, bitrate="64k").read_bytes()
    files = {"wav": (wav, "audio.wav", "audio/wav"), "mp3": (mp3, "audio.mp3", "audio/mpeg")}
    openai_fields = (
        ("model", MODEL),
        ("response_format", "json"),
        ("temperature", "0.0"),
        ("language", "en"),
    )
    seed_bodies = {
        kind: msgspec.json.encode(
            {"audio_file": base64.b64encode(data).decode(), "format": kind, "language": "en"}
        )
        for kind, (data, _, _) in files.items()
    }
    sessions: list[aiohttp.ClientSession] = []

    def session() -> aiohttp.ClientSession:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)))
        return sessions[-1]

    targets: dict[str, tuple[str, Send]] = {}
    for kind, (data, name, ctype) in files.items():
        for proxy, url in (
            ("direct", urls["direct"]),
            ("litellm", urls.get("litellm")),
            ("ours /v1/audio/transcriptions", urls["ours"]),
        ):
            if url is None:
                continue
            client = session()
            fields = FORM_FIELDS if proxy == "direct" else openai_fields
            targets[f"{proxy} {kind}"] = (
                proxy,
                lambda c=client, u=url, d=data, n=name, t=ctype, f=fields, w=proxy: _post(
                    c, f"{u}/v1/audio/transcriptions", lambda: _form(d, n, t, f), w
                ),
            )
        client = session()
        targets[f"ours /transcribe/ {kind}"] = (
            "ours /v1/audio/transcriptions",  # the same process
            lambda c=client, b=seed_bodies[kind]: _post(
                c, f"{urls['ours']}/transcribe/", lambda: b, "the gateway"
            ),
        )
    client = session()
    targets["floor wav"] = (
        "floor",
        lambda c=client: _post(
            c, f"{urls['floor']}/transcribe/", lambda: seed_bodies["wav"], "the minimal proxy"
        ),
    )
    results: dict[str, list[Result]] = {name: [] for name in targets}
    order = list(targets)
    shuffler = random.Random(20261201)
    try:
        for index in range(WARMUP + rounds):
            shuffler.shuffle(order)
            for name in order:
                proxy, send = targets[name]
                watched = pids.get(proxy, [])
                cpu_before = _cpu_ms(watched)
                elapsed, timing = await send()
                cpu = _cpu_ms(watched) - cpu_before
                if index >= WARMUP:
                    results[name].append(Result(ms=elapsed, cpu_ms=cpu, timing=timing))
    finally:
        for one in sessions:
            await one.close()
    return results


# ---- rows --------------------------------------------------------------------------------------


def _added(results: dict[str, list[Result]], name: str, kind: str, minus_decode: bool = False) -> list[float]:
    direct = results[f"direct {kind}"]
    return [
        r.ms - (r.timing.get("decode", 0.0) if minus_decode else 0.0) - d.ms
        for r, d in zip(results[name], direct, strict=True)
    ]


def _cpu(results: dict[str, list[Result]], name: str) -> float:
    return sum(r.cpu_ms for r in results[name]) / len(results[name])


def rows_from(results: dict[str, list[Result]], rounds: int, version: str | None) -> list[Row]:
    rows: list[Row] = []
    have_litellm = "litellm wav" in results
    for row_id, kind, goal in (("P1a", "wav", P1A_GOAL), ("P1b", "mp3", P1B_GOAL)):
        direct = median([r.ms for r in results[f"direct {kind}"]])
        litellm_added = median(_added(results, f"litellm {kind}", kind)) if have_litellm else None
        litellm_text = (
            f"LiteLLM {version} {litellm_added:+.2f} ms, {_cpu(results, f'litellm {kind}'):.1f} CPU ms/req"
            if litellm_added is not None
            else "LiteLLM not installed"
        )
        for route in ("/v1/audio/transcriptions", "/transcribe/"):
            name = f"ours {route} {kind}"
            added = _added(results, name, kind)
            ours = median(added)
            ratio = ours / litellm_added if litellm_added else None
            rows.append(
                Row(
                    id=row_id,
                    figure=f"added p50, {CLIP_SECONDS} s {kind.upper()}, POST {route}",
                    ours=f"{ours:+.2f} ms, {_cpu(results, name):.1f} CPU ms/req",
                    baseline=litellm_text,
                    ratio="—" if ratio is None else f"{ratio:.2f}×",
                    goal=f"≤ {goal:g}× LiteLLM's",
                    passed=None if ratio is None else ratio <= goal,
                    note=(
                        f"direct p50 {direct:.2f} ms; added p90 {percentile(added, 0.9):+.2f} ms; gateway decode p50 "
                        f"{median([r.timing.get('decode', 0.0) for r in results[name]]):.2f} ms"
                    ),
                )
            )
    seed = "ours /transcribe/ wav"
    over_floor = [
        (r.ms - r.timing.get("decode", 0.0)) - f.ms
        for r, f in zip(results[seed], results["floor wav"], strict=True)
    ]
    p50 = median(over_floor)
    floor_added = median(_added(results, "floor wav", "wav"))
    rows.append(
        Row(
            id="P1c",
            figure=f"added p50 over benchmarks/minimal_proxy_app.py, POST /transcribe/ ({CLIP_SECONDS} s WAV), decode excluded",
            ours=f"{p50:+.2f} ms, {_cpu(results, seed):.1f} CPU ms/req",
            baseline=f"floor adds {floor_added:+.2f} ms over direct, {_cpu(results, 'floor wav'):.1f} CPU ms/req",
            ratio=f"{p50:+.2f} ms",
            goal=f"≤ {P1C_GOAL_MS:g} ms",
            passed=p50 <= P1C_GOAL_MS,
            note=f"{rounds} interleaved rounds after {WARMUP} warm-up; over-floor p90 {percentile(over_floor, 0.9):+.2f} ms",
        )
    )
    return rows


def run(rounds: int = ROUNDS, with_litellm: bool = True) -> list[Row]:
    load = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(standin_vllm(STANDIN_SPEED))
        ours = stack.enter_context(gateway(upstream))
        floor_url, floor_pid = stack.enter_context(
            bare_granian("benchmarks.minimal_proxy_app:app", {"UPSTREAM_URL": upstream})
        )
        urls = {"direct": upstream, "ours": ours.base_url, "floor": floor_url}
        assert ours.process is not None
        pids = {"ours /v1/audio/transcriptions": [ours.process.pid], "floor": [floor_pid]}
        version = None
        if with_litellm:
            litellm_url, litellm_pid = stack.enter_context(litellm_proxy(upstream))
            urls["litellm"], pids["litellm"] = litellm_url, [litellm_pid]
            version = litellm_version()
        results = asyncio.run(_measure(urls, pids, rounds))
    rows = rows_from(results, rounds, version)
    rows[-1].note += f"; load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--no-litellm", action="store_true", help="measure without LiteLLM")
    args = parser.parse_args(argv)
    rows = run(args.rounds, not args.no_litellm)
    print_rows(rows)
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
