#!/usr/bin/env python3
"""Live transcription under load: one stream (the baseline), then 200 concurrent live streams, through
the gateway (one worker, vLLM backend) in front of the stand-in vLLM in simulated mode, on loopback.

    .venv/bin/python benchmarks/stream_load.py [--streams 200] [--format mp3|wav|pcm] [--speed 27]

Each stream sends the 23 s, six-sentence recording of the test fixtures in real time, in 0.5 s chunks
(the seed's JSON chunk messages; `pcm` sends binary frames), then `is_final`. Measured:

- per-chunk handling: from the moment the gateway receives a message to the end of its processing
  (parse, order, decode, VAD, scheduling), read from the gateway's `stream_closed` log lines (a
  mergeable histogram per stream, so p99 is over every chunk of every stream);
- gateway latency to a final, minus backend time: from the client sending the chunk that lets the VAD
  decide the utterance is over (its last voiced frame + STREAM_SILENCE_SECONDS) to the final arriving,
  minus the final's `backend_ms`; and end of speech (the fixture's true sentence end) → final, minus
  backend time, which adds the silence the VAD must hear and the chunk length;
- memory per stream: the worker's peak RSS during the load minus its RSS before, divided by the streams;
- the worker's CPU time per second of wall time.

The stand-in sleeps audio_seconds / speed per request (27× real time, Voxtral Mini on one GPU) and does
not slow down with concurrency (continuous batching). Everything (client, gateway, stand-in) shares this
machine's cores, so the load figures are pessimistic. Prints a markdown table; exits 1 if a goal is missed."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import websockets  # noqa: E402
from tests.audio_fixtures import build_fixture_set  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.stream_client import stream_url  # noqa: E402

from benchmarks._proc import rss_bytes, worker_pid  # noqa: E402
from benchmarks._report import Row, print_rows  # noqa: E402
from benchmarks._servers import DEFAULT_SPEED, gateway, standin_vllm  # noqa: E402
from benchmarks._stats import percentile  # noqa: E402
from voxtral_gateway.audio.vad import FRAME_SECONDS, EndpointRules  # noqa: E402
from voxtral_gateway.services.live.stats import LatencyHistogram  # noqa: E402

CHUNK_SECONDS = 0.5
RULES = EndpointRules()
FIXTURE_CACHE = ROOT / "tests" / ".fixture-cache"

GOAL_CHUNK_P50_MS = 5.0
GOAL_CHUNK_P99_MS = 50.0
GOAL_OVERHEAD_P50_MS = 50.0
GOAL_OVERHEAD_P99_MS = 250.0
GOAL_MEMORY_PER_STREAM_MIB = 1.0
GOAL_SPEECH_TO_FINAL_MS = (RULES.silence_seconds + CHUNK_SECONDS) * 1000 + 200
"""The silence the VAD must hear, a chunk's wait, and 200 ms for VAD hangover, codec delay and overhead."""


@dataclass
class Clip:
    pieces: list[bytes]
    """One 0.5 s piece of the file per chunk."""
    fmt: str
    sentence_ends: list[float]
    codec_delay: float = 0.0
    """Audio a decoder needs past a moment to output it (MP3: one frame plus its filterbank delay)."""


@dataclass
class StreamOutcome:
    origin: float = 0.0
    """When audio time 0 happened at the (simulated) live source."""
    sent_at: list[float] = field(default_factory=list)
    finals: list[tuple[float, dict]] = field(default_factory=list)
    closed_with: int | None = None
    error: str | None = None


def _clip(fmt: str) -> Clip:
    fixtures = build_fixture_set(FIXTURE_CACHE)
    multi = fixtures.multi_utterance
    ends = [u.end for u in multi.utterances]
    if fmt == "pcm":
        data = multi.raw_path.read_bytes()
        step = int(CHUNK_SECONDS * 32_000)
        return Clip([data[i : i + step] for i in range(0, len(data), step)], "pcm_s16le", ends)
    data = (multi.mp3_path if fmt == "mp3" else multi.path).read_bytes()
    count = int(multi.duration / CHUNK_SECONDS + 0.999)
    step = -(-len(data) // count)  # byte pieces of ~0.5 s each (CBR MP3 and WAV are linear in bytes)
    delay = (576 + 529) / 16_000 if fmt == "mp3" else 0.0
    return Clip([data[i : i + step] for i in range(0, len(data), step)], fmt, ends, delay)


async def _one_stream(url: str, clip: Clip, start_at: float, outcome: StreamOutcome) -> None:
    outcome.origin = start_at
    try:
        async with websockets.connect(url, max_size=None, open_timeout=60, close_timeout=30) as socket:
            json.loads(await socket.recv())  # ready

            async def send() -> None:
                if clip.fmt == "pcm_s16le":
                    await socket.send(json.dumps({"type": "start", "format": "pcm_s16le", "language": "en"}))
                for index, piece in enumerate(clip.pieces):
                    # A live source has a chunk's audio only once its 0.5 s have been spoken.
                    await asyncio.sleep(
                        max(0.0, start_at + (index + 1) * CHUNK_SECONDS - time.perf_counter())
                    )
                    if clip.fmt == "pcm_s16le":
                        message: str | bytes = piece
                    else:
                        message = json.dumps(
                            {
                                "chunk_id": index + 1,
                                "format": clip.fmt,
                                "language": "en",
                                "is_final": False,
                                "audio_data": base64.b64encode(piece).decode("ascii"),
                            }
                        )
                    outcome.sent_at.append(time.perf_counter())
                    await socket.send(message)
                outcome.sent_at.append(time.perf_counter())  # is_final: ends the last utterance
                await socket.send(json.dumps({"chunk_id": len(clip.pieces) + 1, "is_final": True}))

            sender = asyncio.create_task(send())
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] == "final":
                    outcome.finals.append((time.perf_counter(), message))
                elif message["type"] == "error" and message["severity"] != "warning":
                    outcome.error = f"{message['code']}: {message['message']}"
            await sender
            outcome.closed_with = socket.close_code
    except Exception as exc:  # a stream that failed is reported, not fatal to the run
        outcome.error = f"{type(exc).__name__}: {exc}"


