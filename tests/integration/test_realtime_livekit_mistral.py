"""LiveKit's Mistral STT plugin, streaming, against /v1/audio/transcriptions/realtime, driven with audio
frames and no LiveKit server.

`livekit-plugins-mistralai` pins `mistralai<3`, so it cannot live in the test venv beside the `mistralai`
3.x SDK the other realtime tests use. This test runs the plugin in its own environment:
`.venv-livekit-mistral`, which `scripts/bootstrap.sh --dev` builds (`livekit-agents`,
`livekit-plugins-mistralai`, `livekit-plugins-silero` and `mistralai[realtime]<3`), or the interpreter
named by `LIVEKIT_MISTRAL_PYTHON`. Without either it is skipped, except in CI, where it fails.

The plugin streams only for model names containing "realtime" and flushes each turn on its own VAD
(Silero), so the gateway here is on the vLLM backend (the stand-in) serving such a name; the stand-in's
transcripts say how much audio each utterance had."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.support.gateway_process import ROOT

MODEL = "voxtral-mini-transcribe-realtime-2602"
STANDIN_OPTIONS = {"model": MODEL}
GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false", "VOXTRAL_MODEL": MODEL}
_BOOTSTRAPPED = ROOT / ".venv-livekit-mistral" / "bin" / "python"
PYTHON = os.environ.get("LIVEKIT_MISTRAL_PYTHON") or (str(_BOOTSTRAPPED) if _BOOTSTRAPPED.exists() else None)

pytestmark = pytest.mark.skipif(
    not PYTHON and not os.environ.get("CI"),
    reason="no environment with livekit-plugins-mistralai: run scripts/bootstrap.sh --dev",
)


def test_livekit_mistral_stt_streams_every_utterance(gateway, standin, audio_fixtures):
    assert PYTHON, "CI has no .venv-livekit-mistral: scripts/bootstrap.sh --dev builds it"
    multi = audio_fixtures.multi_utterance
    done = subprocess.run(
        [
            PYTHON,
            "-m",
            "tests.support.livekit_mistral_driver",
            gateway.base_url,
            "any",
            MODEL,
            str(multi.raw_path),
        ],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert "start_of_speech" in kinds and "end_of_speech" in kinds
    finals = " ".join(e["text"] for e in events if e["type"] == "final_transcript" and e["text"])
    heard = [float(seconds) for seconds in re.findall(r"audio of ([0-9.]+) seconds", finals)]
    assert len(heard) == len(multi.utterances), finals
    for seconds, utterance in zip(heard, multi.utterances, strict=True):
        assert seconds == pytest.approx(utterance.end - utterance.start, abs=1.0)
