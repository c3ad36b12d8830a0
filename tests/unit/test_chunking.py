import itertools

import numpy as np
import pytest

from voxtral_gateway.services.chunking import plan_segments

RATE = 100  # a coarse rate keeps the arithmetic readable


def _check_cover(segments, total, max_len):
    assert segments[0].start == 0 and segments[-1].end == total
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start  # no gap, no overlap
    assert all(0 < s.end - s.start <= max_len for s in segments)
    assert [s.index for s in segments] == list(range(len(segments)))


def test_short_audio_is_one_segment():
    samples = np.zeros(20 * RATE, dtype=np.float32)
    assert [(s.start, s.end) for s in plan_segments(samples, RATE, [(1, 19)], 30, 5)] == [(0, 20 * RATE)]


def test_cuts_fall_in_the_middle_of_the_longest_pause_before_the_limit():
    samples = np.ones(70 * RATE, dtype=np.float32)
    speech = [(0, 26), (27, 28.5), (29.5, 55), (56, 70)]  # pauses 26–27 and 28.5–29.5 before 30 s
    segments = plan_segments(samples, RATE, speech, 30, 5)
    _check_cover(segments, len(samples), 30 * RATE)
    assert segments[0].end == 2650  # middle of the 26–27 s pause (the longest, 1 s; tie → first)
    assert segments[1].end == 5550  # middle of 55–56 s


def test_without_a_pause_the_cut_is_at_the_quietest_point():
    samples = np.ones(45 * RATE, dtype=np.float32)
    samples[2700:2702] = 0.0  # a near-silent moment at 27 s inside continuous speech
    segments = plan_segments(samples, RATE, [(0, 45)], 30, 5)
    _check_cover(segments, len(samples), 30 * RATE)
    assert 2700 <= segments[0].end <= 2702


@pytest.mark.parametrize("total_seconds", [30.01, 61, 600, 1800])
def test_any_length_is_covered_without_gap_or_overlap(total_seconds):
    rng = np.random.default_rng(1)
    samples = rng.standard_normal(int(total_seconds * RATE)).astype(np.float32)
    speech = [(t, t + 7.3) for t in np.arange(0, total_seconds, 8.0)]
    segments = plan_segments(samples, RATE, speech, 30, 5)
    _check_cover(segments, len(samples), 30 * RATE)
    assert len(segments) >= total_seconds / 30
