"""Upstream timeouts per route kind: a short first-byte limit for transcription does not touch
understanding, and a transcription past it is a 504 that names the setting (and is aborted upstream)."""

from __future__ import annotations

import time

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.requests import b64, transcribe_body
from tests.support.standin_thread import ThreadedStandIn


def test_first_byte_timeout_applies_to_its_route_kind_only(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    with ThreadedStandIn(delay_seconds=6.0) as standin:
        env = {
            **standin.gateway_env(),
            "TRANSCRIPTION_FIRST_BYTE_TIMEOUT_SECONDS": "0.5",
            "UPSTREAM_TIMEOUT_SECONDS": "30",
            "SEGMENT_RETRIES": "0",
        }
        with sync_client(gateway_app(env), timeout=30) as client:
            started = time.monotonic()
            response = client.post("/transcribe/", json=transcribe_body(clip))
            assert time.monotonic() - started < 4.5  # not the stand-in's 6 s
            assert response.status_code == 504
            error = response.json()["error"]
            assert error["code"] == "upstream_timeout"
            assert (
                "TRANSCRIPTION_FIRST_BYTE_TIMEOUT_SECONDS" in error["message"] and "0.5 s" in error["message"]
            )
            deadline = time.monotonic() + 3
            while standin.server.aborted < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert standin.server.aborted == 1

            answer = client.post(
                "/understand/",
                json={"audio_files": [{"data": b64(clip)}], "question": "What is said?"},
            )
            assert answer.status_code == 200, answer.text
