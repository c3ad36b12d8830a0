"""The vLLM pool over real HTTP: two stand-in servers, requests spread by load, one server killed
mid-run (its requests are retried on the other), taken out of the pool, then put back when it returns."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_process import StandInProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.waiting import wait_until

DELAY = 2.0


def servers(gateway: GatewayProcess) -> dict[str, str]:
    return {
        s["url"]: s["state"] for s in httpx.get(f"{gateway.base_url}/health/", timeout=10).json()["backends"]
    }


def in_flight(gateway: GatewayProcess) -> dict[str, int]:
    backends = httpx.get(f"{gateway.base_url}/health/", timeout=10).json()["backends"]
    return {s["url"]: s["in_flight"] for s in backends}


def post_all(gateway: GatewayProcess, body: dict, count: int) -> list[int]:
    def one(_: int) -> int:
        return httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def served_by(gateway: GatewayProcess, url: str) -> float:
    return value(scrape(gateway.base_url), "voxtral_gateway_pool_requests_total", url=url, outcome="ok")


def test_routing_failover_and_recovery(audio_fixtures: FixtureSet, tmp_path):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    with ThreadedStandIn(delay_seconds=DELAY) as a, StandInProcess(tmp_path, delay_seconds=DELAY) as b:
        env = {
            "VOXTRAL_BACKENDS": f"{a.base_url},{b.base_url}",
            "BACKEND_HEALTH_INTERVAL_SECONDS": "0.3",
            "HEALTH_CACHE_SECONDS": "0",
        }
        with GatewayProcess(env=env) as gateway:
            assert wait_until(lambda: servers(gateway) == {a.base_url: "healthy", b.base_url: "healthy"})
            health = httpx.get(f"{gateway.base_url}/health/").json()
            assert health["backend"]["kind"] == "vllm" and health["backend"]["url"] is None

            # Least in flight: six at once are spread over both servers.
            assert post_all(gateway, body, 6) == [200] * 6
            assert len(a.server.requests) == 3 and served_by(gateway, b.base_url) == 3
            assert a.server.max_in_flight <= 3

            # B dies with requests in flight: they are retried on A, every client gets its answer.
            a.server.reset()
            retries_before = value(scrape(gateway.base_url), "voxtral_gateway_pool_retries_total")
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                running = pool.submit(post_all, gateway, body, 6)
                # Killed only once its share is in flight there (a fixed sleep raced a loaded machine).
                assert wait_until(lambda: in_flight(gateway) == {a.base_url: 3, b.base_url: 3}, interval=0.02)
                b.kill()
                assert running.result() == [200] * 6
            retried = value(scrape(gateway.base_url), "voxtral_gateway_pool_retries_total") - retries_before
            assert retried == 3  # B's share
            assert len(a.server.requests) == 3 + 3  # its share and B's, retried
            assert wait_until(lambda: servers(gateway)[b.base_url] == "unhealthy")
            health = httpx.get(f"{gateway.base_url}/health/")
            assert health.status_code == 200  # ready: A serves
            assert "1 of 2" in health.json()["backend"]["detail"]

            # Out of the pool: everything goes to A, no retries needed.
            a.server.reset()
            assert post_all(gateway, body, 4) == [200] * 4
            assert len(a.server.requests) == 4
            assert value(scrape(gateway.base_url), "voxtral_gateway_pool_retries_total") - retries_before == 3

            # B comes back on the same address: the periodic probe puts it back, it gets work again.
            b.start()
            assert wait_until(lambda: servers(gateway)[b.base_url] == "healthy")
            before = served_by(gateway, b.base_url)
            assert post_all(gateway, body, 4) == [200] * 4
            assert served_by(gateway, b.base_url) - before == 2
            logs = gateway.logs()
            assert "backend_taken_out" in logs and "backend_put_back" in logs
