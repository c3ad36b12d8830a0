"""LiveKit's Mistral STT plugin, streaming, against /v1/audio/transcriptions/realtime, driven with audio
frames and no LiveKit server, from the plugin's own environment (tests/support/livekit_mistral.py says
why and where; its offline `recognize` is in test_livekit_mistral_recognize.py).

The plugin streams only for model names containing "realtime" and flushes each turn on its own VAD
(Silero), so the gateway here is on the vLLM backend (the stand-in) serving such a name; the stand-in's
transcripts say how much audio each utterance had."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.livekit_mistral import needs_plugin_env, run_driver

MODEL = "voxtral-mini-transcribe-realtime-2602"
STANDIN_OPTIONS = {"model": MODEL}
GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false", "VOXTRAL_MODEL": MODEL}

pytestmark = needs_plugin_env


def test_livekit_mistral_stt_streams_every_utterance(gateway, standin, audio_fixtures):
    multi = audio_fixtures.multi_utterance
    out = run_driver("livekit_mistral_driver", gateway.base_url, "any", MODEL, str(multi.raw_path))
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["type"] for e in events]
    assert "start_of_speech" in kinds and "end_of_speech" in kinds
    finals = " ".join(e["text"] for e in events if e["type"] == "final_transcript" and e["text"])
    heard = [float(seconds) for seconds in re.findall(r"audio of ([0-9.]+) seconds", finals)]
    assert len(heard) == len(multi.utterances), finals
    for seconds, utterance in zip(heard, multi.utterances, strict=True):
        assert seconds == pytest.approx(utterance.end - utterance.start, abs=1.0)
