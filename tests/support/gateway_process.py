"""Start `run_server.py` as a real subprocess on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    """One gateway server process (granian and its workers) with its own environment."""

    def __init__(
        self, env: dict[str, str] | None = None, args: list[str] | None = None, log_path: Path | None = None
    ):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), **(env or {})}
        self.args = args or []
        self.log_path = log_path or Path(f"/tmp/voxtral-gateway-test-{self.port}.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0, expect_ready: bool = True) -> GatewayProcess:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "run_server.py"), *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.logs()}")
            try:
                response = httpx.get(f"{self.base_url}/health/", timeout=2)
                answered = response.status_code == 200 or (not expect_ready and response.status_code == 503)
                if answered and self._all_workers_started():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gateway did not become healthy in {timeout} s:\n{self.logs()}")

    def _all_workers_started(self) -> bool:
        """/health/ answers once one worker is up; a test that signals the server waits for all of them."""
        workers = int(self.env.get("WORKERS", "1"))
        if "--workers" in self.args:
            workers = int(self.args[self.args.index("--workers") + 1])
        logs = self.logs()
        return all(f"Started worker-{n}" in logs for n in range(1, workers + 1))

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(5)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
