"""SIGTERM with realtime sessions open: each finishes what it holds (the utterance at the slow stand-in),
then gets its protocol's `error` (shutting_down) and a 1001 close, as /stream/transcribe does."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import signal
from typing import Any

import websockets.sync.client

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.realtime_audio import raw_audio
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import messages_until_closed


def _next(socket: websockets.sync.client.ClientConnection, kind: str) -> dict[str, Any]:
    while (message := json.loads(socket.recv(timeout=30)))["type"] != kind:
        pass
    return message


def test_sigterm_finishes_realtime_sessions_then_closes_them_with_1001(audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("wav", 16000, 1).path
    pcm16, pcm24 = raw_audio(clip, 16_000), raw_audio(clip, 24_000)
    with ThreadedStandIn(delay_seconds=1.0) as standin:
        gateway = GatewayProcess(env={**standin.gateway_env(), "RATE_LIMIT_ENABLED": "false"}).start()
        base = gateway.base_url.replace("http", "ws")
        try:
            with (
                websockets.sync.client.connect(f"{base}/v1/realtime?intent=transcription") as openai,
                websockets.sync.client.connect(
                    f"{base}/v1/audio/transcriptions/realtime?model={standin.server.model}"
                ) as mistral,
                concurrent.futures.ThreadPoolExecutor(1) as pool,
            ):
                assert json.loads(openai.recv(timeout=10))["type"] == "session.created"
                assert json.loads(mistral.recv(timeout=10))["type"] == "session.created"
                openai.send(
                    json.dumps(
                        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24).decode()}
                    )
                )
                openai.send(json.dumps({"type": "input_audio_buffer.commit"}))
                mistral.send(
                    json.dumps({"type": "input_audio.append", "audio": base64.b64encode(pcm16).decode()})
                )
                mistral.send(json.dumps({"type": "session.update", "session": {"language": "en"}}))
                # The audio has been taken (events are handled in order): its transcription is in flight.
                assert _next(openai, "input_audio_buffer.committed")
                assert _next(mistral, "session.updated")
                stopper = pool.submit(gateway.stop, signal.SIGTERM, 30)
                from_openai, from_mistral = messages_until_closed(openai), messages_until_closed(mistral)
                codes = openai.close_code, mistral.close_code
                assert stopper.result() == 0
        finally:
            gateway.stop()

    kinds = [m["type"] for m in from_openai]
    assert kinds[-2:] == ["conversation.item.input_audio_transcription.completed", "error"], kinds
    assert from_openai[-1]["error"]["code"] == "shutting_down"
    assert from_openai[-1]["error"]["type"] == "server_error"
    kinds = [m["type"] for m in from_mistral]
    assert kinds[-3:] == ["transcription.segment", "transcription.done", "error"], kinds
    assert from_mistral[-1]["error"]["code"] == 503
    assert codes == (1001, 1001)
