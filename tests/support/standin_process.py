"""The stand-in vLLM as its own process, for tests that kill a server outright (SIGKILL, no goodbye)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.gateway_process import ROOT, free_port


class StandInProcess:
    """`delay_seconds` per request, or `speed` (audio seconds per second of work) to simulate a GPU."""

    def __init__(
        self,
        log_dir: Path,
        delay_seconds: float = 0.0,
        port: int | None = None,
        speed: float | None = None,
    ):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.delay_seconds = delay_seconds
        self.speed = speed
        self.log_path = log_dir / f"standin-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> StandInProcess:
        command = [sys.executable, "-m", "tests.standin_vllm", "--port", str(self.port)]
        command += ["--delay-seconds", str(self.delay_seconds)]
        if self.speed:
            command += ["--speed", str(self.speed)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"stand-in exited: {self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"stand-in on port {self.port} did not start")

    def gateway_env(self) -> dict[str, str]:
        return {"VOXTRAL_HOST": "127.0.0.1", "VOXTRAL_PORT": str(self.port), "HEALTH_CACHE_SECONDS": "0"}

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def __enter__(self) -> StandInProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
