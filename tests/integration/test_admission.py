"""Admission control over real HTTP: the stand-in vLLM is slowed down, the slot and the queue fill,
the rest is refused at once with 503 + Retry-After, a wait past its limit is refused, then the gateway
recovers."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn

UPSTREAM_SECONDS = 2.0
MAX_WAIT_SECONDS = 1.0


@pytest.fixture(scope="module")
def standin() -> Iterator[ThreadedStandIn]:
    with ThreadedStandIn(delay_seconds=UPSTREAM_SECONDS) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(standin: ThreadedStandIn) -> Iterator[GatewayProcess]:
    env = {
        **standin.gateway_env(),
        "ADMISSION_MAX_IN_FLIGHT": "1",
        "ADMISSION_QUEUE_LIMIT": "1",
        "ADMISSION_MAX_WAIT_SECONDS": str(MAX_WAIT_SECONDS),
    }
    with GatewayProcess(env=env) as process:
        yield process


def post_all(gateway: GatewayProcess, body: dict, count: int) -> list[tuple[httpx.Response, float]]:
    def one(_: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60)
        return response, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def reasons(results: list[tuple[httpx.Response, float]]) -> list[str]:
    return sorted(r.json()["error"]["details"]["reason"] for r, _ in results if r.status_code == 503)


def test_the_queue_fills_requests_are_refused_with_retry_after_then_it_recovers(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    standin.server.reset()

    # One slot, a queue of one: of five at once, one runs, one waits (past its limit), three are refused.
    results = post_all(gateway, body, 5)
    statuses = sorted(r.status_code for r, _ in results)
    assert statuses == [200, 503, 503, 503, 503]
    assert reasons(results) == ["queue_full", "queue_full", "queue_full", "waited_too_long"]
    for response, seconds in results:
        if response.status_code == 503:
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["code"] == "overloaded"
            if response.json()["error"]["details"]["reason"] == "queue_full":
                assert seconds < UPSTREAM_SECONDS  # refused at once, not after a wait
    assert standin.server.max_in_flight == 1  # never more than ADMISSION_MAX_IN_FLIGHT upstream

    # The gate now knows a request holds its slot ~2 s: a second request would wait longer than 1 s,
    # so it is refused at once instead of waiting and failing.
    results = post_all(gateway, body, 2)
    assert sorted(r.status_code for r, _ in results) == [200, 503]
    assert reasons(results) == ["expected_wait"]
    assert next(seconds for r, seconds in results if r.status_code == 503) < UPSTREAM_SECONDS

    # Recovery: alone, a request is served; the counters add up.
    assert httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60).status_code == 200
    metrics = scrape(gateway.base_url)
    rejections = "voxtral_gateway_admission_rejections_total"
    assert value(metrics, rejections, reason="queue_full") == 3
    assert value(metrics, rejections, reason="waited_too_long") == 1
    assert value(metrics, rejections, reason="expected_wait") == 1
    assert value(metrics, "voxtral_gateway_backend_requests_in_flight") == 0
    assert value(metrics, "voxtral_gateway_backend_requests_queued") == 0
    health = httpx.get(f"{gateway.base_url}/health/").json()
    assert health["admission"] == {"in_flight": 0, "queued": 0, "max_in_flight": 1, "queue_limit": 1}
