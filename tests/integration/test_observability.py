"""Request ids, structured logs and Prometheus metrics of a real gateway with two granian workers,
in front of the stand-in vLLM."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets.sync.client

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn

UPSTREAM_SECRET = "upstream-secret-" + secrets.token_hex(8)


STANDIN_OPTIONS = {"delay_seconds": 0.2}
GATEWAY_ENV = {"VOXTRAL_API_KEY": UPSTREAM_SECRET, "RATE_LIMIT_BATCH": "1"}
GATEWAY_ARGS = ["--workers", "2"]  # metrics and logs of several workers


def log_lines(gateway: GatewayProcess) -> list[dict[str, Any]]:
    """Every complete line of the log; what follows the last newline is a line still being written."""
    complete = gateway.logs().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.strip()]


def wait_for_log(
    gateway: GatewayProcess, predicate: Callable[[dict[str, Any]], bool], count: int = 1
) -> list[dict[str, Any]]:
    """The log lines that match, once there are `count` (the access line is written as the response ends)."""
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in log_lines(gateway) if predicate(line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def post_concurrently(gateway: GatewayProcess, path: str, body: dict, count: int, prefix: str) -> list[int]:
    """`count` requests at once, each on its own connection (so both workers get some)."""

    def one(index: int) -> int:
        headers = {"X-Request-ID": f"{prefix}-{index}"}
        return httpx.post(f"{gateway.base_url}{path}", json=body, headers=headers, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_request_id_is_echoed_and_on_every_log_line_of_the_request(
    gateway: GatewayProcess, audio_fixtures: FixtureSet
):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    response = httpx.post(
        f"{gateway.base_url}/transcribe/", json=body, headers={"X-Request-ID": "obs-echo-1"}, timeout=60
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "obs-echo-1"
    access = wait_for_log(
        gateway, lambda line: line.get("request_id") == "obs-echo-1" and line["event"] == "request"
    )
    assert [(line["route"], line["status"], line["method"]) for line in access] == [
        ("/transcribe", 200, "POST")
    ]


def test_a_request_without_a_sane_id_gets_one_and_errors_quote_it(gateway: GatewayProcess):
    response = httpx.post(
        f"{gateway.base_url}/transcribe/", json={"audio_file": 5}, headers={"X-Request-ID": "not a sane id!"}
    )
    assert response.status_code == 422
    request_id = response.headers["x-request-id"]
    assert request_id != "not a sane id!" and len(request_id) == 32
    assert response.json()["error"]["request_id"] == request_id


def test_metrics_add_up_over_both_workers(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    clip = audio_fixtures.speech("wav", 16000, 1)
    body = transcribe_body(clip.path)
    before = scrape(gateway.base_url)
    sent = 0
    for round_ in range(3):  # until both workers have served some (almost always the first round)
        assert post_concurrently(gateway, "/transcribe/", body, 12, f"obs-sum{round_}") == [200] * 12
        sent += 12
        served = wait_for_log(
            gateway,
            lambda line: line["event"] == "request" and str(line.get("request_id")).startswith("obs-sum"),
            count=sent,
        )
        pids = {line["pid"] for line in served}
        if len(pids) == 2:
            break
    assert len(pids) == 2, "one worker served every request"

    def delta(after: dict, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for _ in range(4):  # any worker answers /metrics, each with the sum over both
        after = scrape(gateway.base_url)
        http = (
            "voxtral_gateway_http_requests_total",
            {"method": "POST", "route": "/transcribe", "status": "200"},
        )
        assert delta(after, http[0], **http[1]) == sent
        duration = "voxtral_gateway_http_request_duration_seconds_count"
        assert delta(after, duration, method="POST", route="/transcribe") == sent
        audio = delta(after, "voxtral_gateway_audio_seconds_total", route="/transcribe", backend="vllm")
        assert audio == pytest.approx(sent * clip.duration, rel=0.02)
        decoded = delta(after, "voxtral_gateway_audio_bytes_decoded_total", route="/transcribe")
        assert decoded == sent * clip.path.stat().st_size
        upstream = "voxtral_gateway_upstream_request_duration_seconds_count"
        assert delta(after, upstream, backend="vllm", operation="transcribe", outcome="ok") == sent
        assert delta(after, "voxtral_gateway_realtime_factor_count", backend="vllm") == sent
        assert value(after, "voxtral_gateway_http_requests_in_flight") == 1  # this scrape
        assert value(after, "voxtral_gateway_backend_requests_in_flight") == 0
        assert value(after, "voxtral_gateway_pool_backend_up", url=standin.base_url) == 1


def test_upstream_errors_are_counted_by_kind(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    before = scrape(gateway.base_url)
    standin.server.fail_next(500, "EngineCore died", count=3, err_type="InternalServerError")
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    response = httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60)
    assert response.status_code == 502  # after the service's segment retries
    after = scrape(gateway.base_url)
    name = "voxtral_gateway_upstream_errors_total"
    failures = value(after, name, backend="vllm", kind="upstream_error") - value(
        before, name, backend="vllm", kind="upstream_error"
    )
    assert failures == 3


def test_rate_limit_rejections_are_counted_by_tier(gateway: GatewayProcess, audio_fixtures: FixtureSet):
    body = {
        "audio_files": [{"data": transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)["audio_file"]}]
    }
    before = scrape(gateway.base_url)
    statuses = post_concurrently(gateway, "/transcribe/batch/", body, 6, "obs-rate")
    refused = statuses.count(429)
    assert refused >= 4  # BATCH limit 1 per worker (in-process limiter)
    after = scrape(gateway.base_url)
    name = "voxtral_gateway_rate_limit_rejections_total"
    assert value(after, name, tier="batch") - value(before, name, tier="batch") == refused


def test_open_streams_are_a_gauge_over_both_workers(gateway: GatewayProcess):
    url = gateway.base_url.replace("http", "ws") + "/stream/transcribe"
    with websockets.sync.client.connect(url) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "ready"
        for _ in range(3):
            assert value(scrape(gateway.base_url), "voxtral_gateway_websocket_streams_open") == 1
    for _ in range(50):
        if value(scrape(gateway.base_url), "voxtral_gateway_websocket_streams_open") == 0:
            break
    assert value(scrape(gateway.base_url), "voxtral_gateway_websocket_streams_open") == 0


def test_logs_are_json_and_carry_no_audio_or_keys(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    audio = audio_fixtures.speech("mp3", 16000, 1).path.read_bytes()
    encoded = base64.b64encode(audio).decode()
    client_key = "vxg_" + secrets.token_urlsafe(24)
    headers = {"Authorization": f"Bearer {client_key}", "X-Request-ID": "obs-secrets"}
    ok = httpx.post(
        f"{gateway.base_url}/transcribe/", json={"audio_file": encoded}, headers=headers, timeout=60
    )
    assert ok.status_code == 200
    # An upstream error that echoes the audio it was sent is logged (5xx) without it.
    standin.server.fail_next(500, f"cannot read {encoded[:300]}", count=3, err_type="InternalServerError")
    failed = httpx.post(f"{gateway.base_url}/transcribe/", json={"audio_file": encoded}, headers=headers)
    assert failed.status_code == 502
    ws_url = gateway.base_url.replace("http", "ws") + f"/stream/transcribe?api_key={client_key}"
    with websockets.sync.client.connect(ws_url) as socket:
        socket.recv(timeout=10)
    logs = gateway.logs()
    lines = log_lines(gateway)  # every line is JSON: the gateway's, granian's and the libraries'
    assert any(line.get("logger") == "_granian" for line in lines)
    for secret in (encoded[1000:1060], encoded[:60], client_key, UPSTREAM_SECRET):
        assert secret not in logs
    assert "Bearer " not in logs
