"""Audio by URL through the real HTTP routes: Mistral's `file_url`, and `audio_url` chat parts with http(s)
URLs from both SDKs, fetched by the gateway through its SSRF guard.

A real local HTTP server plays every remote: one path serves audio, one redirects to 127.0.0.1 (the
stand-in vLLM's port, not allowlisted), one trickles bytes, two are oversized. The gateway's allowlist
names this server alone (URL_FETCH_ALLOWLIST=127.0.0.1:<its port>)."""

from __future__ import annotations

import base64
import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

import openai
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import SDKError

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess, free_port
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"
MAX_FILE_MB = 1
TOTAL_TIMEOUT_SECONDS = 2
AUDIO_PORT = free_port()
GATEWAY_ENV = {
    "URL_FETCH_ALLOWLIST": f"127.0.0.1:{AUDIO_PORT}",
    "URL_FETCH_TIMEOUT_SECONDS": str(TOTAL_TIMEOUT_SECONDS),
    "MAX_FILE_SIZE_MB": str(MAX_FILE_MB),
}
_OVER_LIMIT = MAX_FILE_MB * 1024 * 1024 + 64 * 1024


class _Remote(http.server.BaseHTTPRequestHandler):
    """The remote servers a client's URLs point at."""

    audio = b""
    audio_seconds = 0.0
    redirect_target = ""
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        # The gateway hangs up on a slow or oversized answer, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        if self.path == "/speech.mp3":
            self._send(200, self.audio, {"Content-Type": "application/octet-stream"})  # a wrong hint
        elif self.path == "/to-loopback":
            self._send(302, b"", {"Location": self.redirect_target})
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.audio)))
            self.end_headers()
            for offset in range(0, len(self.audio), 512):  # 1 KiB/s: far slower than the total timeout
                self.wfile.write(self.audio[offset : offset + 512])
                self.wfile.flush()
                time.sleep(0.5)
        elif self.path == "/big-declared":
            self._send(200, b"\0" * _OVER_LIMIT, {"Content-Type": "audio/wav"})
        elif self.path == "/big-streamed":  # no Content-Length: the cap applies while reading
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(_OVER_LIMIT // 65536 + 1):
                self.wfile.write(b"\0" * 65536)
        else:
            self._send(404, b"not found", {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def remote(standin: ThreadedStandIn, audio_fixtures: FixtureSet) -> Iterator[str]:
    clip = audio_fixtures.speech("mp3", 22050, 2)
    _Remote.audio, _Remote.audio_seconds = clip.path.read_bytes(), clip.duration
    _Remote.redirect_target = f"http://127.0.0.1:{standin.port}/health"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", AUDIO_PORT), _Remote)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{AUDIO_PORT}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def mistral(gateway: GatewayProcess, standin: ThreadedStandIn, remote: str) -> Iterator[Mistral]:
    standin.server.reset()
    _Remote.requests.clear()
    with Mistral(api_key="x", server_url=gateway.base_url) as sdk:
        yield sdk


@pytest.fixture
def openai_client(gateway: GatewayProcess, standin: ThreadedStandIn, remote: str) -> Iterator[openai.OpenAI]:
    standin.server.reset()
    _Remote.requests.clear()
    with openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="x", max_retries=0) as sdk:
        yield sdk


def _refusal(mistral: Mistral, url: str) -> SDKError:
    with pytest.raises(SDKError) as info:
        mistral.audio.transcriptions.complete(model="voxtral-mini-latest", file_url=url)
    return info.value


def test_file_url_is_fetched_and_transcribed(mistral: Mistral, standin: ThreadedStandIn, remote: str):
    result = mistral.audio.transcriptions.complete(
        model="voxtral-mini-latest", file_url=f"{remote}/speech.mp3", timestamp_granularities=["segment"]
    )
    received = standin.server.requests[-1]
    assert result.text == f"audio of {received.audios[0].duration_s:.2f} seconds"
    # Served as application/octet-stream: the mp3 is sniffed from the bytes, not taken from the header.
    assert received.audios[0].duration_s == pytest.approx(_Remote.audio_seconds, abs=0.1)
    assert result.segments and result.segments[-1].end == pytest.approx(_Remote.audio_seconds, abs=0.1)
    assert _Remote.requests == ["/speech.mp3"]


def test_streamed_transcription_of_a_url(mistral: Mistral, remote: str):
    with mistral.audio.transcriptions.stream(model=MODEL, file_url=f"{remote}/speech.mp3") as stream:
        events = list(stream)
    assert events[-1].event == "transcription.done"
    assert events[-1].data.text.startswith("audio of ")


def test_redirect_to_loopback_is_refused(mistral: Mistral, standin: ThreadedStandIn, remote: str):
    error = _refusal(mistral, f"{remote}/to-loopback")
    assert error.status_code == 400
    assert "127.0.0.1 is a loopback address, which is not fetched" in error.message
    assert '"param":"file_url"' in error.body and '"code":"url_refused"' in error.body
    assert standin.server.requests == []  # the stand-in vLLM was never reached, nor asked to transcribe


def test_loopback_url_outside_the_allowlist_is_refused(mistral: Mistral, standin: ThreadedStandIn):
    error = _refusal(mistral, f"http://127.0.0.1:{standin.port}/health")
    assert error.status_code == 400 and "loopback" in error.message


def test_non_http_scheme_is_refused(mistral: Mistral):
    error = _refusal(mistral, "file:///etc/passwd")
    assert error.status_code == 400 and "only http and https URLs are fetched" in error.message


def test_trickling_server_hits_the_total_timeout(mistral: Mistral, standin: ThreadedStandIn, remote: str):
    started = time.monotonic()
    error = _refusal(mistral, f"{remote}/trickle")
    assert time.monotonic() - started < TOTAL_TIMEOUT_SECONDS + 3
    assert error.status_code == 400  # 422 in the seed API; invalid requests are 400 on /v1
    assert f"took longer than {TOTAL_TIMEOUT_SECONDS} s fetching (URL_FETCH_TIMEOUT_SECONDS)" in error.message
    assert '"code":"url_fetch_timeout"' in error.body
    assert standin.server.requests == []


@pytest.mark.parametrize("path", ["/big-declared", "/big-streamed"])
def test_oversized_file_is_refused(mistral: Mistral, standin: ThreadedStandIn, remote: str, path: str):
    error = _refusal(mistral, f"{remote}{path}")
    assert error.status_code == 413
    assert "over the limit of 1048576 bytes (MAX_FILE_SIZE_MB=1)" in error.message
    assert standin.server.requests == []


def test_file_and_file_url_together_are_refused(mistral: Mistral, remote: str, audio_fixtures: FixtureSet):
    with pytest.raises(SDKError) as info:
        mistral.audio.transcriptions.complete(
            model=MODEL,
            file={"content": audio_fixtures.speech("wav", 16000, 1).path.read_bytes(), "file_name": "a.wav"},
            file_url=f"{remote}/speech.mp3",
        )
    assert info.value.status_code == 400 and "not both" in info.value.message


def test_openai_chat_with_an_http_audio_url(
    openai_client: openai.OpenAI, standin: ThreadedStandIn, remote: str, audio_fixtures: FixtureSet
):
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    completion = openai_client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "audio_url", "audio_url": {"url": f"{remote}/speech.mp3"}},
                    {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
                    {"type": "text", "text": "Compare them."},
                ],
            }
        ],
    )
    received = standin.server.requests[-1]
    assert received.num_audio_parts == 2 and received.format_labels == ["wav", "wav"]
    assert completion.choices[0].message.content.startswith("2 audio(s) totalling")


