"""A gateway for the realtime protocol tests: the embedded engine, an API key, no rate limits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.audio_fixtures import normalize_text
from tests.support.gateway_process import ROOT, GatewayProcess


def create_api_key(keys_file: Path, name: str = "agent") -> str:
    """A new API key in `keys_file`, made with the gateway's own CLI."""
    result = subprocess.run(
        [sys.executable, "-m", "voxtral_gateway", "keys", "create", "--name", name, "--file", str(keys_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@contextmanager
def keyed_gateway(directory: Path, env: dict[str, str] | None = None) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway that requires an API key (yielded with it)."""
    keys_file = directory / "api_keys.json"
    key = create_api_key(keys_file)
    settings = {"BACKEND": "embedded", "RATE_LIMIT_ENABLED": "false", "API_KEYS_FILE": str(keys_file)}
    with GatewayProcess(env={**settings, **(env or {})}) as gateway:
        yield gateway, key


def served_model(gateway: GatewayProcess, key: str) -> str:
    response = httpx.get(
        f"{gateway.base_url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"][0]["id"]


def ws_base(gateway: GatewayProcess) -> str:
    return gateway.base_url.replace("http://", "ws://")


def deltas_agree(deltas: str, final: str) -> bool:
    """The words the deltas spelled begin the final's words (case and punctuation aside): deltas never
    contradict the transcript; when the model's guesses agreed all along they spell all of it."""
    said = normalize_text(deltas).split()
    return normalize_text(final).split()[: len(said)] == said
