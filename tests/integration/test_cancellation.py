"""A client that goes away stops the work done for it: the upstream vLLM request is cancelled (the
stand-in sees it aborted), an embedded job that has not started is never run."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.metrics import scrape, value
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn
from tests.support.waiting import wait_until

STANDIN_OPTIONS = {"delay_seconds": 5.0}


def test_a_client_that_disconnects_cancels_the_upstream_request(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{gateway.base_url}/transcribe/", json=body, headers={"X-Request-ID": "gone-1"}, timeout=1.0
        )
    # The stand-in would answer after 5 s: the gateway hung up on it long before.
    assert wait_until(lambda: standin.server.aborted == 1, timeout=3.0)
    assert len(standin.server.requests) == 1 and standin.server.requests[0].aborted
    metrics = scrape(gateway.base_url)
    assert value(metrics, "voxtral_gateway_client_disconnects_total", route="/transcribe") == 1
    status = {"method": "POST", "route": "/transcribe", "status": "499"}
    assert value(metrics, "voxtral_gateway_http_requests_total", **status) == 1
    outcome = {"backend": "vllm", "operation": "transcribe", "outcome": "cancelled"}
    assert value(metrics, "voxtral_gateway_upstream_request_duration_seconds_count", **outcome) == 1
    assert '"request_id": "gone-1"' in gateway.logs() and '"status": 499' in gateway.logs()


def test_a_response_that_completes_is_not_counted_as_a_disconnect(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.delay_seconds = 0.0
    try:
        before = scrape(gateway.base_url)
        body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
        for _ in range(3):  # each on a new connection, closed as soon as the answer is read
            assert httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=30).status_code == 200
        after = scrape(gateway.base_url)
        name = "voxtral_gateway_client_disconnects_total"
        assert value(after, name, route="/transcribe") == value(before, name, route="/transcribe")
    finally:
        standin.server.delay_seconds = 5.0


def long_speech(audio_fixtures: FixtureSet, path: Path, repeats: int) -> Path:
    """The multi-utterance clip `repeats` times over (16 kHz mono WAV)."""
    with wave.open(str(audio_fixtures.multi_utterance.path)) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * repeats)
    return path


def test_an_embedded_job_not_started_is_dropped_when_its_client_leaves(audio_fixtures: FixtureSet, tmp_path):
    long_file = long_speech(audio_fixtures, tmp_path / "long.wav", repeats=4)  # ~92 s: a few seconds of CPU
    short_clip = audio_fixtures.speech("wav", 16000, 1).path
    env = {"BACKEND": "embedded", "EMBEDDED_CONCURRENCY": "1"}
    with GatewayProcess(env=env) as gateway:
        started_jobs = lambda: gateway.logs().count("Processing audio with duration")  # noqa: E731
        long_result: list[int] = []
        runner = threading.Thread(
            target=lambda: long_result.append(
                httpx.post(
                    f"{gateway.base_url}/transcribe/", json=transcribe_body(long_file), timeout=120
                ).status_code
            )
        )
        runner.start()
        assert wait_until(lambda: started_jobs() == 1, timeout=30)  # the long job holds the only thread
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{gateway.base_url}/transcribe/", json=transcribe_body(short_clip), timeout=0.7)
        runner.join(120)
        assert long_result == [200]
        time.sleep(0.5)
        assert started_jobs() == 1  # the short job never ran
        metrics = scrape(gateway.base_url)
        outcomes = "voxtral_gateway_upstream_request_duration_seconds_count"
        assert value(metrics, outcomes, backend="embedded", operation="transcribe", outcome="ok") == 1
        assert value(metrics, outcomes, backend="embedded", operation="transcribe", outcome="cancelled") == 1
