#!/usr/bin/env python3
"""The realtime protocols under load, through the gateway (one worker, vLLM backend) in front of the
stand-in vLLM in simulated mode, on loopback.

    .venv/bin/python -m benchmarks.realtime_load [--sessions 200] [--latency-sessions 10] [--latency-rounds 2]
        [--speed 27]

Two phases, each session sending the 23 s, six-sentence recording of the test fixtures in real time, in
100 ms messages of raw PCM (the voice agents' way: LiveKit sends 50 ms, Pipecat 20–100 ms):

1. End of speech → transcript, per protocol, in the same run: `--latency-sessions` sessions of each of
   `/stream/transcribe` (binary PCM frames, 16 kHz), OpenAI Realtime (`/v1/realtime`, PCM16 at 24 kHz,
   server VAD) and Mistral realtime (`/v1/audio/transcriptions/realtime`, pcm_s16le at 16 kHz), all at
   once. Measured from the moment the sentence ends at the (simulated) live source to its transcript
   arriving: the seed's `final`, OpenAI's `...transcription.completed`, Mistral's `transcription.segment`.
   This includes the silence the VAD must hear (STREAM_SILENCE_SECONDS), a message's wait, and the
   backend's time (the stand-in answers at 27× real time). The same sessions also run against a second
   gateway whose stand-in serves a realtime model (`--realtime`: vLLM's `WS /v1/realtime`), so the audio
   streams to the model as it arrives and each VAD end commits the model's turn (true streaming), in
   `--latency-rounds` rounds alternating which of the two goes first: end of speech → transcript per
   protocol, against the per-utterance figure of the same protocol, and for both the time from each
   sentence's start at the source to its first partial (seed `partial`, OpenAI `...transcription.delta`,
   Mistral `transcription.text.delta`). Both stand-ins answer with one word per half second of audio
   heard (`--words`), a text that grows as a model's does.
2. `--sessions` concurrent realtime sessions, half OpenAI and half Mistral, then as many sessions of
   /stream/transcribe with the same messages (the baseline): per-message handling p50/p99
   (from the gateway receiving a message to the end of its processing: parse, base64, decode, VAD,
   scheduling; read from the gateway's `stream_closed` log lines), memory per session (the worker's peak
   RSS minus its RSS before, divided by the sessions), and sessions completed with every transcript.

Everything (clients, gateway, stand-in) shares this machine's cores. Prints a markdown table; exits 1 if
a goal is missed."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import websockets  # noqa: E402
from tests.audio_fixtures import build_fixture_set  # noqa: E402
from tests.standin_vllm import DEFAULT_REALTIME_MODEL  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.realtime_audio import raw_audio  # noqa: E402

from benchmarks._proc import rss_bytes, worker_pid  # noqa: E402
from benchmarks._report import Row, print_rows  # noqa: E402
from benchmarks._servers import DEFAULT_SPEED, gateway, standin_vllm  # noqa: E402
from benchmarks._stats import percentile  # noqa: E402
from benchmarks.stream_load import _cpu_seconds, _handling, _Sampler  # noqa: E402
from voxtral_gateway.services.live.stats import LatencyHistogram  # noqa: E402

MESSAGE_SECONDS = 0.1
TRAILING_SILENCE_SECONDS = 1.5
FIXTURE_CACHE = ROOT / "tests" / ".fixture-cache"
PROTOCOLS = ("seed", "openai", "mistral")

GOAL_MESSAGE_P99_MS = 50.0
GOAL_LATENCY_RATIO = 1.25
"""The same core behind every protocol: only the wire differs (JSON + base64, OpenAI's 24 kHz resampled)."""
GOAL_MEMORY_PER_SESSION_MIB = 1.0
STANDIN_ARGS = ("--words",)
STREAMING_ENV = {"VOXTRAL_MODEL": DEFAULT_REALTIME_MODEL, "VOXTRAL_REALTIME": "on"}
# What a live session logs when it could not stream to the model (it then transcribes per utterance)
# or the model failed it.
_STREAMING_FAILURES = ("stream_realtime_unavailable", "stream_realtime_refused", "stream_realtime_failed",
                       "stream_realtime_turn_failed")  # fmt: skip
LABELS = {"seed": "/stream/transcribe", "openai": "OpenAI Realtime", "mistral": "Mistral realtime"}


@dataclass
class Audio:
    messages: dict[str, list[str | bytes]]
    """What each protocol sends, one item per MESSAGE_SECONDS of audio."""
    sentence_ends: list[float]
    sentence_starts: list[float]


@dataclass
class Outcome:
    protocol: str
    origin: float = 0.0
    """When audio time 0 happened at the (simulated) live source."""
    transcripts: list[tuple[float, str]] = field(default_factory=list)
    """(arrival, text) of each utterance's transcript."""
    first_partials: dict[int, float] = field(default_factory=dict)
    """Utterance index → arrival of its first partial (a partial belongs to the utterance whose
    transcript has not arrived yet)."""
    closed_with: int | None = None
    error: str | None = None


def _audio() -> Audio:
    multi = build_fixture_set(FIXTURE_CACHE).multi_utterance
    silence = TRAILING_SILENCE_SECONDS
    pcm16 = raw_audio(multi.path, 16_000) + bytes(int(32_000 * silence))
    pcm24 = raw_audio(multi.path, 24_000) + bytes(int(48_000 * silence))
    step16, step24 = int(32_000 * MESSAGE_SECONDS), int(48_000 * MESSAGE_SECONDS)
    pieces16 = [pcm16[i : i + step16] for i in range(0, len(pcm16), step16)]
    pieces24 = [pcm24[i : i + step24] for i in range(0, len(pcm24), step24)]
    return Audio(
        messages={
            "seed": list(pieces16),
            "openai": [
                json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(p).decode()})
                for p in pieces24
            ],
            "mistral": [
                json.dumps({"type": "input_audio.append", "audio": base64.b64encode(p).decode()})
                for p in pieces16
            ],
        },
        sentence_ends=[u.end for u in multi.utterances],
        sentence_starts=[u.start for u in multi.utterances],
    )


