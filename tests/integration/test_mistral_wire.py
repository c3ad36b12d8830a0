"""The shared `/v1` paths on the wire, in process: how a request is recognised as Mistral's or OpenAI's,
and the bytes each gets (error shapes, stream framing, the one JSON body). The SDKs themselves are in
test_mistral_sdk.py and test_openai_api.py."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"
MISTRAL_SDK = {"User-Agent": "mistral-client-python/3.7.0"}


def _wav(audio_fixtures: FixtureSet) -> bytes:
    return audio_fixtures.speech("wav", 16000, 1).path.read_bytes()


def _events(body: str) -> list[list[str]]:
    return [block.split("\n") for block in body.strip().split("\n\n")]


def test_a_mistral_only_field_makes_even_litestars_validation_errors_mistral_shaped(client: httpx.Client):
    # No `model`: Litestar refuses the form before the handler runs; `diarize` already said whose it is.
    response = client.post("/v1/audio/transcriptions", data={"diarize": "false"}, files={"file": b"x"})
    assert response.status_code == 400
    body = response.json()
    assert body["object"] == "error" and body["param"] == "model" and "error" not in body


def test_openai_requests_keep_openai_errors(client: httpx.Client):
    response = client.post("/v1/audio/transcriptions", data={"model": "gpt-9"}, files={"file": b"x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/models/gpt-9").json()["error"]["param"] == "model_id"


def test_the_sdks_user_agent_alone_makes_a_request_mistrals(client: httpx.Client):
    response = client.get("/v1/models/gpt-9", headers=MISTRAL_SDK)
    assert response.status_code == 404
    assert response.json()["object"] == "error" and response.json()["param"] == "model_id"


def test_one_json_body_for_both_sdks(client: httpx.Client, audio_fixtures: FixtureSet):
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "language": "en"},
        files={"file": _wav(audio_fixtures)},
    )
    body = response.json()
    assert set(body) == {"model", "text", "language", "usage"}  # no `segments` unless Mistral asks for them
    assert body["model"] == MODEL and body["language"] == "en"
    assert body["usage"]["type"] == "duration"
    assert body["usage"]["seconds"] == body["usage"]["prompt_audio_seconds"] >= 1


def test_mistral_stream_framing(client: httpx.Client, audio_fixtures: FixtureSet):
    response = client.post(
        "/v1/audio/transcriptions",
        data={
            "model": "voxtral-mini-2507",
            "stream": "true",
            "diarize": "false",
            "timestamp_granularities": "segment",
        },
        files={"file": ("a.wav", _wav(audio_fixtures), "audio/x-wav")},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [lines[0].removeprefix("event: ") for lines in events]
    deltas = names.count("transcription.text.delta")
    assert deltas >= 1  # the text as it is generated, before the segment it belongs to
    assert names == [
        *["transcription.text.delta"] * deltas,
        "transcription.segment",
        "transcription.language",
        "transcription.done",
    ]
    for name, lines in zip(names, events, strict=True):
        assert lines[0] == f"event: {name}" and f'"type":"{name}"' in lines[1]
    assert "[DONE]" not in response.text


def test_mistral_stream_refusal_before_it_starts_is_an_http_error(
    client: httpx.Client, standin: ThreadedStandIn
):
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": MODEL, "stream": "true", "diarize": "false"},
        files={"file": ("a.wav", b"RIFF not really", "audio/x-wav")},
    )
    assert response.status_code == 415
    assert response.json()["object"] == "error" and response.json()["param"] == "file"
    assert standin.server.requests == []


def test_urlencoded_file_url_to_loopback_is_refused(client: httpx.Client, standin: ThreadedStandIn):
    # Mistral's SDK sends a form without a file urlencoded; no allowlist here, so loopback is refused.
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": MODEL, "file_url": f"http://127.0.0.1:{standin.port}/health", "diarize": "false"},
        headers=MISTRAL_SDK,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "url_refused" and response.json()["param"] == "file_url"


@pytest.mark.parametrize(("headers", "usage_chunk"), [(MISTRAL_SDK, True), ({}, False)])
def test_chat_stream_usage_is_unasked_only_for_mistral(
    client: httpx.Client, audio_fixtures: FixtureSet, headers: dict[str, str], usage_chunk: bool
):
    audio = base64.b64encode(_wav(audio_fixtures)).decode()
    response = client.post(
        "/v1/chat/completions",
        headers=headers,
        json={
            "model": "voxtral-mini-latest",
            "stream": True,
            "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": audio}]}],
        },
    )
    events = _events(response.text)
    assert events[-1] == ["data: [DONE]"]
    assert ('"choices":[],' in events[-2][0]) is usage_chunk
