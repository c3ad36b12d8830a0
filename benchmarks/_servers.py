"""The processes a benchmark talks to, each on a free loopback port: the stand-in vLLM (simulated
mode), the gateway (`run_server.py`, one worker, vLLM backend), and a bare granian ASGI app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.support.gateway_process import GatewayProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEED = 27.0
"""Audio seconds the stand-in 'processes' per second (a GPU serving Voxtral Mini, roughly)."""

# The gateway as measured: no rate limits (they have their own row, P6), vLLM backend.
GATEWAY_ENV = {
    "BACKEND": "vllm",
    "RATE_LIMIT_ENABLED": "false",
    "WORKERS": "1",
    "DEBUG": "false",
}


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@contextmanager
def standin_vllm(speed: float = DEFAULT_SPEED, args: tuple[str, ...] = ()) -> Iterator[str]:
    """The stand-in vLLM in its own process (`args`: more of its command-line options); yields its base
    URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standin_vllm", "--port", str(port), "--speed", str(speed), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base_url}/health", process, 30, "the stand-in vLLM")
        yield base_url
    finally:
        _stop(process)


@contextmanager
def gateway(upstream_url: str, env: dict[str, str] | None = None) -> Iterator[GatewayProcess]:
    """The gateway in front of `upstream_url`, as `run_server.py` starts it."""
    port = upstream_url.rsplit(":", 1)[1]
    process = GatewayProcess(
        env={**GATEWAY_ENV, "VOXTRAL_HOST": "127.0.0.1", "VOXTRAL_PORT": port, **(env or {})}
    )
    with process:
        yield process


@contextmanager
def bare_granian(target: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`granian --interface asgi` serving `target` with the gateway's options; yields (URL, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            target,
        ],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base_url}/health/", process, 30, f"granian {target}")
        yield base_url, process.pid
    finally:
        _stop(process)
