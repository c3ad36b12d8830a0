"""A server in vLLM's place that answers 200 with something other than vLLM's JSON (a proxy's HTML page,
say): the client gets 502 `upstream_error` saying the answer could not be read, never a 500, on every
route that reaches it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.requests import b64, transcribe_body

PAGE = b"<html><body>Welcome to our proxy</body></html>"


class _ProxyPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def proxy_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_page_instead_of_vllms_json_is_a_502_that_says_so(proxy_port: int, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    env = {
        "VOXTRAL_HOST": "127.0.0.1",
        "VOXTRAL_PORT": str(proxy_port),
        "VOXTRAL_REALTIME": "off",
        "SEGMENT_RETRIES": "0",
        "RATE_LIMIT_ENABLED": "false",
    }
    with sync_client(gateway_app(env), timeout=30) as client:
        transcribed = client.post("/transcribe/", json=transcribe_body(clip))
        with clip.open("rb") as audio:
            openai_style = client.post(
                "/v1/audio/transcriptions", files={"file": ("clip.wav", audio)}, data={"model": "whisper-1"}
            )
        answered = client.post(
            "/understand/", json={"audio_files": [{"data": b64(clip)}], "question": "What is said?"}
        )
    for response, what in (
        (transcribed, "transcription"),
        (openai_style, "transcription"),
        (answered, "chat"),
    ):
        assert response.status_code == 502, response.text
        error = response.json()["error"]
        assert error["code"] == "upstream_error"
        assert f"vLLM sent a {what}" in error["message"] and "cannot read" in error["message"]
