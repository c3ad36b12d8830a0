"""Admission control, the gateway in process: the stand-in vLLM is slowed down, the slot and the queue fill,
the rest is refused at once with 503 + Retry-After, a wait past its limit is refused, then the gateway
recovers."""

from __future__ import annotations

import concurrent.futures
import time

import httpx

from tests.audio_fixtures import FixtureSet
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn

UPSTREAM_SECONDS = 2.0
MAX_WAIT_SECONDS = 1.0


STANDIN_OPTIONS = {"delay_seconds": UPSTREAM_SECONDS}
GATEWAY_ENV = {
    "ADMISSION_MAX_IN_FLIGHT": "1",
    "ADMISSION_QUEUE_LIMIT": "1",
    "ADMISSION_MAX_WAIT_SECONDS": str(MAX_WAIT_SECONDS),
}


def post_all(client: httpx.Client, body: dict, count: int) -> list[tuple[httpx.Response, float]]:
    def one(_: int) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = client.post("/transcribe/", json=body, timeout=60)
        return response, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def reasons(results: list[tuple[httpx.Response, float]]) -> list[str]:
    return sorted(r.json()["error"]["details"]["reason"] for r, _ in results if r.status_code == 503)


def test_the_queue_fills_requests_are_refused_with_retry_after_then_it_recovers(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    # Counters are the process's (other in-process apps of the session share them): count the increase.
    before = scrape(client)

    # One slot, a queue of one: of five at once, one runs, one waits (past its limit), three are refused.
    results = post_all(client, body, 5)
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
    results = post_all(client, body, 2)
    assert sorted(r.status_code for r, _ in results) == [200, 503]
    assert reasons(results) == ["expected_wait"]
    assert next(seconds for r, seconds in results if r.status_code == 503) < UPSTREAM_SECONDS

    # Recovery: alone, a request is served; the counters add up.
    assert client.post("/transcribe/", json=body, timeout=60).status_code == 200
    metrics = scrape(client)
    rejections = "voxtral_gateway_admission_rejections_total"

    def rejected(reason: str) -> float:
        return value(metrics, rejections, reason=reason) - value(before, rejections, reason=reason)

    assert rejected("queue_full") == 3
    assert rejected("waited_too_long") == 1
    assert rejected("expected_wait") == 1
    assert value(metrics, "voxtral_gateway_backend_requests_in_flight") == 0
    assert value(metrics, "voxtral_gateway_backend_requests_queued") == 0
    health = client.get("/health/").json()
    assert health["admission"] == {"in_flight": 0, "queued": 0, "max_in_flight": 1, "queue_limit": 1}
