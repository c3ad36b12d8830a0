"""POST /transcribe/ and GET /health/ against the gateway on its embedded defaults (the session's
server; the small-limits app in process)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jiwer
import pytest

from tests.audio_fixtures import FixtureSet, normalize_text
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.requests import transcribe_body

# tiny.en on espeak-ng speech: the fixture clips transcribe almost perfectly at 16 kHz and up.
MAX_WER = 0.25
# 8 kHz is telephone bandwidth: allow more.
MAX_WER_NARROWBAND = 0.5

DECLARED = {"mp3": "mp3", "wav": "wav", "flac": "flac", "m4a": "m4a", "ogg": "ogg", "webm": "webm"}


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalize_text(reference), normalize_text(hypothesis))


def test_health_reports_the_embedded_backend_ready(embedded_client: httpx.Client):
    response = embedded_client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["backend"] == {
        "kind": "embedded",
        "model": "whisper-tiny.en",
        "ready": True,
        "detail": None,
        "url": None,
    }
    assert body["capabilities"]["understanding"] is False
    assert body["version"]
    assert body["uptime_seconds"] > 0
    assert embedded_client.get("/health").status_code == 200


def test_health_keeps_request_id_and_server_timing(embedded_client: httpx.Client):
    response = embedded_client.get("/health/", headers={"X-Request-ID": "probe-42"})
    assert response.headers["x-request-id"] == "probe-42"
    assert response.headers["server-timing"].startswith("total;dur=")
    assert embedded_client.head("/health").status_code == 200
    assert embedded_client.post("/health/").status_code == 405  # only GET/HEAD are served


def test_transcribes_english_speech(embedded_client: httpx.Client, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("mp3", 44100, 2)
    response = embedded_client.post("/transcribe/", json=transcribe_body(clip.path, "mp3", language="en"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "transcription",
        "language_detected",
        "confidence",
        "processing_time_ms",
        "audio_duration_seconds",
    }
    assert wer(clip.text, body["transcription"]) <= MAX_WER, body["transcription"]
    assert body["language_detected"] == "en"
    assert 0.0 < body["confidence"] <= 1.0
    assert body["processing_time_ms"] > 0
    assert body["audio_duration_seconds"] == pytest.approx(clip.duration, abs=0.1)


def test_every_container_rate_and_layout_transcribes(
    embedded_client: httpx.Client, audio_fixtures: FixtureSet
):
    failures = []
    for clip in audio_fixtures.all_speech():
        response = embedded_client.post(
            "/transcribe/", json=transcribe_body(clip.path, DECLARED.get(clip.container))
        )
        if response.status_code != 200:
            failures.append(f"{clip.name}: {response.status_code} {response.text}")
            continue
        body = response.json()
        limit = MAX_WER_NARROWBAND if clip.source_rate == 8000 else MAX_WER
        error_rate = wer(clip.text, body["transcription"])
        if error_rate > limit:
            failures.append(f"{clip.name}: WER {error_rate:.2f} for {body['transcription']!r}")
        if abs(body["audio_duration_seconds"] - clip.duration) > 0.1:
            failures.append(f"{clip.name}: duration {body['audio_duration_seconds']} != {clip.duration}")
    assert not failures, "\n".join(failures)


def test_confidence_is_measured_not_constant(embedded_client: httpx.Client, audio_fixtures: FixtureSet):
    speech = embedded_client.post(
        "/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 16000, 1).path)
    )
    narrow = embedded_client.post(
        "/transcribe/", json=transcribe_body(audio_fixtures.speech("wav", 8000, 1).path)
    )
    assert speech.json()["confidence"] != narrow.json()["confidence"]


def test_declared_format_is_only_a_hint(embedded_client: httpx.Client, audio_fixtures: FixtureSet):
    mislabelled = audio_fixtures.malformed["mislabelled"]
    response = embedded_client.post("/transcribe/", json=transcribe_body(mislabelled.path, "mp3"))
    assert response.status_code == 200, response.text
    assert wer(mislabelled.text or "", response.json()["transcription"]) <= MAX_WER


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("empty", 415, ["empty"]),
        ("random_bytes", 415, ["could not be decoded"]),
        ("text_file", 415, ["could not be decoded"]),
        ("header_only_wav", 422, ["no decodable audio"]),
        ("header_only_mp3", 415, ["could not be decoded"]),
        ("truncated_mp3", 422, ["truncated", "declares"]),
        ("truncated_wav", 422, ["truncated", "declares"]),
        ("wav_96k", 422, ["96000 Hz", "8000–48000"]),
        ("wav_4k", 422, ["4000 Hz", "8000–48000"]),
        ("wav_6ch", 422, ["6 channels", "1–2"]),
        ("silent_35min", 413, ["2100", "1800"]),
    ],
)
def test_malformed_audio_gets_a_clear_client_error(
    embedded_client: httpx.Client, audio_fixtures: FixtureSet, name: str, status: int, words: list[str]
):
    edge = audio_fixtures.malformed[name]
    started = time.perf_counter()
    response = embedded_client.post("/transcribe/", json=transcribe_body(edge.path, "mp3"))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == "audio_file"
    for word in words:
        assert word in error["message"], error["message"]
    if name == "silent_35min":
        # Refused from the container's metadata, not by decoding 35 minutes of audio.
        assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"audio_file": "not base64!"}, "audio_file"),
        ({"audio_file": "data:audio/mp3;base64,AAAA"}, "audio_file"),
        ({"format": "mp3"}, "audio_file"),
        ({"audio_file": "AAAA", "language": "xx"}, "language"),
        ({"audio_file": "AAAA", "temperature": 2.5}, "temperature"),
        ({"audio_file": "AAAA", "temperature": -1}, "temperature"),
        ({"audio_file": "AAAA", "format": "exe"}, "format"),
        ({"audio_file": "AAAA", "surprise": True}, "surprise"),
    ],
)
def test_invalid_fields_are_named_in_a_422(embedded_client: httpx.Client, body: dict, field: str):
    response = embedded_client.post("/transcribe/", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == field
    assert field in error["message"]


@pytest.mark.parametrize(
    "route", ["/transcribe/", "/transcribe/batch", "/understand/", "/v1/chat/completions"]
)
def test_body_that_is_not_utf8_is_a_400(embedded_client: httpx.Client, route: str):
    response = embedded_client.post(
        route, content=b'{"audio_file": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "UTF-8" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "route", ["/transcribe/", "/transcribe/batch", "/understand/", "/v1/chat/completions"]
)
def test_json_nested_past_the_decoder_limit_is_a_400(embedded_client: httpx.Client, route: str):
    nested = b'{"audio_file": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = embedded_client.post(route, content=nested, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.text


def test_malformed_json_is_a_400(embedded_client: httpx.Client):
    response = embedded_client.post(
        "/transcribe/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_language_the_model_cannot_speak_is_refused(
    embedded_client: httpx.Client, audio_fixtures: FixtureSet
):
    clip = audio_fixtures.speech("wav", 16000, 1)
    response = embedded_client.post("/transcribe/", json=transcribe_body(clip.path, language="fr"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "language"
    assert "English" in response.json()["error"]["message"] or "en" in response.json()["error"]["message"]


@pytest.fixture(scope="module")
def small_limits_client() -> Iterator[httpx.Client]:
    env = {
        "BACKEND": "embedded",
        "MAX_FILE_SIZE_MB": "0.25",
        "MAX_REQUEST_SIZE_MB": "0.5",
        "MAX_AUDIO_DURATION_SECONDS": "3",
    }
    with sync_client(gateway_app(env)) as client:
        yield client


def test_body_over_the_limit_is_refused_with_the_limit(small_limits_client: httpx.Client):
    oversized = b"\0" * (2 * 1024 * 1024)
    response = small_limits_client.post("/transcribe/", json=transcribe_body(oversized))
    assert response.status_code == 413
    error = response.json()["error"]
    assert "MAX_FILE_SIZE_MB" in error["message"]
    assert error["details"]["limit_bytes"] > 0


def test_a_body_over_a_many_files_limit_names_that_setting(small_limits_client: httpx.Client):
    oversized = {"model": "voxtral", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    response = small_limits_client.post("/v1/chat/completions", json=oversized)
    assert response.status_code == 413
    error = response.json()["error"]
    assert "MAX_REQUEST_SIZE_MB" in error["message"] and "MAX_FILE_SIZE_MB" not in error["message"]


def test_file_over_the_limit_is_refused_naming_field_and_limit(small_limits_client: httpx.Client):
    # Just over 0.25 MiB decoded, but its base64 still fits the body limit.
    oversized = b"RIFF" + b"\0" * (256 * 1024)
    response = small_limits_client.post("/transcribe/", json=transcribe_body(oversized))
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["field"] == "audio_file"
    assert "262144 bytes" in error["message"]


def test_audio_over_the_duration_limit_is_refused(
    small_limits_client: httpx.Client, audio_fixtures: FixtureSet
):
    clip = audio_fixtures.speech("ogg", 16000, 1, codec="opus")
    response = small_limits_client.post("/transcribe/", json=transcribe_body(clip.path))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_long"
    assert "3 s" in response.json()["error"]["message"]


def test_openapi_documents_every_route_with_errors(embedded_client: httpx.Client):
    assert "swagger" in embedded_client.get("/docs").text.lower()
    schema = embedded_client.get("/docs/openapi.json").json()
    transcribe = schema["paths"]["/transcribe"]["post"]
    assert transcribe["summary"] and transcribe["description"]
    assert {"413", "415", "422", "503", "504"} <= set(transcribe["responses"])
    assert transcribe["requestBody"]["content"]["application/json"]["schema"]["examples"]
    # Every error status documents the body the gateway really sends (not Litestar's own 400 shape).
    for path, shape in [
        ("/transcribe", "ErrorResponse"),
        ("/transcribe/batch", "ErrorResponse"),
        ("/understand", "ErrorResponse"),
        ("/v1/audio/transcriptions", "OpenAIErrorResponse"),
        ("/v1/chat/completions", "OpenAIErrorResponse"),
    ]:
        responses = schema["paths"][path]["post"]["responses"]
        assert "400" in responses, path
        for status, response in responses.items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == f"#/components/schemas/{shape}", (path, status, ref)
    assert schema["paths"]["/health"]["get"]["summary"]
