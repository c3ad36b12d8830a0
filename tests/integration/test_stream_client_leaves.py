"""A client that leaves in the middle of a streamed answer: the gateway ends the model's request at once
(vLLM stops generating for nobody)."""

from __future__ import annotations

import httpx

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.requests import b64
from tests.support.standin_thread import ThreadedStandIn
from tests.support.waiting import wait_until


def test_leaving_a_streamed_answer_aborts_the_model_request(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    body = {"audio_files": [{"data": b64(clip)}], "question": "What is said?", "stream": True}
    # 30 s of simulated generation: the answer's tokens come one engine step apart after a 3 s prefill.
    with ThreadedStandIn(delay_seconds=30.0) as standin, GatewayProcess(env=standin.gateway_env()) as gateway:
        with httpx.stream("POST", f"{gateway.base_url}/understand/", json=body, timeout=60) as response:
            assert response.status_code == 200
            first = next(line for line in response.iter_lines() if line.startswith("event: "))
            assert first == "event: delta"
        # The client has gone, with the model still generating.
        assert wait_until(lambda: standin.server.aborted == 1, 5)
        request = standin.server.requests[-1]
        assert request.endpoint == "/v1/chat/completions" and request.aborted
        assert wait_until(lambda: standin.server.in_flight == 0, 5)
