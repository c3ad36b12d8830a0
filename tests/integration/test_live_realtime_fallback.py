"""VOXTRAL_REALTIME=on but the server has no /v1/realtime (Voxtral Mini 3B): a live session cannot open
its model session, so its utterances are transcribed one by one as before; the stream still works."""

from __future__ import annotations

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url

GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false", "VOXTRAL_REALTIME": "on"}


async def test_a_stream_falls_back_to_utterances_when_the_realtime_session_cannot_open(
    gateway: GatewayProcess, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    standin.server.reset()
    clip = audio_fixtures.speech("wav")
    result = await run_stream(stream_url(gateway), chunk_messages(cut(clip.path.read_bytes(), 8000), "wav"))
    assert not result.errors and result.finals, result.messages
    assert result.done["text"] == " ".join(f["text"] for f in result.finals if f["text"])
    assert {r.endpoint for r in standin.server.requests} == {"/v1/audio/transcriptions"}
