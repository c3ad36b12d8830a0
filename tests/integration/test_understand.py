"""POST /understand/ in process: against the stand-in vLLM, and the 501 of the embedded engine."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.audio_fixtures import FixtureSet, make_tone
from tests.support.requests import b64
from tests.support.standin_thread import ThreadedStandIn


def _files(fixtures: FixtureSet, *specs: tuple[str, int, int]) -> list[dict]:
    return [{"data": b64(fixtures.speech(c, r, ch).path), "format": c} for c, r, ch in specs]


def test_question_about_several_recordings_in_any_container(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    files = _files(audio_fixtures, ("mp3", 44100, 2), ("flac", 22050, 1), ("m4a", 48000, 2))
    response = client.post(
        "/understand/",
        json={
            "audio_files": files,
            "question": "What are these about?",
            "temperature": 0.5,
            "max_tokens": 64,
            "top_p": 0.9,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    received = standin.server.requests[-1]
    assert received.endpoint == "/v1/chat/completions"
    assert received.num_audio_parts == 3
    assert received.format_labels == ["wav", "wav", "wav"]
    assert all((a.container, a.sample_rate, a.channels) == ("wav", 16000, 1) for a in received.audios)
    assert (received.temperature, received.top_p, received.max_tokens) == (0.5, 0.9, 64)
    assert received.stream is False
    # The stand-in's answer describes what it received; the gateway passes it on unchanged.
    total = sum(a.duration_s for a in received.audios)
    assert (
        body["answer"]
        == f"3 audio(s) totalling {total:.2f} seconds; question: What are these about?"[: len(body["answer"])]
    )
    assert body["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert len(body["audio_files"]) == 3
    assert body["audio_duration_seconds"] == pytest.approx(
        sum(f["audio_duration_seconds"] for f in body["audio_files"]), abs=0.01
    )
    assert body["model"] == "mistralai/Voxtral-Mini-3B-2507"


def test_defaults_are_the_seeds(client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    response = client.post(
        "/understand/", json={"audio_files": _files(audio_fixtures, ("wav", 16000, 1)), "question": "Why?"}
    )
    assert response.status_code == 200, response.text
    received = standin.server.requests[-1]
    assert (received.temperature, received.max_tokens, received.top_p) == (0.2, 500, 0.95)


def test_six_files_are_refused_before_anything_is_sent(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    files = _files(audio_fixtures, *[("wav", 16000, 1)] * 6)
    response = client.post("/understand/", json={"audio_files": files, "question": "Why?"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "audio_files"
    assert "5" in response.json()["error"]["message"]
    assert standin.server.requests == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"question": "   "}, "question"),
        ({"question": "x" * 5000}, "question"),
        ({"temperature": 2.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 100000}, "max_tokens"),
        ({"audio_files": []}, "audio_files"),
    ],
)
def test_out_of_range_fields_are_named(
    client: httpx.Client, audio_fixtures: FixtureSet, extra: dict, field: str
):
    body = {"audio_files": _files(audio_fixtures, ("wav", 16000, 1)), "question": "Why?", **extra}
    response = client.post("/understand/", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_undecodable_file_is_named_by_position(client: httpx.Client, audio_fixtures: FixtureSet):
    files = [
        *_files(audio_fixtures, ("wav", 16000, 1)),
        {"data": b64(b"not audio at all" * 64), "format": "mp3"},
    ]
    response = client.post("/understand/", json={"audio_files": files, "question": "Why?"})
    assert response.status_code == 415
    assert response.json()["error"]["field"] == "audio_files[1].data"


def test_total_audio_over_forty_minutes_is_refused(client: httpx.Client, standin: ThreadedStandIn, tmp_path):
    tone = make_tone(tmp_path / "t.mp3", 850, fmt="mp3", bitrate="8k")
    files = [{"data": b64(tone), "format": "mp3"}] * 3
    response = client.post("/understand/", json={"audio_files": files, "question": "Why?"})
    assert response.status_code == 413
    assert "2400" in response.json()["error"]["message"]
    assert standin.server.requests == []


def test_streamed_answer_arrives_as_server_sent_events(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    body = {
        "audio_files": _files(audio_fixtures, ("ogg", 16000, 1)),
        "question": "What is said?",
        "stream": True,
    }
    events: list[tuple[str, dict]] = []
    with client.stream("POST", "/understand/", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event or "", json.loads(line[6:])))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert kinds.count("delta") >= 2
    done = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "delta") == done["answer"]
    assert done["usage"]["completion_tokens"] > 0
    assert done["finish_reason"] == "stop"
    assert standin.server.requests[-1].stream is True


def test_streamed_request_refused_upstream_gets_its_status(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.fail_next(400, "bad audio")
    body = {"audio_files": _files(audio_fixtures, ("wav", 16000, 1)), "question": "Why?", "stream": True}
    response = client.post("/understand/", json=body)
    assert response.status_code == 400
    assert "bad audio" in response.json()["error"]["message"]


def test_embedded_engine_answers_501_explaining_how_to_configure(
    embedded_client: httpx.Client, audio_fixtures: FixtureSet
):
    body = {"audio_files": _files(audio_fixtures, ("wav", 16000, 1)), "question": "Why?"}
    response = embedded_client.post("/understand/", json=body)
    assert response.status_code == 501
    message = response.json()["error"]["message"]
    assert "VOXTRAL_HOST" in message and "vllm serve" in message