def test_openai_chat_audio_url_refusal_names_the_part(openai_client: openai.OpenAI, remote: str):
    part = {"type": "audio_url", "audio_url": {"url": f"{remote}/to-loopback"}}
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [part]}])
    assert info.value.body["param"] == "messages[0].content[0].audio_url.url"
    assert info.value.body["code"] == "url_refused"


def test_mistral_chat_with_url_and_object_audio(
    mistral: Mistral, standin: ThreadedStandIn, remote: str, audio_fixtures: FixtureSet
):
    # Mistral's SDK has no class for these parts: it sends them wrapped ({"type": "UNKNOWN", "raw": ...}).
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    response = mistral.chat.complete(
        model="voxtral-mini-latest",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "audio_url", "audio_url": f"{remote}/speech.mp3"},
                    {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
                    {"type": "text", "text": "Compare them."},
                ],
            }
        ],
    )
    assert standin.server.requests[-1].num_audio_parts == 2
    assert response.choices[0].message.content.startswith("2 audio(s) totalling")


def test_mistral_chat_oversized_url_is_refused(mistral: Mistral, standin: ThreadedStandIn, remote: str):
    with pytest.raises(SDKError) as info:
        mistral.chat.complete(
            model=MODEL,
            messages=[
                {"role": "user", "content": [{"type": "audio_url", "audio_url": f"{remote}/big-streamed"}]}
            ],
        )
    assert info.value.status_code == 413
    assert '"param":"messages[0].content[0].audio_url"' in info.value.body
    assert standin.server.requests == []
