"""Every response carries a Server-Timing header (decode, queue, upstream, total), the gateway in process."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from tests.audio_fixtures import FixtureSet

_ENTRY = re.compile(r"^([a-z]+);dur=(\d+\.\d+)$")


def metrics(response: httpx.Response) -> dict[str, float]:
    """The header's `name;dur=ms` entries, checked for the standard syntax."""
    header = response.headers.get("server-timing")
    assert header is not None, f"no Server-Timing on {response.request.url.path} ({response.status_code})"
    found: dict[str, float] = {}
    for entry in header.split(", "):
        match = _ENTRY.match(entry)
        assert match, f"malformed Server-Timing entry {entry!r} in {header!r}"
        found[match.group(1)] = float(match.group(2))
    return found


STANDIN_OPTIONS = {"speed": 200}


def test_transcribe_reports_decode_queue_upstream_and_total(client: httpx.Client, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("mp3", 16000, 1)
    body = {"audio_file": base64.b64encode(clip.path.read_bytes()).decode(), "language": "en"}
    response = client.post("/transcribe/", json=body)
    assert response.status_code == 200, response.text
    timing = metrics(response)
    assert set(timing) == {"decode", "queue", "upstream", "total"}
    assert timing["decode"] > 0 and timing["upstream"] > 0
    # Each part is a measured span inside the request; upstream includes the stand-in's simulated work.
    assert timing["decode"] + timing["upstream"] <= timing["total"]
    assert timing["upstream"] >= clip.duration / 200 * 1000 * 0.9


@pytest.mark.parametrize("path", ["/health/", "/health"])
def test_health_reports_total(client: httpx.Client, path: str):
    response = client.get(path)
    assert response.status_code == 200
    assert set(metrics(response)) <= {"upstream", "total"}  # upstream: a health probe, when not cached
    assert "total" in metrics(response)


def test_errors_and_unknown_paths_carry_it_too(client: httpx.Client):
    not_audio = {"audio_file": base64.b64encode(b"plain text, not audio" * 20).decode()}
    assert "total" in metrics(client.post("/transcribe/", json=not_audio))
    assert "total" in metrics(
        client.post("/transcribe/", content=b"{", headers={"Content-Type": "application/json"})
    )
    assert "total" in metrics(client.get("/no/such/path"))