def _latencies(clip: Clip, outcomes: list[StreamOutcome]) -> tuple[list[float], list[float]]:
    """(gateway overhead, end of speech → final), both minus backend time, in ms, over every final."""
    overhead, from_speech = [], []
    frames_after_voice = RULES.frames(RULES.silence_seconds)
    pad = min(RULES.frames(RULES.padding_seconds), frames_after_voice) * FRAME_SECONDS
    for outcome in outcomes:
        if not outcome.sent_at:
            continue
        for received_at, final in outcome.finals:
            backend = final["backend_ms"] / 1000
            last_voiced_end = final["end"] - pad
            # The chunk carrying the audio that ends the silence window (and the codec's delay past it);
            # an utterance still open at the end of the file is ended by `is_final`, the last message.
            decided_at_audio = last_voiced_end + frames_after_voice * FRAME_SECONDS + clip.codec_delay
            chunk = min(int(decided_at_audio / CHUNK_SECONDS), len(outcome.sent_at) - 1)
            overhead.append((received_at - outcome.sent_at[chunk] - backend) * 1000)
            index = final["segment_id"] - 1
            if index < len(clip.sentence_ends):
                speech_end = outcome.origin + clip.sentence_ends[index]
                from_speech.append((received_at - speech_end - backend) * 1000)
    return overhead, from_speech


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _standin_pid(upstream_url: str) -> int | None:
    port = upstream_url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"tests.standin_vllm" in command and port.encode() in command:
                return int(entry.name)
    return None


