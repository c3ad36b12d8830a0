"""POST /transcribe/ and GET /health/ against the stand-in vLLM (the gateway in process)."""

from __future__ import annotations

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn

UPSTREAM_TIMEOUT = 1.5


GATEWAY_ENV = {"UPSTREAM_TIMEOUT_SECONDS": str(UPSTREAM_TIMEOUT)}


def test_health_reports_vllm_ready(client: httpx.Client, standin: ThreadedStandIn):
    response = client.get("/health/")
    assert response.status_code == 200
    backend = response.json()["backend"]
    assert backend["kind"] == "vllm"
    assert backend["model"] == "mistralai/Voxtral-Mini-3B-2507"
    assert backend["url"] == standin.base_url
    assert response.json()["capabilities"] == {
        "transcription": True,
        "live_transcription": True,
        "understanding": True,
    }


def test_any_container_reaches_vllm_as_16khz_mono_wav(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    clip = audio_fixtures.speech("webm", 48000, 2, codec="opus")
    response = client.post(
        "/transcribe/", json=transcribe_body(clip.path, "webm", language="en", temperature=0.3)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    received = standin.server.requests[-1]
    assert received.endpoint == "/v1/audio/transcriptions"
    audio = received.audios[0]
    assert (audio.container, audio.codec, audio.sample_rate, audio.channels) == ("wav", "pcm_s16le", 16000, 1)
    assert audio.duration_s == pytest.approx(clip.duration, abs=0.1)
    assert received.fields["model"] == "mistralai/Voxtral-Mini-3B-2507"
    assert received.fields["response_format"] == "json"
    assert received.fields["language"] == "en"
    assert float(received.fields["temperature"]) == 0.3
    # The stand-in's transcript describes the audio it decoded: the gateway passed it through.
    assert body["transcription"] == f"audio of {audio.duration_s:.2f} seconds in en"
    assert body["language_detected"] == "en"
    assert body["confidence"] is None  # vLLM exposes no token probabilities for transcription
    assert body["audio_duration_seconds"] == pytest.approx(clip.duration, abs=0.1)


def test_language_is_identified_from_the_transcript_when_not_given(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.transcriber = lambda audio, language: (
        "Bonjour tout le monde, comment allez-vous aujourd'hui ?"
    )
    try:
        response = client.post(
            "/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
        )
    finally:
        from tests.standin_vllm import default_transcriber

        standin.server.transcriber = default_transcriber
    assert response.status_code == 200
    assert "language" not in standin.server.requests[-1].fields
    assert response.json()["language_detected"] == "fr"


def test_vllm_400_is_passed_through_with_its_message(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.fail_next(400, "Unsupported language: 'xx'.")
    response = client.post("/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 16000, 1).path))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "upstream_rejected_request"
    assert "Unsupported language: 'xx'." in error["message"]


def test_vllm_500_is_a_502(client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    standin.server.fail_next(500, "EngineCore died", count=3, err_type="InternalServerError")  # + 2 retries
    response = client.post("/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 16000, 1).path))
    assert response.status_code == 502
    assert "EngineCore died" in response.json()["error"]["message"]


def test_slow_vllm_is_a_504(client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    standin.server.delay_seconds = UPSTREAM_TIMEOUT + 2
    response = client.post("/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 16000, 1).path))
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert f"{UPSTREAM_TIMEOUT:g} s" in response.json()["error"]["message"]


def test_vllm_down_is_a_503_model_unavailable_and_recovers(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    body = transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    standin.stop()
    try:
        response = client.post("/transcribe/", json=body)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_unavailable"
        assert "model unavailable" in response.json()["error"]["message"]
        health = client.get("/health/")
        assert health.status_code == 503
        assert health.json()["backend"]["ready"] is False
    finally:
        standin.start_again()
    assert client.get("/health/").status_code == 200
    assert client.post("/transcribe/", json=body).status_code == 200
