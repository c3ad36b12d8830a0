"""Time to first text for a 30 s clip: the transcription's text per whole segment (before: one
upstream request, text once it is all generated) against vLLM's `stream=true` (after: deltas as the
tokens are generated).

    python -m benchmarks.first_text [--rounds 10] [--speed 27]

The stand-in vLLM runs in a thread of this process with a realistic speed (27× real time, a GPU
serving Voxtral Mini, roughly) and a transcriber that says 2.5 words per second of audio, as speech
does; a streamed request spends 10 % of its time before the first token (the encoder's prefill) and
the rest spread over the tokens. Both variants run the gateway's own `TranscriptionService` over real
HTTP to the stand-in, interleaved round by round: "before" is the same vLLM backend with the
streaming taken away (the interface's one-delta default, which is what the service did before).
The route row is the gateway as a process, `/v1/audio/transcriptions` with `stream=true`, SSE read
by a client: the "after" path end to end."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import numpy as np
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn

from benchmarks._media import tone_wav
from benchmarks._stats import median, percentile
from voxtral_gateway.audio import AudioLimits, DecodedAudio
from voxtral_gateway.backends import SpeechBackend, Transcript, TranscriptDelta, TranscriptionOptions
from voxtral_gateway.backends.vllm import VLLMBackend
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.services.transcription import (
    AudioFile,
    TextDelta,
    TranscriptionDone,
    TranscriptionService,
)
from voxtral_gateway.settings import load_settings

CLIP_SECONDS = 30.0
WORDS_PER_SECOND = 2.5


def speech_like(audio: np.ndarray, language: str | None) -> str:
    words = int(audio.size / 16_000 * WORDS_PER_SECOND)
    return " ".join(f"word{i}" for i in range(words)) + "."


class WholeSegmentBackend(VLLMBackend):
    """The vLLM backend as the service used it before: each segment's text once it is complete."""

    def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        return SpeechBackend.transcribe_stream(self, audio, options)


async def _service_times(service: TranscriptionService, file: AudioFile) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async for event in service.transcribe_events(file, TranscriptionOptions()):
        if isinstance(event, TextDelta) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, TranscriptionDone):
            assert event.result.text, "the clip was transcribed"
    assert first is not None
    return first, time.perf_counter() - started


def _route_times(gateway: GatewayProcess, wav: bytes) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/audio/transcriptions",
        files={"file": ("clip.wav", wav, "audio/wav")},
        data={"model": "mistralai/Voxtral-Mini-3B-2507", "stream": "true"},
        timeout=60,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            is_data = line.startswith("data:") and first is None
            if is_data and json.loads(line[5:]).get("type") == "transcript.text.delta":
                first = time.perf_counter() - started
    assert first is not None
    return first, time.perf_counter() - started


async def _measure(standin: ThreadedStandIn, wav: bytes, rounds: int) -> dict[str, list[tuple[float, float]]]:
    settings = load_settings({"VOXTRAL_HOST": "127.0.0.1"})
    pool = CpuPool("bench-decode", 1, 8)
    limits = AudioLimits(max_bytes=100 << 20, max_duration_seconds=600)
    backends = {
        "before: text per whole segment": WholeSegmentBackend(
            settings.vllm, settings.timeouts, standin.base_url
        ),
        "after: vLLM stream=true": VLLMBackend(settings.vllm, settings.timeouts, standin.base_url),
    }
    services = {name: TranscriptionService(b, pool, limits) for name, b in backends.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in backends}
    file = AudioFile(data=wav, field="file")
    try:
        for backend in backends.values():
            await backend.start()
        for service in services.values():  # warm-up: connections, decoder
            await _service_times(service, file)
        for _ in range(rounds):
            for name, service in services.items():
                times[name].append(await _service_times(service, file))
    finally:
        for backend in backends.values():
            await backend.close()
        pool.shutdown()
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--speed", type=float, default=27.0)
    args = parser.parse_args(argv)
    wav = tone_wav(CLIP_SECONDS).read_bytes()
    with ThreadedStandIn(speed=args.speed, transcriber=speech_like) as standin:
        times = asyncio.run(_measure(standin, wav, args.rounds))
        env = {**standin.gateway_env(), "RATE_LIMIT_ENABLED": "false", "WORKERS": "1"}
        with GatewayProcess(env=env) as gateway:
            _route_times(gateway, wav)
            times["after, gateway route (SSE)"] = [_route_times(gateway, wav) for _ in range(args.rounds)]
    before = median([first for first, _ in times["before: text per whole segment"]])
    print(
        f"Time to first text, {CLIP_SECONDS:g} s clip, stand-in at --speed {args.speed:g} "
        f"({int(CLIP_SECONDS * WORDS_PER_SECOND)} words), {args.rounds} rounds\n"
    )
    print("| path | first text p50 | first text p90 | whole text p50 | first text vs before |")
    print("|---|---|---|---|---|")
    for name, pairs in times.items():
        firsts = [first for first, _ in pairs]
        wholes = [whole for _, whole in pairs]
        print(
            f"| {name} | {median(firsts) * 1000:.0f} ms | {percentile(firsts, 0.9) * 1000:.0f} ms "
            f"| {median(wholes) * 1000:.0f} ms | {median(firsts) / before:.2f}× |"
        )


if __name__ == "__main__":
    main()
