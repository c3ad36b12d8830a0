"""run_server.py as a user runs it: flags, workers, start-up errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.gateway_process import ROOT, GatewayProcess


def _worker_pids(main_pid: int) -> list[int]:
    """The main process's children that are granian workers (spawned interpreters), leaving out
    multiprocessing's resource tracker, which the spawn start method adds."""
    out = subprocess.run(["pgrep", "-P", str(main_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split() if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # it exited since pgrep saw it
        return b""


def test_help_lists_the_seed_flags():
    out = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ["--host", "--port", "--voxtral-host", "--voxtral-port", "--reload", "--debug", "--workers"]:
        assert flag in out


def test_bad_setting_stops_start_up_naming_the_variable():
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "MAX_AUDIO_DURATION_SECONDS": "forever"},
        timeout=60,
    )
    assert result.returncode == 2
    assert "MAX_AUDIO_DURATION_SECONDS" in result.stderr


def test_workers_flag_runs_that_many_worker_processes():
    with GatewayProcess(args=["--workers", "4"], env={"BACKEND": "embedded"}) as gateway:
        assert gateway.process is not None
        deadline = time.monotonic() + 30
        while len(_worker_pids(gateway.process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_worker_pids(gateway.process.pid)) == 4
        # Every worker serves: many requests all succeed.
        with httpx.Client(base_url=gateway.base_url) as client:
            assert all(client.get("/health/").status_code == 200 for _ in range(20))


def test_voxtral_host_flag_selects_the_vllm_backend_and_health_reports_it_unreachable():
    # Port 9 (discard) has no listener here: the server starts anyway and says the model is unavailable.
    gateway = GatewayProcess(args=["--voxtral-host", "127.0.0.1", "--voxtral-port", "9"])
    gateway.start(expect_ready=False)
    try:
        response = httpx.get(f"{gateway.base_url}/health/")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["backend"]["kind"] == "vllm"
        assert body["backend"]["ready"] is False
        assert body["backend"]["url"] == "http://127.0.0.1:9"
        assert "unreachable" in body["backend"]["detail"]
    finally:
        gateway.stop()


def test_debug_flag_gives_console_logs():
    gateway = GatewayProcess(args=["--debug"], env={"BACKEND": "embedded"})
    with gateway:
        httpx.get(f"{gateway.base_url}/health/")
    assert "embedded_model_loaded" in gateway.logs()
    assert '"event": "embedded_model_loaded"' not in gateway.logs()
