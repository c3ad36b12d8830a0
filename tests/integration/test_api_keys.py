"""API keys over real HTTP: keys made with `python -m voxtral_gateway keys`, a gateway subprocess reading
them, per-key limits in a real Redis."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_process import ROOT, GatewayProcess
from tests.support.redis_server import SHARED_REDIS_URL, delete_prefix, unique_prefix


def keys(*args: str, keys_file: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "voxtral_gateway", "keys", *args, "--file", str(keys_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def create(name: str, keys_file: Path, *options: str) -> str:
    result = keys("create", "--name", name, *options, keys_file=keys_file)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path, dict[str, str]]]:
    keys_file = tmp_path_factory.mktemp("keys") / "api_keys.json"
    made = {
        "alice": create("alice", keys_file),
        "bob": create("bob", keys_file, "--limit", "transcription=2"),
        "carol": create("carol", keys_file),
        "dave": create("dave", keys_file),
    }
    assert keys("disable", "carol", keys_file=keys_file).returncode == 0
    prefix = unique_prefix("api-keys")
    env = {
        "BACKEND": "embedded",
        "API_KEYS_FILE": str(keys_file),
        "REDIS_URL": SHARED_REDIS_URL,
        "RATE_LIMIT_KEY_PREFIX": prefix,
        "RATE_LIMIT_TRANSCRIPTION": "4",
    }
    try:
        with GatewayProcess(env=env) as gateway:
            yield gateway, keys_file, made
    finally:
        delete_prefix(SHARED_REDIS_URL, prefix)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_stored_as_hashes_only(keyed):
    _, keys_file, made = keyed
    text = keys_file.read_text()
    for key in made.values():
        assert key.startswith("vxg_") and key not in text
        assert hashlib.sha256(key.encode()).hexdigest() in text
    listing = keys("list", keys_file=keys_file)
    assert listing.returncode == 0
    assert "carol\tdisabled" in listing.stdout and "alice\tenabled" in listing.stdout
    assert not any(key in listing.stdout for key in made.values())


def test_401_without_a_key_403_for_unknown_or_disabled_200_with_one(keyed):
    gateway, _, made = keyed
    url = gateway.base_url + "/transcribe/"
    missing = httpx.post(url, json={}, timeout=30)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.post(url, json={}, headers={"Authorization": "Basic YTpi"}, timeout=30).status_code == 401
    unknown = httpx.post(url, json={}, headers=bearer("vxg_" + "x" * 43), timeout=30)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (403, "forbidden")
    assert httpx.post(url, json={}, headers=bearer(made["carol"]), timeout=30).status_code == 403
    admitted = httpx.post(url, json={}, headers=bearer(made["dave"]), timeout=30)
    assert admitted.status_code == 422  # through the key check and the limiter, refused by validation
    assert admitted.headers["RateLimit-Limit"] == "4"
    # Monitors need no key.
    assert httpx.get(gateway.base_url + "/health/", timeout=30).status_code == 200
    assert httpx.get(gateway.base_url + "/docs/openapi.json", timeout=30).status_code == 200


def test_per_key_limits_and_keys_are_separate_identities(keyed):
    gateway, _, made = keyed
    url = gateway.base_url + "/transcribe/"
    bob = [httpx.post(url, json={}, headers=bearer(made["bob"]), timeout=30) for _ in range(3)]
    assert [r.status_code for r in bob] == [422, 422, 429]
    assert bob[0].headers["RateLimit-Limit"] == "2"
    alice = httpx.post(url, json={}, headers=bearer(made["alice"]), timeout=30)
    assert (alice.status_code, alice.headers["RateLimit-Limit"], alice.headers["RateLimit-Remaining"]) == (
        422,
        "4",
        "3",
    )


def test_a_key_disabled_on_a_running_gateway_is_refused_within_seconds(keyed):
    gateway, keys_file, made = keyed
    url = gateway.base_url + "/understand/"
    assert httpx.post(url, json={}, headers=bearer(made["alice"]), timeout=30).status_code == 422
    assert keys("disable", "alice", keys_file=keys_file).returncode == 0
    deadline = time.monotonic() + 5
    while httpx.post(url, json={}, headers=bearer(made["alice"]), timeout=30).status_code != 403:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_no_key_ever_reaches_the_logs(keyed):
    gateway, _, made = keyed
    httpx.post(gateway.base_url + "/transcribe/", json={}, headers=bearer("vxg_wrong-key-123"), timeout=30)
    logs = gateway.logs()
    assert "api_keys_loaded" in logs
    assert "vxg_wrong-key-123" not in logs
    assert not any(key in logs for key in made.values())
