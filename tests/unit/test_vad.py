"""The VAD: speech regions of whole clips, and the same regions when the audio arrives in pieces."""

from __future__ import annotations

import itertools
import wave

import numpy as np
import pytest

from tests.audio_fixtures import FixtureSet
from voxtral_gateway.audio.vad import EndpointRules, speech_regions
from voxtral_gateway.services.live.segmenter import Utterance, UtteranceSegmenter

RATE = 16_000


def _pcm(path) -> np.ndarray:
    with wave.open(str(path), "rb") as handle:
        assert handle.getframerate() == RATE and handle.getnchannels() == 1
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")


@pytest.fixture(scope="module")
def multi(audio_fixtures: FixtureSet) -> np.ndarray:
    return _pcm(audio_fixtures.multi_utterance.path)


def _noise(seconds: float, level: float, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * level * 32767).astype(np.int16)


def test_each_sentence_of_the_recording_is_one_region_around_its_speech(multi, audio_fixtures):
    regions = speech_regions(multi)
    truth = audio_fixtures.multi_utterance.utterances
    assert len(regions) == len(truth)
    for (start, end), utterance in zip(regions, truth, strict=True):
        assert utterance.start - 0.5 <= start <= utterance.start + 0.05
        assert utterance.end - 0.05 <= end <= utterance.end + 0.6
    # Regions do not overlap and stay in order.
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(regions))


def test_float_and_int16_input_give_the_same_regions(multi):
    assert speech_regions(multi.astype(np.float32) / 32768.0) == speech_regions(multi)


def test_silence_and_a_click_are_not_speech():
    silence = np.zeros(3 * RATE, dtype=np.int16)
    assert speech_regions(silence) == []
    click = silence.copy()
    click[RATE : RATE + 960] = _noise(0.06, 0.5)  # 60 ms burst
    assert speech_regions(click) == []


def test_a_region_longer_than_the_maximum_is_cut_at_a_quiet_point(multi, audio_fixtures):
    # The sentences back to back with 150 ms pauses: one long region that must be cut.
    truth = audio_fixtures.multi_utterance.utterances
    pieces = []
    for utterance in truth:
        pieces.append(multi[int(utterance.start * RATE) : int(utterance.end * RATE)])
        pieces.append(np.zeros(int(0.15 * RATE), dtype=np.int16))
    joined = np.concatenate(pieces)
    rules = EndpointRules(max_region_seconds=6.0)
    regions = speech_regions(joined, rules=rules)
    assert len(regions) >= 3
    assert all(end - start <= 6.0 + 1e-6 for start, end in regions)
    speech_energy = float(np.mean(joined.astype(float) ** 2))
    cuts = [end for (_, end), (start, _) in itertools.pairwise(regions) if end == start]  # not pauses
    assert cuts
    for cut in cuts:
        around = joined[int(cut * RATE) - 240 : int(cut * RATE) + 240].astype(float)
        assert float(np.mean(around**2)) < 0.2 * speech_energy


def test_the_rules_move_the_boundaries(multi):
    # A longer required silence merges sentences separated by 1 s pauses.
    merged = speech_regions(multi, rules=EndpointRules(silence_seconds=1.2))
    assert len(merged) < len(speech_regions(multi))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_segmenter_fed_in_random_pieces_finds_the_regions_of_the_whole_clip(multi, seed):
    rng = np.random.default_rng(seed)
    segmenter = UtteranceSegmenter(EndpointRules())
    events = []
    position = 0
    while position < len(multi):
        size = int(rng.integers(1, 9000))
        events += segmenter.push(multi[position : position + size])
        position += size
    events += segmenter.finish()
    utterances = [e for e in events if isinstance(e, Utterance)]
    found = [(round(u.start, 3), round(u.end, 3)) for u in utterances]
    assert found == speech_regions(multi)
    assert [u.segment_id for u in utterances] == list(range(1, len(utterances) + 1))
    for utterance in utterances:
        assert np.array_equal(utterance.samples, multi[utterance.start_sample : utterance.end_sample])


def test_the_segmenter_holds_little_audio_during_silence_and_drops_noise_bursts():
    segmenter = UtteranceSegmenter(EndpointRules())
    events = []
    for second in range(120):
        chunk = np.zeros(RATE, dtype=np.int16)
        if second == 60:
            chunk[:960] = _noise(0.06, 0.5)
        events += segmenter.push(chunk)
    assert not [e for e in events if isinstance(e, Utterance)]
    assert segmenter.held_bytes <= 4 * 2 * RATE