_OPENING: dict[str, list[str]] = {
    "seed": [json.dumps({"type": "start", "format": "pcm_s16le", "sample_rate": 16000, "language": "en"})],
    "openai": [
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"transcription": {"language": "en"}}},
                },
            }
        )
    ],
    "mistral": [json.dumps({"type": "session.update", "session": {"language": "en"}})],
}
_ENDING: dict[str, str | None] = {
    "seed": json.dumps({"is_final": True}),
    "openai": None,  # an OpenAI session ends when the client closes it
    "mistral": json.dumps({"type": "input_audio.end"}),
}
_PATHS = {
    "seed": "/stream/transcribe",
    "openai": "/v1/realtime?intent=transcription",
    "mistral": "/v1/audio/transcriptions/realtime?model={model}",
}


def _transcript(protocol: str, event: dict) -> str | None:
    kind = event.get("type")
    if protocol == "seed" and kind == "final":
        return event["text"]
    if protocol == "openai" and kind == "conversation.item.input_audio_transcription.completed":
        return event["transcript"]
    if protocol == "mistral" and kind == "transcription.segment":
        return event["text"]
    return None


_PARTIALS = {
    "seed": "partial",
    "openai": "conversation.item.input_audio_transcription.delta",
    "mistral": "transcription.text.delta",
}


def _failure(protocol: str, event: dict) -> str | None:
    if event.get("type") != "error":
        return None
    if protocol == "seed":
        return None if event["severity"] == "warning" else f"{event['code']}: {event['message']}"
    return json.dumps(event["error"])


async def _session(base: str, model: str, audio: Audio, outcome: Outcome, start_at: float) -> None:
    protocol = outcome.protocol
    outcome.origin = start_at
    expected = len(audio.sentence_ends)
    url = base + _PATHS[protocol].format(model=model)
    try:
        async with websockets.connect(url, max_size=None, open_timeout=60, close_timeout=30) as socket:

            async def send() -> None:
                for message in _OPENING[protocol]:
                    await socket.send(message)
                for index, message in enumerate(audio.messages[protocol]):
                    # A live source has a message's audio only once it has been spoken.
                    await asyncio.sleep(
                        max(0.0, start_at + (index + 1) * MESSAGE_SECONDS - time.perf_counter())
                    )
                    await socket.send(message)
                if (ending := _ENDING[protocol]) is not None:
                    await socket.send(ending)

            sender = asyncio.create_task(send())
            if protocol == "openai" and expected == 0:  # a warm-up: no transcript to wait for
                await sender
                await socket.close()
                outcome.closed_with = 1000
                return
            async for raw in socket:
                event = json.loads(raw)
                if (text := _transcript(protocol, event)) is not None:
                    outcome.transcripts.append((time.perf_counter(), text))
                    if protocol == "openai" and len(outcome.transcripts) == expected:
                        break
                elif event.get("type") == _PARTIALS[protocol]:
                    outcome.first_partials.setdefault(len(outcome.transcripts), time.perf_counter())
                elif (failure := _failure(protocol, event)) is not None:
                    outcome.error = failure
            await sender
            if protocol == "openai":
                await socket.close()
                outcome.closed_with = 1000
            else:
                outcome.closed_with = socket.close_code
    except Exception as exc:  # a session that failed is reported, not fatal to the run
        outcome.error = f"{type(exc).__name__}: {exc}"


