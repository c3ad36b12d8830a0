"""Live transcription over WebSocket on the embedded engine (whisper tiny.en): real speech in, text out,
in every way a client streams."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_process import GatewayProcess
from tests.support.stream_client import chunk_messages, cut, run_stream, stream_url, word_error_rate

# tiny.en on espeak-ng speech is near perfect on whole sentences; utterance cuts cost a word at most.
MAX_WER = 0.15


@pytest.fixture(scope="module")
def url(embedded_gateway: GatewayProcess) -> str:
    """The session's embedded server (a real socket for the WebSocket client)."""
    return stream_url(embedded_gateway)


def _pcm(path) -> bytes:
    with wave.open(str(path), "rb") as handle:
        return handle.readframes(handle.getnframes())


def _check_sentences(result, audio_fixtures: FixtureSet, tolerance: float = 0.6) -> None:
    """One final per sentence, in order, around the sentence's time, and the whole text in `done`."""
    truth = audio_fixtures.multi_utterance.utterances
    finals = result.finals
    assert [f["segment_id"] for f in finals] == list(range(1, len(finals) + 1))
    assert len(finals) == len(truth), [f["text"] for f in finals]
    for final, utterance in zip(finals, truth, strict=True):
        assert final["start"] <= utterance.start + 0.1 and final["end"] >= utterance.end - 0.1
        assert final["start"] >= utterance.start - tolerance and final["end"] <= utterance.end + tolerance
        assert word_error_rate(utterance.text, final["text"]) <= 0.34, (utterance.text, final["text"])
    done = result.done
    assert word_error_rate(audio_fixtures.multi_utterance.text, done["text"]) <= MAX_WER
    assert done["segments"] == len(truth)
    assert done["audio_duration_seconds"] == pytest.approx(audio_fixtures.multi_utterance.duration, abs=0.15)
    assert result.close_code == 1000


async def test_wav_in_half_second_chunks_in_real_time_gives_partials_then_the_final(url, audio_fixtures):
    clip = audio_fixtures.speech("wav")
    pieces = cut(clip.path.read_bytes(), 16_000)  # 0.5 s of 16 kHz 16-bit audio per chunk
    result = await run_stream(url, chunk_messages(pieces, "wav"), pace_seconds=0.5)
    assert result.messages[0]["type"] == "ready"
    assert result.messages[0]["sample_rate"] == 16000
    partials, finals = result.partials, result.finals
    assert len(finals) == 1
    assert partials, "a 5 s utterance streamed in real time gets partial results"
    final_index = result.messages.index(finals[0])
    assert all(result.messages.index(p) < final_index for p in partials)
    assert all(p["segment_id"] == finals[0]["segment_id"] for p in partials)
    assert [p["end"] for p in partials] == sorted(p["end"] for p in partials)
    assert word_error_rate(clip.text, finals[0]["text"]) <= MAX_WER
    assert finals[0]["chunk_id"] == len(pieces)
    assert finals[0]["confidence"] is not None and 0 < finals[0]["confidence"] <= 1
    assert result.done["text"] == finals[0]["text"]
    assert result.messages[-1]["type"] == "done" and result.close_code == 1000
    assert result.closed_at - result.arrival[-1] < 1.0  # the close follows `done` at once


async def test_wav_as_fast_as_possible_gives_a_final_per_sentence(url, audio_fixtures):
    pieces = cut(audio_fixtures.multi_utterance.path.read_bytes(), 16_000)
    result = await run_stream(url, chunk_messages(pieces, "wav"))
    _check_sentences(result, audio_fixtures)


async def test_mp3_cut_at_random_byte_offsets(url, audio_fixtures):
    data = audio_fixtures.multi_utterance.mp3_path.read_bytes()
    sizes = np.random.default_rng(11).integers(1, 4000, size=len(data)).tolist()
    result = await run_stream(url, chunk_messages(cut(data, sizes), "mp3"))
    _check_sentences(result, audio_fixtures)


@pytest.mark.parametrize(("container", "codec"), [("ogg", "opus"), ("ogg", "vorbis"), ("webm", None)])
async def test_ogg_and_webm_cut_at_random_byte_offsets(url, audio_fixtures, container, codec):
    clip = audio_fixtures.speech(container, rate=48000, channels=2, codec=codec)
    data = clip.path.read_bytes()
    sizes = np.random.default_rng(12).integers(1, 3000, size=len(data)).tolist()
    result = await run_stream(url, chunk_messages(cut(data, sizes), container))
    assert len(result.finals) == 1
    assert word_error_rate(clip.text, result.done["text"]) <= MAX_WER
    assert result.close_code == 1000


async def test_raw_pcm_binary_frames_after_a_start_message(url, audio_fixtures):
    pcm = audio_fixtures.multi_utterance.raw_path.read_bytes()
    frames = cut(pcm, 640)  # 20 ms frames, as voice agents send them
    outgoing = [{"format": "pcm_s16le", "sample_rate": 16000, "language": "en"}, *frames, {"is_final": True}]
    result = await run_stream(url, outgoing)
    _check_sentences(result, audio_fixtures)
    assert result.finals[-1]["chunk_id"] <= len(frames)  # binary frames are counted from 1


async def test_webm_binary_frames_like_a_browser_media_recorder(url, audio_fixtures):
    clip = audio_fixtures.speech("webm")
    outgoing = [{"type": "start", "format": "webm"}, *cut(clip.path.read_bytes(), 1500), {"is_final": True}]
    result = await run_stream(url, outgoing)
    assert word_error_rate(clip.text, result.done["text"]) <= MAX_WER
    assert result.close_code == 1000


async def test_pcm_at_8_khz_is_resampled(url, audio_fixtures):
    clip = audio_fixtures.speech("wav", rate=8000)
    outgoing = [{"format": "pcm_s16le", "sample_rate": 8000}, *cut(_pcm(clip.path), 1600), {"is_final": True}]
    result = await run_stream(url, outgoing)
    assert word_error_rate(clip.text, result.done["text"]) <= 0.3  # 8 kHz telephone band
    assert result.done["audio_duration_seconds"] == pytest.approx(clip.duration, abs=0.05)


async def test_a_language_the_model_cannot_do_is_refused_per_message(url, audio_fixtures):
    pieces = cut(audio_fixtures.speech("wav").path.read_bytes(), 64_000)
    messages = chunk_messages(pieces, "wav")
    french = {**messages[0], "language": "fr"}
    result = await run_stream(url, [french, *messages])
    error = result.errors[0]
    assert error["code"] == "invalid_request" and error["chunk_id"] == 1 and "fr" in error["message"]
    assert word_error_rate(audio_fixtures.speech_text, result.done["text"]) <= MAX_WER
