"""Large JSON bodies are parsed on the decode pool, not on the event loop (the gateway in process,
against the stand-in vLLM): a body with PHP's `\\/` escapes in its base64 is accepted, and with the
decode pool's one thread held busy a large request waits for it, even one refused for a bad field."""

from __future__ import annotations

import base64
import concurrent.futures
import threading
from pathlib import Path

import httpx
import pytest

from tests.audio_fixtures import make_tone
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.standin_thread import ThreadedStandIn
from tests.support.waiting import wait_until
from voxtral_gateway.routes.json_request import OFF_LOOP_BYTES
from voxtral_gateway.runtime import Runtime

_JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The base64 of a WAV whose request body is over `OFF_LOOP_BYTES`."""
    path = make_tone(Path(tmp_path_factory.mktemp("tone")) / "tone.wav", seconds=40)
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    assert len(encoded) > OFF_LOOP_BYTES and "/" in encoded
    return encoded


def test_base64_with_escaped_slashes_is_accepted(standin: ThreadedStandIn, long_wav: str):
    plain = f'{{"audio_file": "{long_wav}", "format": "wav"}}'
    escaped = plain.replace("/", "\\/")  # what PHP's json_encode writes by default
    with sync_client(gateway_app(standin.gateway_env())) as client:
        answers = [client.post("/transcribe/", content=body, headers=_JSON) for body in (plain, escaped)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    first, second = (a.json() for a in answers)
    assert second["transcription"] == first["transcription"] and second["transcription"]
    assert second["audio_duration_seconds"] == first["audio_duration_seconds"] == pytest.approx(40, abs=0.1)


def _bad_bodies(wav: str) -> list[tuple[str, str, str]]:
    """(path, body, the field its error names): each too large to parse on the event loop."""
    files = f'[{{"data": "{wav}", "format": "wav"}}]'
    chat_part = f'{{"type": "input_audio", "input_audio": "{wav}!"}}'  # Mistral's string, not base64
    escaped = wav.replace("/", "\\/")
    return [
        ("/transcribe/", f'{{"audio_file": "{escaped}", "temperature": 3}}', "temperature"),
        ("/transcribe/batch/", f'{{"audio_files": {files}, "temperature": 3}}', "temperature"),
        ("/understand/", f'{{"audio_files": {files}, "question": "Why?", "max_tokens": 0}}', "max_tokens"),
        (
            "/v1/chat/completions",
            f'{{"model": "voxtral", "messages": [{{"role": "user", "content": [{chat_part}]}}]}}',
            "messages[0].content[0].input_audio",
        ),
    ]


@pytest.mark.parametrize("case", range(4), ids=["transcribe", "batch", "understand", "chat"])
def test_a_large_body_waits_for_the_decode_pool(standin: ThreadedStandIn, long_wav: str, case: int):
    path, body, field = _bad_bodies(long_wav)[case]
    app = gateway_app({**standin.gateway_env(), "DECODE_WORKERS": "1"})
    release = threading.Event()
    with sync_client(app) as client, concurrent.futures.ThreadPoolExecutor(1) as poster:
        runtime = app.state["runtime"]
        assert isinstance(runtime, Runtime)
        pool = runtime.decode_pool
        holder = client.blocking_portal.start_task_soon(pool.run, release.wait)  # its one thread
        try:
            assert wait_until(pool._slots.locked)
            request = poster.submit(client.post, path, content=body, headers=_JSON)
            # The request's parse queues behind the held thread (parsed on the loop, it would answer).
            assert wait_until(lambda: pool._waiting == 1 or request.done())
            assert not request.done(), request.result().text
        finally:
            release.set()
            holder.result(30)
        response = request.result(60)
    assert response.status_code in (400, 422), response.text
    assert field in _named_field(response)


def _named_field(response: httpx.Response) -> str:
    error = response.json()["error"]
    return str(error.get("field") or error.get("param") or error)