async def _phase(base: str, model: str, audio: Audio, protocols: list[str]) -> tuple[list[Outcome], float]:
    outcomes = [Outcome(protocol) for protocol in protocols]
    begin = time.perf_counter() + 1.0
    # Sessions start spread over one message period, as independent clients would.
    tasks = [
        _session(base, model, audio, outcome, begin + MESSAGE_SECONDS * index / len(outcomes))
        for index, outcome in enumerate(outcomes)
    ]
    await asyncio.gather(*tasks)
    return outcomes, time.perf_counter() - begin


def _speech_to_transcript(audio: Audio, outcomes: list[Outcome]) -> list[float]:
    """End of each sentence at the source → its transcript, in ms."""
    latencies = []
    for outcome in outcomes:
        for index, (arrived, _) in enumerate(outcome.transcripts[: len(audio.sentence_ends)]):
            latencies.append((arrived - outcome.origin - audio.sentence_ends[index]) * 1000)
    return latencies


def _speech_to_partial(audio: Audio, outcomes: list[Outcome]) -> list[float]:
    """Start of each sentence at the source → its first partial, in ms (sentences that had one)."""
    return [
        (arrived - outcome.origin - audio.sentence_starts[index]) * 1000
        for outcome in outcomes
        for index, arrived in outcome.first_partials.items()
        if index < len(audio.sentence_starts)
    ]


def _streaming_failures(process: GatewayProcess) -> list[str]:
    """The gateway's log lines saying a session did not stream to the model, or the model failed it."""
    return [line for line in process.logs().splitlines() if any(k in line for k in _STREAMING_FAILURES)]


@dataclass
class Load:
    sessions: list[Outcome]
    wall: float
    cpu: float
    """The worker's CPU seconds during the load."""


def _load(
    process: GatewayProcess, pid: int, base: str, model: str, audio: Audio, protocols: list[str], seen: int
) -> tuple[Load, LatencyHistogram, float, int]:
    """One load phase: its outcome, the per-message handling of its sessions, the memory per session
    (MiB of the worker's peak RSS above its RSS before), and the log lines seen so far."""
    idle_rss = rss_bytes(pid)
    with _Sampler(pid) as sampler:
        cpu_before = _cpu_seconds(pid)
        outcomes, wall = asyncio.run(_phase(base, model, audio, protocols))
        cpu = _cpu_seconds(pid) - cpu_before
    handled, seen = _handling(process, seen, len(protocols))
    per_session_mib = (sampler.peak - idle_rss) / len(protocols) / (1 << 20)
    return Load(outcomes, wall, cpu), handled, per_session_mib, seen


