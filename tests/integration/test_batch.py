"""POST /transcribe/batch in process: stand-in vLLM (order, errors, concurrency) and embedded."""

from __future__ import annotations

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.requests import b64
from tests.support.standin_thread import ThreadedStandIn

CONCURRENCY = 3


STANDIN_OPTIONS = {"delay_seconds": 0.3}
GATEWAY_ENV = {"BATCH_CONCURRENCY": str(CONCURRENCY), "BATCH_MAX_FILES": "20"}


def test_twenty_files_come_back_in_order_with_concurrency_bounded(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    clips = [c for c in audio_fixtures.all_speech()][:20]
    files = [{"data": b64(c.path), "id": f"clip-{i}-{c.name}"} for i, c in enumerate(clips)]
    response = client.post("/transcribe/batch", json={"audio_files": files, "language": "en"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["results"]] == [f["id"] for f in files]
    for clip, result in zip(clips, body["results"], strict=True):
        assert result["status"] == "ok"
        assert result["audio_duration_seconds"] == pytest.approx(clip.duration, abs=0.1)
        assert result["transcription"].startswith("audio of ")
    assert (body["total_files"], body["succeeded"], body["failed"]) == (20, 20, 0)
    assert body["total_audio_duration_seconds"] == pytest.approx(sum(c.duration for c in clips), abs=0.5)
    # Concurrent (several in flight at once) but bounded by BATCH_CONCURRENCY.
    assert 2 <= standin.server.max_in_flight <= CONCURRENCY
    # 20 files × 0.3 s upstream each: well under the sequential sum.
    assert body["processing_time_ms"] < 20 * 300


def test_mixed_batch_reports_each_failure_in_place(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    good = b64(audio_fixtures.speech("wav", 16000, 1).path)
    files = [
        {"data": good},
        {"data": b64(audio_fixtures.malformed["random_bytes"].path), "format": "mp3"},
        {"data": good, "id": "named"},
        {"data": b64(audio_fixtures.malformed["wav_96k"].path)},
        {"data": b64(audio_fixtures.malformed["silent_35min"].path)},
    ]
    response = client.post("/transcribe/batch", json={"audio_files": files})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["0", "1", "named", "3", "4"]
    assert [r["status"] for r in body["results"]] == ["ok", "error", "ok", "error", "error"]
    assert [r["status_code"] for r in body["results"]] == [200, 415, 200, 422, 413]
    assert body["results"][1]["error"]["code"] == "audio_undecodable"
    assert body["results"][1]["error"]["field"] == "audio_files[1].data"
    assert "96000 Hz" in body["results"][3]["error"]["message"]
    assert (body["succeeded"], body["failed"]) == (2, 3)


def test_a_backend_failure_fails_only_its_file(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.fail_next(500, "engine hiccup", count=3)  # the first attempt and both retries
    files = [{"data": b64(audio_fixtures.speech("wav", 16000, 1).path)}]
    response = client.post("/transcribe/batch", json={"audio_files": files * 1})
    assert response.status_code == 207
    assert response.json()["results"][0]["status_code"] == 502


def test_duplicate_ids_are_refused(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    data = b64(audio_fixtures.speech("wav", 16000, 1).path)
    response = client.post(
        "/transcribe/batch", json={"audio_files": [{"data": data, "id": "a"}, {"data": data, "id": "a"}]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "audio_files[1].id"
    assert standin.server.requests == []


def test_too_many_files_are_refused_before_any_work(client: httpx.Client, standin: ThreadedStandIn):
    files = [{"data": "AAAA"}] * 21
    response = client.post("/transcribe/batch", json={"audio_files": files})
    assert response.status_code == 422
    assert "20" in response.json()["error"]["message"]
    assert standin.server.requests == []


def test_batch_works_on_the_embedded_engine(embedded_client: httpx.Client, audio_fixtures: FixtureSet):
    files = [
        {"data": b64(audio_fixtures.speech("mp3", 16000, 1).path), "id": "a"},
        {"data": b64(audio_fixtures.malformed["empty"].path), "id": "b"},
    ]
    response = embedded_client.post("/transcribe/batch", json={"audio_files": files, "language": "en"})
    assert response.status_code == 207
    first, second = response.json()["results"]
    assert first["status"] == "ok" and "umbrella" in first["transcription"].lower()
    assert 0 < first["confidence"] <= 1
    assert second["status_code"] == 415
