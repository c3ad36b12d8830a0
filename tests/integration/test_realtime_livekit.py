"""LiveKit Agents' OpenAI STT plugin with realtime transcription, driven directly with audio frames (no
LiveKit server: `stt.stream()`, `push_frame`, `async for event in stream`; the plugin takes its aiohttp
session from `http_context`, opened here as a job would). Real speech on the embedded engine.

LiveKit's Mistral STT plugin pins `mistralai<3`, which cannot share a venv with the `mistralai` 3.x the
other tests use: test_realtime_livekit_mistral.py (and test_livekit_mistral_recognize.py) run it in its
own environment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import stt as agents_stt
from livekit.agents.utils import http_context
from livekit.plugins import openai as livekit_openai

from tests.support.gateway_process import GatewayProcess
from tests.support.realtime_audio import raw_audio
from tests.support.realtime_gateway import deltas_agree, keyed_gateway, served_model
from tests.support.stream_client import word_error_rate

RATE = 24_000
FRAME_SAMPLES = RATE // 20  # 50 ms, as LiveKit's rooms deliver audio
PACE_SECONDS = 0.01  # 5× real time
MAX_WER = 0.15


@pytest.fixture(scope="module")
def realtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, str, str]]:
    with keyed_gateway(tmp_path_factory.mktemp("realtime-livekit")) as (gateway, key):
        yield gateway, key, served_model(gateway, key)


def _frames(pcm: bytes) -> list[rtc.AudioFrame]:
    samples = np.frombuffer(pcm, dtype="<i2")
    samples = np.concatenate([samples, np.zeros(RATE * 3 // 2, dtype=np.int16)])  # the speaker falls silent
    frames = []
    for start in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        piece = samples[start : start + FRAME_SAMPLES]
        frames.append(
            rtc.AudioFrame(
                data=piece.tobytes(), sample_rate=RATE, num_channels=1, samples_per_channel=FRAME_SAMPLES
            )
        )
    return frames


async def test_livekit_openai_stt_streams_each_sentence(realtime, audio_fixtures):
    gateway, key, model = realtime
    multi = audio_fixtures.multi_utterance
    frames = _frames(raw_audio(multi.path, RATE))
    events: list[agents_stt.SpeechEvent] = []
    async with asyncio.timeout(120), http_context.open():
        stt = livekit_openai.STT(
            model=model, language="en", base_url=gateway.base_url + "/v1", api_key=key, use_realtime=True
        )
        stream = stt.stream()

        async def push() -> None:
            for frame in frames:
                stream.push_frame(frame)
                await asyncio.sleep(PACE_SECONDS)

        pusher = asyncio.create_task(push())
        async for event in stream:
            events.append(event)
            finals = [e for e in events if e.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT]
            if len(finals) == len(multi.utterances):
                break
        await pusher
        await stream.aclose()
        await stt.aclose()

    kinds = [e.type for e in events]
    finals = [e for e in events if e.type == agents_stt.SpeechEventType.FINAL_TRANSCRIPT]
    starts = [i for i, kind in enumerate(kinds) if kind == agents_stt.SpeechEventType.START_OF_SPEECH]
    ends = [i for i, kind in enumerate(kinds) if kind == agents_stt.SpeechEventType.END_OF_SPEECH]
    assert len(starts) == len(multi.utterances) and len(ends) >= len(multi.utterances) - 1
    assert all(s < e for s, e in zip(starts, ends, strict=False))  # speech starts, then stops
    for final, utterance in zip(finals, multi.utterances, strict=True):
        text = final.alternatives[0].text
        assert word_error_rate(utterance.text, text) <= 0.34, (utterance.text, text)
        assert final.alternatives[0].language == "en"
    whole = " ".join(f.alternatives[0].text for f in finals)
    assert word_error_rate(multi.text, whole) <= MAX_WER
    for interim in (e for e in events if e.type == agents_stt.SpeechEventType.INTERIM_TRANSCRIPT):
        later = [f.alternatives[0].text for f in finals]
        assert any(deltas_agree(interim.alternatives[0].text, text) for text in later)