def _failed(outcomes: list[Outcome], expected: int) -> list[Outcome]:
    return [o for o in outcomes if o.error or o.closed_with != 1000 or len(o.transcripts) != expected]


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--latency-sessions", type=int, default=10)
    parser.add_argument(
        "--latency-rounds", type=int, default=2, help="phase 1 runs, each per utterance and model streaming"
    )
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED)
    args = parser.parse_args(argv)
    audio = _audio()
    expected = len(audio.sentence_ends)
    env = {"MAX_STREAMS_PER_IDENTITY": "100000", "STREAM_IDLE_TIMEOUT_SECONDS": "120"}
    short = Audio({p: m[:10] for p, m in audio.messages.items()}, [], [])
    latency_protocols = [p for p in PROTOCOLS for _ in range(args.latency_sessions)]
    with standin_vllm(args.speed, STANDIN_ARGS) as upstream, gateway(upstream, env) as process:
        assert process.process is not None
        base, model = _endpoint(process)
        pid = worker_pid(process.process.pid)
        # Warm-up: one short session per protocol (codecs, caches).
        asyncio.run(_phase(base, model, short, list(PROTOCOLS)))
        _, seen = _handling(process, 0, len(PROTOCOLS))

        # Phase 1 per utterance and on a gateway in front of a realtime model, in rounds alternating
        # which goes first (ABBA…), so that a machine getting busier or quieter weighs on both alike.
        latency_outcomes: list[Outcome] = []
        streaming_outcomes: list[Outcome] = []
        with (
            standin_vllm(args.speed, ("--realtime", *STANDIN_ARGS)) as streaming_upstream,
            gateway(streaming_upstream, {**env, **STREAMING_ENV}) as streaming_process,
        ):
            streaming_base, streaming_model = _endpoint(streaming_process)
            asyncio.run(_phase(streaming_base, streaming_model, short, list(PROTOCOLS)))
            for round_ in range(args.latency_rounds):
                for streaming in (False, True) if round_ % 2 == 0 else (True, False):
                    if streaming:
                        ran, _ = asyncio.run(
                            _phase(streaming_base, streaming_model, audio, latency_protocols)
                        )
                        streaming_outcomes += ran
                    else:
                        ran, _ = asyncio.run(_phase(base, model, audio, latency_protocols))
                        latency_outcomes += ran
                        _, seen = _handling(process, seen, len(latency_protocols))
            _handling(
                streaming_process, 0, len(PROTOCOLS) * (1 + args.latency_sessions * args.latency_rounds)
            )
            not_streamed = _streaming_failures(streaming_process)
            phase1_load = os.getloadavg()[0]

        # The realtime sessions first, on a worker that has not held such a load yet (its heap grows once
        # and is reused after: a second load would look free); then the same load on /stream/transcribe
        # (binary PCM frames of the same length), the baseline.
        load_protocols = ["openai" if i % 2 == 0 else "mistral" for i in range(args.sessions)]
        outcomes, handled, per_session_mib, seen = _load(
            process, pid, base, model, audio, load_protocols, seen
        )
        seed_load, seed_handled, seed_mib, seen = _load(
            process, pid, base, model, audio, ["seed"] * args.sessions, seen
        )
        wall, cpu = outcomes.wall, outcomes.cpu

    latency_label = f"{args.latency_sessions} sessions × {args.latency_rounds}"
    rows: list[Row] = []
    seed_latency = _speech_to_transcript(audio, [o for o in latency_outcomes if o.protocol == "seed"])
    for protocol, label, row_id in (
        ("openai", "OpenAI Realtime", "R1"),
        ("mistral", "Mistral realtime", "R2"),
    ):
        of_protocol = [o for o in latency_outcomes if o.protocol == protocol]
        latency = _speech_to_transcript(audio, of_protocol)
        broken = _failed(of_protocol, expected)
        for fraction, suffix in ((0.5, "p50"), (0.99, "p99")):
            ours, baseline = percentile(latency, fraction), percentile(seed_latency, fraction)
            rows.append(
                Row(
                    id=f"{row_id}{'a' if fraction == 0.5 else 'b'}",
                    figure=f"{label}: end of speech → transcript, {suffix} ({latency_label})",
                    ours=_ms(ours),
                    baseline=f"{_ms(baseline)} /stream/transcribe",
                    ratio=f"{ours / baseline:.2f}×",
                    goal=f"≤ {GOAL_LATENCY_RATIO:g}× /stream/transcribe",
                    passed=ours <= GOAL_LATENCY_RATIO * baseline and not broken,
                )
            )
    p50, p99 = handled.percentile(0.5) * 1000, handled.percentile(0.99) * 1000
    base50, base99 = seed_handled.percentile(0.5) * 1000, seed_handled.percentile(0.99) * 1000
    failed = _failed(outcomes.sessions, expected)
    seed_failed = _failed(seed_load.sessions, expected)
    n = args.sessions
    seed = "/stream/transcribe"
    rows += [
        Row(id="R3", figure=f"per-message handling p50, {n} realtime sessions", ours=_ms(p50),
            baseline=f"{_ms(base50)} {seed}", ratio=f"{p50 / base50:.2f}×", goal="—", passed=True),
        Row(id="R4", figure=f"per-message handling p99, {n} realtime sessions", ours=_ms(p99),
            baseline=f"{_ms(base99)} {seed}", ratio=f"{p99 / base99:.2f}×",
            goal=f"≤ {GOAL_MESSAGE_P99_MS:g} ms", passed=p99 <= GOAL_MESSAGE_P99_MS),
        Row(id="R5", figure="memory per realtime session (worker peak RSS)", ours=f"{per_session_mib:.2f} MiB",
            baseline=f"{seed_mib:.2f} MiB {seed} (after)", ratio="—",
            goal=f"≤ {GOAL_MEMORY_PER_SESSION_MIB:g} MiB", passed=per_session_mib <= GOAL_MEMORY_PER_SESSION_MIB),
        Row(id="R6", figure=f"sessions completed with all {expected} transcripts ({n} sessions)",
            ours=f"{n - len(failed)}/{n}", baseline=f"{n - len(seed_failed)}/{n} {seed}", ratio="—",
            goal=f"{n}/{n}", passed=not failed),
    ]  # fmt: skip
    rows[-1].note = (
        f"{n // 2 + n % 2} OpenAI + {n // 2} Mistral sessions, {MESSAGE_SECONDS * 1000:g} ms PCM messages in "
        f"real time; {handled.count} messages handled in {wall:.0f} s; gateway worker CPU {cpu / wall:.2f} "
        f"cores on {os.cpu_count()}; load average {os.getloadavg()[0]:.1f} at the end (anything else on the "
        "machine shares those cores)"
        + (f"; first failure: {failed[0].error or failed[0].closed_with}" if failed else "")
    )
    rows += _streaming_rows(
        audio,
        latency_outcomes,
        streaming_outcomes,
        not_streamed,
        (args.latency_sessions, args.latency_rounds),
        phase1_load,
    )
    print_rows(rows)
    return 0 if all(row.passed for row in rows) else 1


