"""LiveKit's Mistral STT plugin's offline `recognize` (a buffer of audio frames → one final transcript)
against POST /v1/audio/transcriptions, through the `mistralai` 2.x SDK the plugin pins, from the plugin's
own environment (tests/support/livekit_mistral.py). Real speech on the embedded engine (whisper tiny.en),
under `voxtral-mini-latest`, the plugin's default model name and an alias the gateway serves.

Without a language the plugin asks for segments and reports their times (and the segments as `words`);
with one it asks for none, so the times are 0 and `words` is absent."""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.audio_fixtures import normalize_text
from tests.support.gateway_process import GatewayProcess
from tests.support.livekit_mistral import needs_plugin_env, run_driver
from tests.support.stream_client import word_error_rate

MODEL = "voxtral-mini-latest"
MAX_WER = 0.15

pytestmark = needs_plugin_env


def _recognize(gateway: GatewayProcess, model: str, wav: str, *options: str) -> dict[str, Any]:
    out = run_driver("livekit_mistral_recognize", gateway.base_url, "any", model, wav, *options)
    return json.loads(out)


def test_recognize_reports_text_language_and_times(embedded_gateway, audio_fixtures):
    multi = audio_fixtures.multi_utterance
    event = _recognize(embedded_gateway, MODEL, str(multi.path))
    assert event["type"] == "final_transcript" and len(event["alternatives"]) == 1
    speech = event["alternatives"][0]
    assert word_error_rate(multi.text, speech["text"]) <= MAX_WER, speech["text"]
    assert speech["language"] == "en"  # identified: none was asked for

    segments = speech["words"]
    assert segments and " ".join(s["text"] for s in segments) == speech["text"]
    assert speech["start_time"] == segments[0]["start_time"] <= multi.utterances[0].start
    assert multi.utterances[-1].end <= speech["end_time"] == segments[-1]["end_time"]
    assert speech["end_time"] <= multi.duration + 0.05
    for before, after in itertools.pairwise(segments):
        assert before["start_time"] < before["end_time"] <= after["start_time"]
    for utterance in multi.utterances:  # each sentence is in the segments its time overlaps
        around = [
            s["text"] for s in segments if s["start_time"] < utterance.end and s["end_time"] > utterance.start
        ]
        missing = set(normalize_text(utterance.text).split()) - set(normalize_text(" ".join(around)).split())
        assert len(missing) <= 1, (utterance, around)


def test_recognize_in_a_given_language_with_bias_words(embedded_gateway, audio_fixtures):
    clip = audio_fixtures.speech("wav", 16000, 1)
    event = _recognize(
        embedded_gateway, MODEL, str(clip.path), "--language", "en", "--context-bias", "umbrella", "rain"
    )
    speech = event["alternatives"][0]
    assert word_error_rate(clip.text, speech["text"]) <= MAX_WER, speech["text"]
    assert speech["language"] == "en"
    assert (speech["start_time"], speech["end_time"], speech["words"]) == (0, 0, None)


def test_recognize_raises_the_gateways_error_at_once(embedded_gateway, audio_fixtures):
    clip = audio_fixtures.speech("wav", 16000, 1)
    error = _recognize(embedded_gateway, "voxtral-nope", str(clip.path))
    assert error["error"] == "APIStatusError" and error["status_code"] == 404
    assert "The model `voxtral-nope` does not exist or is not served here; use one of:" in error["message"]
    assert MODEL in error["message"]
    assert error["retryable"] is False  # the plugin does not retry a refusal
    assert error["request_id"]  # from the gateway's X-Request-ID
