"""A file whose headers declare a nonsense duration (a crafted Matroska file saying -2 s): the audio is
decoded for what it really holds, never a 500."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.gateway_app import gateway_app, sync_client
from tests.support.standin_thread import ThreadedStandIn

_DURATION_ID = b"\x44\x89"  # Matroska's Segment Info > Duration element


def _mkv_declaring_negative_duration(tmp_path: Path) -> bytes:
    path = tmp_path / "two-seconds.mkv"
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2"),
            *("-ar", "16000", "-ac", "1", "-c:a", "flac", str(path)),
        ],
        check=True,
    )
    data = bytearray(path.read_bytes())
    at = data.find(_DURATION_ID)
    assert at > 0 and data[at + 2] == 0x88, "an 8-byte float duration"
    data[at + 3] |= 0x80  # the float's sign bit: 2000 ms becomes -2000 ms
    return bytes(data)


def test_a_negative_declared_duration_is_ignored_and_the_audio_decoded(tmp_path: Path):
    crafted = _mkv_declaring_negative_duration(tmp_path)
    with ThreadedStandIn() as standin, sync_client(gateway_app(standin.gateway_env())) as client:
        response = client.post(
            "/v1/audio/transcriptions",
            files={"file": ("crafted.mkv", crafted)},
            data={"model": "whisper-1", "response_format": "verbose_json"},
        )
    assert response.status_code == 200, response.text
    assert abs(response.json()["duration"] - 2.0) < 0.05
