"""Live partials stream: a partial request to vLLM uses `stream=true`, and the client gets the text so
far as the model generates it (several growing partials per request), not once it is complete."""

from __future__ import annotations

import itertools

import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url

GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false"}
STANDIN_OPTIONS = {"speed": 27.0}


@pytest.fixture(scope="module")
def url(gateway: GatewayProcess) -> str:
    return stream_url(gateway)


async def test_partials_grow_as_tokens_arrive(url: str, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    standin.server.reset()
    clip = audio_fixtures.speech("wav")
    result = await run_stream(
        url, chunk_messages(cut(clip.path.read_bytes(), 8000), "wav"), pace_seconds=0.25
    )
    assert result.partials and len(result.finals) == 1
    requests = sorted(standin.server.requests, key=lambda r: r.started_at)
    assert all(r.stream for r in requests[:-1]) and not requests[-1].stream  # partials stream; the final not
    # Partials of one request share their audio span; their text grows token by token.
    by_span: dict[tuple[float, float], list[str]] = {}
    for partial in result.partials:
        by_span.setdefault((partial["start"], partial["end"]), []).append(partial["text"])
    growing = [texts for texts in by_span.values() if len(texts) > 1]
    assert growing, "some partial request gave its text in several pieces"
    for texts in growing:
        assert all(
            later.startswith(earlier) and later != earlier for earlier, later in itertools.pairwise(texts)
        )
