"""Both realtime protocols on the vLLM backend (the stand-in vLLM): the VAD path sends each utterance to
vLLM's `/v1/audio/transcriptions` as it ends, and each answer comes back as that utterance's transcript.
The stand-in's transcriber says how much audio it got, so the transcripts prove each utterance's audio
(and only it) reached the model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mistralai.client import Mistral
from mistralai.client.models import AudioFormat, TranscriptionStreamDone, TranscriptionStreamSegmentDelta

from tests.support.realtime_audio import raw_audio
from tests.support.realtime_gateway import openai_sdk_transcription_events

GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false"}
PACE_SECONDS = 0.01
_SAID = re.compile(r"audio of ([0-9.]+) seconds in en")


def _seconds(transcript: str) -> float:
    match = _SAID.fullmatch(transcript)
    assert match, transcript
    return float(match.group(1))


async def test_openai_sdk_on_vllm_one_transcription_per_utterance(gateway, standin, audio_fixtures):
    multi = audio_fixtures.multi_utterance
    pcm = raw_audio(multi.path, 24_000) + bytes(24_000 * 2 * 3 // 2)
    events = await openai_sdk_transcription_events(
        gateway.base_url,
        pcm,
        {"transcription": {"language": "en"}, "turn_detection": {"type": "server_vad"}},
        len(multi.utterances),
        PACE_SECONDS,
    )
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    committed = [e for e in events if e.type == "input_audio_buffer.committed"]
    assert [e.item_id for e in completed] == [e.item_id for e in committed]
    for done, utterance in zip(completed, multi.utterances, strict=True):
        said = _seconds(done.transcript)
        assert said == pytest.approx(done.usage.seconds, abs=0.011)  # vLLM got exactly the utterance
        assert said == pytest.approx(utterance.end - utterance.start, abs=1.0)


async def test_mistral_sdk_on_vllm_segments_then_done(gateway, standin, audio_fixtures):
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 16_000)
    model = standin.server.model

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(audio), 3_200):
            yield audio[start : start + 3_200]
            await asyncio.sleep(PACE_SECONDS)

    client = Mistral(api_key="unused", server_url=gateway.base_url)
    events: list[Any] = []
    async with asyncio.timeout(120):
        async for event in client.audio.realtime.transcribe_stream(
            pieces(), model, audio_format=AudioFormat(encoding="pcm_s16le", sample_rate=16_000), language="en"
        ):
            events.append(event)
    segments = [e for e in events if isinstance(e, TranscriptionStreamSegmentDelta)]
    done = events[-1]
    assert isinstance(done, TranscriptionStreamDone) and done.model == model
    assert len(segments) == 1 and done.text == segments[0].text
    assert _seconds(done.text) == pytest.approx(segments[0].end - segments[0].start, abs=0.011)
    assert _seconds(done.text) == pytest.approx(clip.speech_end - clip.speech_start, abs=1.0)
