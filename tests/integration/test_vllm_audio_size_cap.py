"""vLLM's per-file cap (VLLM_MAX_AUDIO_CLIP_FILESIZE_MB) applies to chat audio too: the longest
understanding audio the gateway accepts (UNDERSTANDING_MAX_TOTAL_SECONDS, 2400 s), sent to vLLM as
16 kHz mono 16-bit WAV (73.2 MiB), passes the deployment's cap (74) and not one MiB less.

The stand-in runs with vLLM's real caps as the deployment sets them (compose.yaml, vllm.yaml)."""

from __future__ import annotations

import base64
import io

import av
import numpy as np
import pytest

from tests.support.gateway_app import gateway_app, sync_client
from tests.support.standin_thread import ThreadedStandIn
from tests.unit.test_deploy_static import COMPOSE, environment_of, load_compose
from voxtral_gateway.settings import Settings

RATE = 16000
LONGEST = Settings().limits.understanding_max_total_seconds


def _deployed_cap_mb() -> int:
    return int(environment_of(load_compose(COMPOSE)["services"]["vllm"])["VLLM_MAX_AUDIO_CLIP_FILESIZE_MB"])


def _flac(seconds: float) -> bytes:
    """A quiet tone with pauses: compresses well, so the upload is small and the WAV to vLLM is not."""
    t = np.arange(RATE * 10) / RATE
    ten = (np.where((t % 2) < 1.5, 0.05, 0.0) * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE, layout="mono")
        for _ in range(int(seconds // 10)):
            frame = av.AudioFrame.from_ndarray(ten.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(("cap_offset", "accepted"), [(0, True), (-1, False)])
def test_the_longest_understanding_audio_fits_the_deployed_cap(cap_offset: int, accepted: bool):
    cap = _deployed_cap_mb() + cap_offset
    audio = base64.b64encode(_flac(LONGEST)).decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "input_audio", "input_audio": {"data": audio, "format": "flac"}},
                {"type": "text", "text": "Summarize."},
            ],
        }
    ]
    with ThreadedStandIn(max_file_size_mb=cap, max_audio_seconds=2400) as standin:
        with sync_client(gateway_app(standin.gateway_env())) as client:
            response = client.post(
                "/v1/chat/completions",
                json={"model": "mistralai/Voxtral-Mini-3B-2507", "messages": messages, "max_tokens": 5},
            )
        received = standin.server.requests[-1]
    wav_mib = (44 + int(LONGEST * RATE) * 2) / (1 << 20)
    if accepted:
        assert response.status_code == 200, response.text
        assert received.audios[0].byte_size / (1 << 20) == pytest.approx(wav_mib)  # 73.2 MiB
        assert received.audios[0].duration_s == pytest.approx(LONGEST)
    else:
        assert received.status == 400
        assert (received.error or "").startswith(
            f"Maximum file size exceeded (parameter=audio_filesize_mb, value={wav_mib:.2f}"
        )
        assert response.status_code == 413
        assert "VLLM_MAX_AUDIO_CLIP_FILESIZE_MB" in response.json()["error"]["message"]
