"""The gateway in process in front of the stand-in behaving as vLLM 0.33: a full queue (one server:
503 with Retry-After; several: failover), a dead engine, Arabic, system prompts beside audio, and
transcription text streamed as it is generated."""

from __future__ import annotations

import base64
import json
import time

import httpx

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"


def _transcribe(client: httpx.Client, wav: bytes, **fields: str) -> httpx.Response:
    return client.post(
        "/v1/audio/transcriptions",
        files={"file": ("clip.wav", wav, "audio/wav")},
        data={"model": MODEL, **fields},
    )


def test_one_busy_server_is_503_with_retry_after(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    standin.server.engine.max_num_queued_reqs = 0  # every request overflows the queue
    try:
        response = _transcribe(client, wav)
    finally:
        standin.server.engine.max_num_queued_reqs = None
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "model_busy" and "model server is busy" in error["message"]
    assert {r.status for r in standin.server.requests} == {503}


def test_a_busy_server_of_a_pool_is_failed_over_and_stays_in(audio_fixtures: FixtureSet):
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    with ThreadedStandIn(max_num_queued_reqs=0) as busy, ThreadedStandIn() as free:
        env = {"VOXTRAL_BACKENDS": f"{busy.base_url},{free.base_url}", "HEALTH_CACHE_SECONDS": "0"}
        with sync_client(gateway_app(env)) as client:
            statuses = [_transcribe(client, wav).status_code for _ in range(6)]
            health = client.get("/health/").json()
    assert statuses == [200] * 6
    assert len(free.server.requests) == 6 and {r.status for r in busy.server.requests} == {503}
    assert {m["url"]: m["state"] for m in health["backends"]}[busy.base_url] == "healthy"


def test_a_dead_engine_is_model_unavailable(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    standin.server.engine.dead = True
    try:
        response = _transcribe(client, wav)
        health = client.get("/health/")
    finally:
        standin.server.engine.dead = False
    assert response.status_code == 503 and response.json()["error"]["code"] == "model_unavailable"
    assert "Retry-After" not in response.headers
    assert health.status_code == 503


def test_arabic_is_accepted(client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    response = _transcribe(client, wav, language="ar")
    assert response.status_code == 200, response.text
    assert response.json()["text"].endswith(" in ar")
    assert standin.server.requests[-1].fields["language"] == "ar"


def test_a_system_prompt_beside_audio_is_folded_into_the_user_turn(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    audio = {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}
    messages = [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": [audio, {"type": "text", "text": "What is it?"}]},
    ]
    response = client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages})
    assert response.status_code == 200, response.text
    sent = standin.server.requests[-1].fields["messages"]
    assert [m["role"] for m in sent] == ["user"]
    assert [p["type"] for p in sent[0]["content"]] == ["text", "input_audio", "text"]
    assert sent[0]["content"][0]["text"] == "Answer in one word."


def test_the_standin_refuses_system_and_audio_as_vllm_does(
    standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    """What the gateway avoids: Voxtral Mini's tokenizer (v7) refusing a system message beside audio."""
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    messages = [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}]},
    ]
    response = httpx.post(
        f"{standin.base_url}/v1/chat/completions", json={"model": MODEL, "messages": messages}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Found system messages at indexes [0] and audio chunks in messages at indexes [1]. "
        "This is not allowed prior to the tokenizer version 13.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


def test_streamed_text_arrives_as_it_is_generated(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    """Upstream `stream=true`: several deltas, the first long before the clip's simulated work ends."""
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    deltas: list[tuple[float, str]] = []
    started = time.perf_counter()
    with client.stream(
        "POST",
        "/v1/audio/transcriptions",
        files={"file": ("clip.wav", wav, "audio/wav")},
        data={"model": MODEL, "stream": "true"},
    ) as response:
        assert response.status_code == 200
        events = [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]
        for event in events:
            if event["type"] == "transcript.text.delta":
                deltas.append((time.perf_counter() - started, event["delta"]))
    assert standin.server.requests[-1].stream
    assert len(deltas) > 3
    assert "".join(d for _, d in deltas) == events[-1]["text"]
    assert events[-1]["type"] == "transcript.text.done"


def _streamed_chat(client: httpx.Client, wav: bytes) -> tuple[httpx.Response, list[str]]:
    """A streamed chat completion: the response, and the `data:` payloads it carried."""
    audio = {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}}
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": [audio, {"type": "text", "text": "What is said?"}]}],
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.read()
    return response, [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


def test_one_busy_server_refuses_a_streamed_chat_with_503_and_retry_after(
    client: httpx.Client, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    standin.server.engine.max_num_queued_reqs = 0
    try:
        response, _ = _streamed_chat(client, wav)
    finally:
        standin.server.engine.max_num_queued_reqs = None
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "model_busy"
    assert [r.status for r in standin.server.requests] == [503]


def test_a_busy_server_of_a_pool_is_failed_over_for_streamed_chat(audio_fixtures: FixtureSet):
    """The 503 comes before any byte of the answer, so the request is sent to the other server, and
    the client sees one whole stream from it."""
    wav = audio_fixtures.speech("wav", 16000, 1).path.read_bytes()
    with ThreadedStandIn(max_num_queued_reqs=0) as busy, ThreadedStandIn() as free:
        env = {"VOXTRAL_BACKENDS": f"{busy.base_url},{free.base_url}", "BACKEND_ROUTING": "local"}
        with sync_client(gateway_app(env)) as client:
            results = [_streamed_chat(client, wav) for _ in range(4)]
    for response, payloads in results:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        assert payloads[-1] == "[DONE]"
        assert "".join(
            c["delta"].get("content") or "" for p in payloads[:-1] for c in json.loads(p)["choices"]
        )
    assert len(free.server.requests) == 4 and all(r.stream for r in free.server.requests)
    # Routing rotates between the two idle servers, so the busy one was chosen first at least once.
    assert busy.server.requests and {r.status for r in busy.server.requests} == {503}
