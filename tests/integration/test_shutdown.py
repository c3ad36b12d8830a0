"""SIGTERM: requests in flight complete, open streams get their final messages and a clean close, new
work is refused; past SHUTDOWN_TIMEOUT_SECONDS what is left is cancelled and the server exits."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import signal
import time

import httpx
import websockets.sync.client

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.requests import transcribe_body
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import messages_until_closed
from tests.support.waiting import wait_until


def test_sigterm_drains_requests_and_streams(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    body = transcribe_body(clip)
    with ThreadedStandIn(delay_seconds=2.0) as standin:
        gateway = GatewayProcess(env=standin.gateway_env(), args=["--workers", "2"]).start()
        url = gateway.base_url.replace("http", "ws") + "/stream/transcribe"
        try:
            with (
                websockets.sync.client.connect(url) as socket,
                concurrent.futures.ThreadPoolExecutor(5) as pool,
            ):
                assert json.loads(socket.recv(timeout=10))["type"] == "ready"
                chunk = {
                    "chunk_id": 0,
                    "audio_data": base64.b64encode(clip.read_bytes()).decode(),
                    "format": "wav",
                }
                socket.send(json.dumps(chunk))  # audio, no is_final: the stream stays open
                in_flight = [
                    pool.submit(lambda: httpx.post(f"{gateway.base_url}/transcribe/", json=body, timeout=60))
                    for _ in range(4)
                ]
                # The four requests (and the stream's utterance) are at the slow stand-in now.
                assert wait_until(lambda: standin.server.in_flight >= 5)
                stopped_at = time.monotonic()
                stopper = pool.submit(gateway.stop, signal.SIGTERM, 30)
                messages = messages_until_closed(socket)
                close_code = socket.close_code
                responses = [future.result() for future in in_flight]
                exit_code = stopper.result()
            drain_seconds = time.monotonic() - stopped_at
        finally:
            gateway.stop()

    assert [r.status_code for r in responses] == [200] * 4
    kinds = [m["type"] for m in messages]
    assert kinds[-3:] == ["final", "done", "error"], kinds
    assert messages[-1]["code"] == "shutting_down" and messages[-1]["severity"] == "fatal"
    assert close_code == 1001
    logs = gateway.logs()
    assert exit_code == 0, logs
    assert drain_seconds < 25, logs  # as soon as the work is done, not at the 30 s deadline
    assert logs.count('"event": "shutdown_started"') == 2  # one per worker
    assert "shutdown_deadline_cancels" not in logs


def test_work_still_running_at_the_deadline_is_cancelled_and_the_server_exits(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    with ThreadedStandIn(delay_seconds=20.0) as standin:
        env = {**standin.gateway_env(), "SHUTDOWN_TIMEOUT_SECONDS": "1"}
        gateway = GatewayProcess(env=env).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                body = transcribe_body(clip)
                slow = pool.submit(httpx.post, f"{gateway.base_url}/transcribe/", json=body, timeout=60)
                assert wait_until(lambda: standin.server.in_flight == 1)
                started = time.monotonic()
                assert gateway.stop(signal.SIGTERM, 15) == 0
                stopped_in = time.monotonic() - started
                response = slow.result()
        finally:
            gateway.stop()
        assert wait_until(lambda: standin.server.aborted == 1, 5)  # the upstream request was cancelled
    assert stopped_in < 8  # the deadline, not the stand-in's 20 s
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "shutting_down"
    assert "shutdown_deadline_cancels" in gateway.logs()


def test_new_work_is_refused_while_streams_finish(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    with ThreadedStandIn(delay_seconds=2.0) as standin:
        gateway = GatewayProcess(env=standin.gateway_env()).start()
        try:
            url = gateway.base_url.replace("http", "ws") + "/stream/transcribe"
            with (
                websockets.sync.client.connect(url) as socket,
                httpx.Client(base_url=gateway.base_url) as client,
            ):
                socket.recv(timeout=10)
                chunk = {
                    "chunk_id": 0,
                    "audio_data": base64.b64encode(clip.read_bytes()).decode(),
                    "format": "wav",
                }
                socket.send(json.dumps(chunk))
                assert client.get("/health/").status_code == 200  # a keep-alive connection, opened before
                # The stream's last utterance is at the slow stand-in: its goodbye takes ~2 s.
                assert wait_until(lambda: standin.server.in_flight == 1)
                assert gateway.process is not None
                gateway.process.send_signal(signal.SIGTERM)  # the main process only, as systemd does
                assert wait_until(lambda: '"event": "shutdown_started"' in gateway.logs())
                refused = client.get("/health/")
                messages = messages_until_closed(socket)
        finally:
            gateway.stop()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "shutting_down"
    assert refused.headers["connection"] == "close" and int(refused.headers["retry-after"]) >= 1
    assert [m["type"] for m in messages][-2:] == ["done", "error"]
