"""Routing by the servers' own load across gateways: gateway 1 keeps server A busy; gateway 2, which sent
A nothing, sees that load in A's /metrics and sends its requests to B. With BACKEND_ROUTING=local the
same requests split evenly (gateway 2 only knows its own in-flight counts)."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn
from tests.support.waiting import wait_until

BUSY_SECONDS = 20.0
BUSY_REQUESTS = 6
PROBE_SECONDS = 0.3
PROBES = 6
LOAD_INTERVAL_SECONDS = 0.5
"""Gateway 2's scrape interval; a scrape counts for 3 of them, so a loaded machine delaying one scrape
does not make gateway 2 fall back to its own (empty) in-flight counts."""


def _post(gateway: GatewayProcess, body: dict) -> int:
    return httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60).status_code


@pytest.mark.parametrize(("routing", "expected_on_b"), [("load", PROBES), ("local", PROBES // 2)])
def test_a_busy_server_gets_fewer_requests_from_another_gateway(
    audio_fixtures: FixtureSet, routing: str, expected_on_b: int
):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    with ThreadedStandIn() as a, ThreadedStandIn(delay_seconds=PROBE_SECONDS) as b:
        both = {
            "VOXTRAL_BACKENDS": f"{a.base_url},{b.base_url}",
            "BACKEND_ROUTING": routing,
            "BACKEND_LOAD_INTERVAL_SECONDS": str(LOAD_INTERVAL_SECONDS),
            "BACKEND_HEALTH_INTERVAL_SECONDS": "0.3",
            "HEALTH_CACHE_SECONDS": "0",
        }
        with (
            GatewayProcess(env={**a.gateway_env(), "WORKERS": "1"}) as first,
            GatewayProcess(env={**both, "WORKERS": "1"}) as second,
        ):
            a.server.delay_seconds = BUSY_SECONDS
            with concurrent.futures.ThreadPoolExecutor(BUSY_REQUESTS + PROBES) as pool:
                busy = [pool.submit(_post, first, body) for _ in range(BUSY_REQUESTS)]
                assert wait_until(lambda: a.server.load.running == BUSY_REQUESTS, timeout=10)
                a.server.delay_seconds = PROBE_SECONDS  # A is as fast as B for new work: only load differs
                time.sleep(2.5 * LOAD_INTERVAL_SECONDS)  # gateway 2 has scraped A busy (twice or more)
                a_before = len(a.server.requests)
                # One at a time, so gateway 2's own in-flight counts are equal (zero) at each choice.
                probes = [_post(second, body) for _ in range(PROBES)]
                on_b = len(b.server.requests)
                on_a = len(a.server.requests) - a_before
                assert a.server.load.running == BUSY_REQUESTS  # still busy throughout
                assert [f.result() for f in busy] == [200] * BUSY_REQUESTS
            assert probes == [200] * PROBES
            assert (on_a, on_b) == (PROBES - expected_on_b, expected_on_b)
