"""Both realtime protocols on a realtime model (the stand-in with vLLM's /v1/realtime): the audio streams
to the model as it arrives, with no request per utterance; the model's text reaches the SDKs as deltas
before each turn's completed transcript."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from mistralai.client import Mistral
from mistralai.client.models import AudioFormat, TranscriptionStreamDone, TranscriptionStreamTextDelta

from tests.standin_vllm import DEFAULT_REALTIME_MODEL
from tests.support.realtime_audio import raw_audio
from tests.support.realtime_gateway import openai_sdk_transcription_events

STANDIN_OPTIONS = {"model": DEFAULT_REALTIME_MODEL, "realtime": True, "speed": 8.0}
GATEWAY_ENV = {"RATE_LIMIT_ENABLED": "false", "VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL}
PACE_SECONDS = 0.02
_SAID = re.compile(r"audio of [0-9.]+ seconds")  # the stand-in's transcript of one model turn


async def test_openai_sdk_gets_the_models_deltas_then_one_completed_per_utterance(
    gateway, standin, audio_fixtures
):
    standin.server.reset()
    multi = audio_fixtures.multi_utterance
    pcm = raw_audio(multi.path, 24_000) + bytes(24_000 * 2 * 3 // 2)
    events = await openai_sdk_transcription_events(
        gateway.base_url,
        pcm,
        {"turn_detection": {"type": "server_vad"}},
        len(multi.utterances),
        PACE_SECONDS,
    )
    completed = [e for e in events if e.type.endswith("transcription.completed")]
    assert all(_SAID.fullmatch(e.transcript) for e in completed), [e.transcript for e in completed]
    first_completed = events.index(completed[0])
    deltas = [e for e in events[:first_completed] if e.type.endswith("transcription.delta")]
    assert deltas and all(d.item_id == completed[0].item_id for d in deltas)
    assert completed[0].transcript.startswith("".join(d.delta for d in deltas).strip())
    assert {r.endpoint for r in standin.server.requests} == {"/v1/realtime"}


async def test_mistral_sdk_gets_text_deltas_then_done(gateway, standin, audio_fixtures):
    standin.server.reset()
    clip = audio_fixtures.speech("wav")
    audio = raw_audio(clip.path, 16_000)

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(audio), 3_200):
            yield audio[start : start + 3_200]
            await asyncio.sleep(PACE_SECONDS)

    client = Mistral(api_key="unused", server_url=gateway.base_url)
    events: list[Any] = []
    async with asyncio.timeout(120):
        async for event in client.audio.realtime.transcribe_stream(
            pieces(),
            DEFAULT_REALTIME_MODEL,
            audio_format=AudioFormat(encoding="pcm_s16le", sample_rate=16_000),
        ):
            events.append(event)
    done = events[-1]
    assert isinstance(done, TranscriptionStreamDone) and _SAID.fullmatch(done.text), events
    deltas = [e for e in events if isinstance(e, TranscriptionStreamTextDelta)]
    assert deltas and done.text.startswith("".join(d.text for d in deltas).strip())
    assert {r.endpoint for r in standin.server.requests} == {"/v1/realtime"}
