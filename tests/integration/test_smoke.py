"""`python -m voxtral_gateway.smoke` against real servers: the embedded gateway (exit 0, understanding
skipped), a gateway in front of the stand-in vLLM (understanding runs), and a URL nobody serves (exit 1)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.gateway_process import ROOT, GatewayProcess, free_port
from tests.support.standin_thread import ThreadedStandIn

CHECKS = ("health", "transcribe", "batch", "understand", "openai", "websocket", "metrics")


def smoke(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voxtral_gateway.smoke", "--url", url, "--timeout", "60", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def lines_by_check(output: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] in ("PASS", "FAIL", "SKIP") and words[2] in CHECKS:
            found[words[2]] = line
    return found


def test_smoke_passes_against_the_embedded_server(embedded_gateway: GatewayProcess):
    result = smoke(embedded_gateway.base_url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert set(lines) == set(CHECKS)
    assert lines["understand"].startswith("SKIP") and "embedded" in lines["understand"]
    for name in ("health", "transcribe", "batch", "openai", "websocket", "metrics"):
        assert lines[name].startswith("PASS"), lines[name]
    assert "expected words" in lines["transcribe"] and " s " in lines["transcribe"]  # timing shown
    assert "0 failed" in result.stdout


def test_smoke_runs_understanding_against_vllm():
    with ThreadedStandIn() as standin, GatewayProcess(env=standin.gateway_env()) as gateway:
        result = smoke(gateway.base_url, "--language", "")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert lines["understand"].startswith("PASS") and lines["health"].startswith("PASS")


def test_smoke_fails_against_a_broken_url():
    result = smoke(f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    lines = lines_by_check(result.stdout)
    assert set(lines) == set(CHECKS) and all(line.startswith("FAIL") for line in lines.values())
    assert "unreachable" in lines["health"]