def _streaming_rows(
    audio: Audio,
    per_utterance: list[Outcome],
    streaming: list[Outcome],
    not_streamed: list[str],
    sessions: tuple[int, int],
    load_average: float,
) -> list[Row]:
    """S1–S3: end of speech → transcript with the model streaming, against per utterance, per protocol;
    S4: start of speech → first partial, both ways."""
    expected = len(audio.sentence_ends)
    label = f"{sessions[0]} sessions × {sessions[1]}"
    rows: list[Row] = []
    for protocol, row_id in zip(PROTOCOLS, ("S1", "S2", "S3"), strict=True):
        ours = [o for o in streaming if o.protocol == protocol]
        baseline = [o for o in per_utterance if o.protocol == protocol]
        latency, base_latency = _speech_to_transcript(audio, ours), _speech_to_transcript(audio, baseline)
        broken = _failed(ours, expected) or _failed(baseline, expected) or not_streamed
        for fraction, suffix in ((0.5, "p50"), (0.99, "p99")):
            value, base_value = percentile(latency, fraction), percentile(base_latency, fraction)
            rows.append(
                Row(
                    id=f"{row_id}{'a' if fraction == 0.5 else 'b'}",
                    figure=f"{LABELS[protocol]}, model streaming: end of speech → transcript, {suffix} "
                    f"({label})",
                    ours=_ms(value),
                    baseline=f"{_ms(base_value)} per utterance",
                    ratio=f"{value / base_value:.2f}×",
                    goal="≤ 1× per utterance",
                    passed=value <= base_value and not broken,
                )
            )
    had_partials = []
    for protocol, suffix in zip(PROTOCOLS, "abc", strict=True):
        ours = _speech_to_partial(audio, [o for o in streaming if o.protocol == protocol])
        baseline = _speech_to_partial(audio, [o for o in per_utterance if o.protocol == protocol])
        had_partials.append(f"{LABELS[protocol]} {len(ours)} / {len(baseline)}")
        value = percentile(ours, 0.5) if ours else float("nan")
        base_value = percentile(baseline, 0.5) if baseline else float("nan")
        rows.append(
            Row(
                id=f"S4{suffix}",
                figure=f"{LABELS[protocol]}, model streaming: start of speech → first partial, p50 ({label})",
                ours=_ms(value),
                baseline=f"{_ms(base_value)} per utterance",
                ratio=f"{value / base_value:.2f}×",
                goal="—",
                passed=True,
            )
        )
    failed = _failed(streaming, expected)
    rows[-1].note = (
        f"load average {load_average:.1f} at the end of phase 1; sentences with a partial before their "
        f"transcript (of {sessions[0] * sessions[1] * expected}), streaming / per utterance: {', '.join(had_partials)}; sessions "
        f"that did not stream to the model or were failed by it: {len(not_streamed)}"
        + (f" (first: {not_streamed[0]})" if not_streamed else "")
        + (f"; first failure: {failed[0].error or failed[0].closed_with}" if failed else "")
    )
    return rows


def _endpoint(process: GatewayProcess) -> tuple[str, str]:
    """The gateway's WebSocket base URL, and the model it serves."""
    model = json.loads(_get(process.base_url + "/v1/models"))["data"][0]["id"]
    return process.base_url.replace("http://", "ws://"), model


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


if __name__ == "__main__":
    sys.exit(main())