class _Sampler:
    """The worker's RSS, sampled on a thread while the load runs."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _handling(process: GatewayProcess, skip: int, streams: int) -> tuple[LatencyHistogram, int]:
    """Per-chunk handling times of the `streams` streams closed after the first `skip` log lines of
    that kind (a stream logs its line just after its close frame: wait a little for the last ones)."""
    for _ in range(100):
        lines = [json.loads(line) for line in process.logs().splitlines() if '"stream_closed"' in line]
        if len(lines) >= skip + streams:
            break
        time.sleep(0.05)
    merged = LatencyHistogram()
    for line in lines[skip:]:
        histogram = LatencyHistogram.from_json(line["chunk_hist"])
        histogram.max_seconds = line["chunk_ms_max"] / 1000
        merged.merge(histogram)
    return merged, len(lines)


async def _phase(url: str, clip: Clip, streams: int) -> tuple[list[StreamOutcome], float]:
    outcomes = [StreamOutcome() for _ in range(streams)]
    begin = time.perf_counter() + 1.0
    # Streams start spread over one chunk period, as independent clients would.
    tasks = [
        _one_stream(url, clip, begin + CHUNK_SECONDS * index / streams, outcome)
        for index, outcome in enumerate(outcomes)
    ]
    await asyncio.gather(*tasks)
    return outcomes, time.perf_counter() - begin


def stream_config_partials() -> str:
    from voxtral_gateway.settings import Settings

    return f"{Settings().streaming.partial_interval_seconds:g}"


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def _ratio(ours: float, baseline: float) -> str:
    return f"{ours / baseline:.2f}×" if baseline > 0 else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--format", choices=["mp3", "wav", "pcm"], default="mp3")
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED)
    args = parser.parse_args(argv)
    clip = _clip(args.format)
    env = {"MAX_STREAMS_PER_IDENTITY": "100000", "STREAM_IDLE_TIMEOUT_SECONDS": "120"}
    with standin_vllm(args.speed) as upstream, gateway(upstream, env) as process:
        assert process.process is not None
        url = stream_url(process)
        pid = worker_pid(process.process.pid)
        # Baseline: one stream alone (after a warm-up stream that loads codecs and fills caches).
        asyncio.run(_phase(url, Clip(clip.pieces[:6], clip.fmt, []), 1))
        _, seen = _handling(process, 0, 1)
        base_outcomes, _ = asyncio.run(_phase(url, clip, 1))
        base_chunks, seen = _handling(process, seen, 1)
        base_overhead, base_speech = _latencies(clip, base_outcomes)
        idle_rss = rss_bytes(pid)
        standin = _standin_pid(upstream)
        load_before = os.getloadavg()[0]
        with _Sampler(pid) as sampler:
            cpu_before = _cpu_seconds(pid)
            standin_before = _cpu_seconds(standin) if standin else 0.0
            client_before = time.process_time()
            outcomes, wall = asyncio.run(_phase(url, clip, args.streams))
            cpu = _cpu_seconds(pid) - cpu_before
            standin_cpu = (_cpu_seconds(standin) - standin_before) if standin else float("nan")
            client_cpu = time.process_time() - client_before
        load_chunks, _ = _handling(process, seen, args.streams)
        overhead, speech = _latencies(clip, outcomes)
        failed = [o for o in outcomes if o.error or o.closed_with != 1000]
        finals = sum(len(o.finals) for o in outcomes)
    per_stream_mib = (sampler.peak - idle_rss) / args.streams / (1 << 20)
    n = args.streams
    chunk_p50, chunk_p99 = load_chunks.percentile(0.5) * 1000, load_chunks.percentile(0.99) * 1000
    base_p50, base_p99 = base_chunks.percentile(0.5) * 1000, base_chunks.percentile(0.99) * 1000
    over_p50, over_p99 = percentile(overhead, 0.5), percentile(overhead, 0.99)
    base_over = percentile(base_overhead, 0.5)
    rows = [
        Row(id="S1", figure=f"per-chunk handling p50, {n} streams", ours=_ms(chunk_p50), baseline=_ms(base_p50),
            ratio=_ratio(chunk_p50, base_p50), goal=f"≤ {GOAL_CHUNK_P50_MS:g} ms", passed=chunk_p50 <= GOAL_CHUNK_P50_MS),
        Row(id="S2", figure=f"per-chunk handling p99, {n} streams", ours=_ms(chunk_p99), baseline=_ms(base_p99),
            ratio=_ratio(chunk_p99, base_p99), goal=f"≤ {GOAL_CHUNK_P99_MS:g} ms", passed=chunk_p99 <= GOAL_CHUNK_P99_MS),
        Row(id="S3", figure=f"endpoint → final minus backend, p50, {n} streams", ours=_ms(over_p50),
            baseline=_ms(base_over), ratio=_ratio(over_p50, base_over), goal=f"≤ {GOAL_OVERHEAD_P50_MS:g} ms",
            passed=over_p50 <= GOAL_OVERHEAD_P50_MS),
        Row(id="S4", figure=f"endpoint → final minus backend, p99, {n} streams", ours=_ms(over_p99),
            baseline=_ms(percentile(base_overhead, 0.99)), ratio=_ratio(over_p99, percentile(base_overhead, 0.99)),
            goal=f"≤ {GOAL_OVERHEAD_P99_MS:g} ms", passed=over_p99 <= GOAL_OVERHEAD_P99_MS),
        Row(id="S5", figure=f"end of speech → final minus backend, p50, {n} streams", ours=_ms(percentile(speech, 0.5)),
            baseline=_ms(percentile(base_speech, 0.5)), ratio=_ratio(percentile(speech, 0.5), percentile(base_speech, 0.5)),
            goal=f"≤ {GOAL_SPEECH_TO_FINAL_MS:g} ms (silence + chunk + 200 ms)",
            passed=percentile(speech, 0.5) <= GOAL_SPEECH_TO_FINAL_MS),
        Row(id="S6", figure="memory per live stream (worker peak RSS)", ours=f"{per_stream_mib:.2f} MiB",
            baseline=f"{idle_rss / (1 << 20):.0f} MiB idle worker", ratio="—",
            goal=f"≤ {GOAL_MEMORY_PER_STREAM_MIB:g} MiB", passed=per_stream_mib <= GOAL_MEMORY_PER_STREAM_MIB),
        Row(id="S7", figure=f"streams completed, finals received ({n} streams)", ours=f"{n - len(failed)}/{n}, {finals}",
            baseline=f"1/1, {sum(len(o.finals) for o in base_outcomes)}", ratio="—",
            goal=f"{n}/{n}, {6 * n}", passed=not failed and finals == 6 * n),
    ]  # fmt: skip
    rows[-1].note = (
        f"{args.format} chunks of {CHUNK_SECONDS} s in real time, partials every "
        f"{stream_config_partials()} s; {load_chunks.count} chunks handled in {wall:.0f} s. CPU in cores: "
        f"gateway worker {cpu / wall:.2f}, stand-in vLLM {standin_cpu / wall:.2f}, load client "
        f"{client_cpu / wall:.2f}, on {os.cpu_count()} cores; load average {load_before:.1f} just before "
        "(anything else running on the machine shares those cores and inflates the load figures)"
        + (f"; first failure: {failed[0].error or failed[0].closed_with}" if failed else "")
    )
    print_rows(rows)
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
