"""Rate limits over real HTTP: gateway subprocesses (several instances and workers) sharing a real Redis.

Requests to limited routes are cheap invalid bodies (`{}`): the limiter runs before the body is read, so
an admitted request answers 422 and a refused one 429. Each test has its own client identity (an
X-Forwarded-For address from the trusted loopback proxy), so the tests sharing the module's two gateways
share no Redis keys; the module's key prefix is unique and deleted afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from tests.support.gateway_process import GatewayProcess
from tests.support.redis_server import (
    SHARED_REDIS_URL,
    PrivateRedis,
    delete_prefix,
    keys_under,
    unique_prefix,
)

WINDOW_SECONDS = 3
LIMITS = {"transcription": 5, "understanding": 3, "batch": 2}
ROUTE = {"transcription": "/transcribe/", "understanding": "/understand/", "batch": "/transcribe/batch"}


def start_all(*gateways: GatewayProcess, workers: int = 1) -> None:
    """Start gateways in parallel and wait until every worker has loaded its model."""
    with ThreadPoolExecutor(len(gateways)) as pool:
        list(pool.map(lambda gateway: gateway.start(), gateways))
    deadline = time.monotonic() + 60
    for gateway in gateways:
        while gateway.logs().count("embedded_model_loaded") < workers:
            assert time.monotonic() < deadline, gateway.logs()
            time.sleep(0.1)


def stop_all(*gateways: GatewayProcess) -> None:
    for gateway in gateways:
        gateway.stop()


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    prefix = unique_prefix("rate-limits")
    yield prefix
    delete_prefix(SHARED_REDIS_URL, prefix)


@pytest.fixture(scope="module")
def pair(prefix: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    """Two gateway instances, two granian workers each, one Redis, one loopback proxy trusted."""
    env = {
        "BACKEND": "embedded",
        "REDIS_URL": SHARED_REDIS_URL,
        "RATE_LIMIT_KEY_PREFIX": prefix,
        "RATE_LIMIT_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "RATE_LIMIT_TRANSCRIPTION": str(LIMITS["transcription"]),
        "RATE_LIMIT_UNDERSTANDING": str(LIMITS["understanding"]),
        "RATE_LIMIT_BATCH": str(LIMITS["batch"]),
        "TRUSTED_PROXIES": "127.0.0.1",
        "EMBEDDED_CPU_THREADS": "1",
    }
    gateways = (
        GatewayProcess(env=env, args=["--workers", "2"]),
        GatewayProcess(env=env, args=["--workers", "2"]),
    )
    try:
        start_all(*gateways, workers=2)
        yield gateways
    finally:
        stop_all(*gateways)


def as_client(address: str) -> dict[str, str]:
    """Headers that make the trusted loopback proxy speak for `address`."""
    return {"X-Forwarded-For": address}


def post(base_url: str, route: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(base_url + route, json={}, headers=headers, timeout=30)


async def test_exact_across_two_instances_with_two_workers_each(pair):
    headers = as_client("198.51.100.1")
    async with (
        httpx.AsyncClient(base_url=pair[0].base_url, timeout=30) as first,
        httpx.AsyncClient(base_url=pair[1].base_url, timeout=30) as second,
    ):
        # Open the connections first, so the 16 requests leave together.
        await asyncio.gather(*(client.get("/health/") for client in (first, second) for _ in range(8)))
        requests = [client.post("/transcribe/", json={}, headers=headers) for client in (first, second) * 8]
        responses = await asyncio.gather(*requests)
    admitted = [r for r in responses if r.status_code != 429]
    refused = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in admitted] == [422] * 5
    assert len(refused) == 11
    # Each admission saw a distinct count: the check-and-record is atomic across all four workers.
    assert sorted(int(r.headers["RateLimit-Remaining"]) for r in admitted) == [0, 1, 2, 3, 4]
    for response in refused:
        assert 1 <= int(response.headers["Retry-After"]) <= WINDOW_SECONDS
        assert response.json()["error"]["code"] == "rate_limited"


def test_headers_count_down_and_the_refusal_names_tier_and_wait(pair, prefix):
    headers = as_client("198.51.100.2")
    seen = []
    for n in range(LIMITS["transcription"]):
        response = post(pair[n % 2].base_url, "/transcribe/", headers)
        assert response.status_code == 422
        assert response.headers["RateLimit-Limit"] == "5"
        assert response.headers["RateLimit-Policy"] == f"5;w={WINDOW_SECONDS}"
        assert 1 <= int(response.headers["RateLimit-Reset"]) <= WINDOW_SECONDS
        seen.append(int(response.headers["RateLimit-Remaining"]))
    assert seen == [4, 3, 2, 1, 0]
    refused = post(pair[1].base_url, "/transcribe", headers)
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Remaining"] == "0"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["tier"] == "transcription"
    assert error["details"]["retry_after_seconds"] == retry_after
    assert 0 < error["details"]["retry_after_ms"] <= WINDOW_SECONDS * 1000
    # Keys are namespaced under the prefix and expire with the window.
    client = redis.Redis.from_url(SHARED_REDIS_URL)
    bucket = f"{prefix}:rl:{{ip:198.51.100.2}}:transcription"
    assert bucket in keys_under(SHARED_REDIS_URL, prefix)
    assert 0 < client.pttl(bucket) <= WINDOW_SECONDS * 1000
    assert client.zcard(bucket) == 5  # the refusal was not counted


def test_tiers_are_independent(pair):
    headers = as_client("198.51.100.3")
    for _ in range(LIMITS["transcription"]):
        assert post(pair[0].base_url, "/transcribe/", headers).status_code == 422
    assert post(pair[0].base_url, "/transcribe/", headers).status_code == 429
    for tier in ("understanding", "batch"):
        response = post(pair[1].base_url, ROUTE[tier], headers)
        assert response.status_code == 422, tier
        assert response.headers["RateLimit-Limit"] == str(LIMITS[tier])
        assert response.headers["RateLimit-Remaining"] == str(LIMITS[tier] - 1)


def test_health_and_docs_are_never_limited(pair):
    headers = as_client("198.51.100.4")
    for tier, route in ROUTE.items():
        for _ in range(LIMITS[tier] + 1):
            post(pair[0].base_url, route, headers)
    for gateway in pair:
        for path in ["/health/", "/health", "/docs/openapi.json"] * 8:
            response = httpx.get(gateway.base_url + path, headers=headers, timeout=30)
            assert response.status_code == 200, path
            assert "RateLimit-Limit" not in response.headers


def test_the_window_slides(pair):
    headers = as_client("198.51.100.5")
    started = time.monotonic()
    for _ in range(2):
        assert post(pair[0].base_url, "/transcribe/", headers).status_code == 422
    first_two_took = time.monotonic() - started  # the second leaves the window at most this much later
    time.sleep(1.5)
    for _ in range(3):
        assert post(pair[1].base_url, "/transcribe/", headers).status_code == 422
    refused = post(pair[0].base_url, "/transcribe/", headers)
    assert refused.status_code == 429
    wait_ms = refused.json()["error"]["details"]["retry_after_ms"]
    # The first two leave the window 3 s after they came, 1.5 s after the last three came.
    assert 0 < wait_ms <= WINDOW_SECONDS * 1000 - (time.monotonic() - started - 0.5) * 1000
    time.sleep(wait_ms / 1000 + first_two_took + 0.15)
    # Exactly the two that left are available again; a fixed window would have reset all five.
    statuses = [post(pair[n % 2].base_url, "/transcribe/", headers).status_code for n in range(3)]
    assert statuses == [422, 422, 429]


def test_spoofed_forwarded_for_is_ignored_from_an_untrusted_address(pair):
    # 127.0.0.2 is not a trusted proxy: whatever it says, its own address is the identity.
    untrusted = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30)
    with untrusted:
        statuses = [
            untrusted.post(
                pair[0].base_url + "/transcribe/", json={}, headers=as_client(f"203.0.113.{n}")
            ).status_code
            for n in range(LIMITS["transcription"] + 2)
        ]
    assert statuses == [422] * 5 + [429] * 2
    # From the trusted proxy, each forwarded address is its own client.
    for n in range(LIMITS["transcription"] + 2):
        assert post(pair[0].base_url, "/transcribe/", as_client(f"203.0.113.{n}")).status_code == 422


def test_redis_stopped_mid_run_fail_open_and_fail_closed_then_recovery(tmp_path: Path):
    store = PrivateRedis(tmp_path).start()
    common = {
        "BACKEND": "embedded",
        "REDIS_URL": store.url,
        "RATE_LIMIT_TRANSCRIPTION": "2",
        "RATE_LIMIT_REDIS_TIMEOUT_SECONDS": "0.5",
        "EMBEDDED_CPU_THREADS": "1",
    }
    serving = GatewayProcess(env={**common, "RATE_LIMIT_FAIL_OPEN": "true", "RATE_LIMIT_KEY_PREFIX": "open"})
    refusing = GatewayProcess(
        env={**common, "RATE_LIMIT_FAIL_OPEN": "false", "RATE_LIMIT_KEY_PREFIX": "closed"}
    )
    try:
        start_all(serving, refusing)
        for gateway in (serving, refusing):
            assert [post(gateway.base_url, "/transcribe/", {}).status_code for _ in range(3)] == [
                422,
                422,
                429,
            ]

        store.kill()
        for _ in range(3):
            served = post(serving.base_url, "/transcribe/", {})
            assert served.status_code == 422  # no limit known: served
            assert "RateLimit-Limit" not in served.headers
            refused = post(refusing.base_url, "/transcribe/", {})
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "rate_limiter_unavailable"
            assert int(refused.headers["Retry-After"]) >= 1
        for gateway in (serving, refusing):
            assert httpx.get(gateway.base_url + "/health/", timeout=30).status_code == 200
        # One warning per interval, not one per request.
        assert serving.logs().count("rate_limit_store_unavailable") == 1

        store.start()  # empty again: the script is reloaded on NOSCRIPT, counting starts over
        for gateway, down_status in ((serving, 422), (refusing, 503)):
            deadline = time.monotonic() + 10
            while True:
                response = post(gateway.base_url, "/transcribe/", {})
                if "RateLimit-Limit" in response.headers:
                    break
                assert response.status_code == down_status
                assert time.monotonic() < deadline, gateway.logs()
                time.sleep(0.2)
            assert (response.status_code, response.headers["RateLimit-Remaining"]) == (422, "1")
            assert [post(gateway.base_url, "/transcribe/", {}).status_code for _ in range(2)] == [422, 429]
        assert "rate_limit_store_recovered" in serving.logs()
    finally:
        stop_all(serving, refusing)
        store.kill()
