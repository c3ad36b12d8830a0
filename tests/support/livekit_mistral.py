"""Where LiveKit's Mistral STT plugin runs, for the tests that drive it.

`livekit-plugins-mistralai` pins `mistralai<3`, so it cannot live in the test venv beside the `mistralai`
3.x SDK the other tests use. Its drivers (livekit_mistral_driver.py, livekit_mistral_recognize.py) run in
its own environment: `.venv-livekit-mistral`, which `scripts/bootstrap.sh --dev` builds, or the
interpreter named by `LIVEKIT_MISTRAL_PYTHON`. Without either its tests are skipped, except in CI, where
they fail."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.gateway_process import ROOT

_BOOTSTRAPPED = ROOT / ".venv-livekit-mistral" / "bin" / "python"
PYTHON = os.environ.get("LIVEKIT_MISTRAL_PYTHON") or (str(_BOOTSTRAPPED) if _BOOTSTRAPPED.exists() else None)

needs_plugin_env = pytest.mark.skipif(
    not PYTHON and not os.environ.get("CI"),
    reason="no environment with livekit-plugins-mistralai: run scripts/bootstrap.sh --dev",
)


def run_driver(module: str, *args: str, timeout: float = 240) -> str:
    """Run `tests.support.<module>` in the plugin's environment; its standard output."""
    assert PYTHON, "CI has no .venv-livekit-mistral: scripts/bootstrap.sh --dev builds it"
    done = subprocess.run(
        [PYTHON, "-m", f"tests.support.{module}", *args],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
