"""The small-ratio polyphase resampler (audio/resample.py `RatioResampler`) that turns the realtime
protocols' raw PCM (OpenAI's 24 kHz, telephony's 8 kHz, 48 kHz) into 16 kHz: tones come out as the same
tones, in time, with nothing else; what the output rate cannot hold does not alias into it; and a stream
cut anywhere comes out as if resampled whole."""

from __future__ import annotations

import numpy as np
import pytest

from voxtral_gateway.audio.resample import RatioResampler

TARGET = 16_000
AMPLITUDE = 10_000.0
EDGE = 200  # output samples at each end left out (the zeros before and after the stream)


def _tone(frequency: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(AMPLITUDE * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def _resampled(samples: np.ndarray, rate: int, cuts: list[int] | None = None) -> np.ndarray:
    resampler = RatioResampler(rate, TARGET)
    out, position = [], 0
    for size in cuts or []:
        out.append(resampler.feed(samples[position : position + size]))
        position += size
    out.append(resampler.feed(samples[position:]))
    out.append(resampler.finish())
    return np.concatenate(out)


def _db(power_ratio: float) -> float:
    return 10 * np.log10(max(power_ratio, 1e-30))


@pytest.mark.parametrize(
    ("rate", "frequency"),
    [(24_000, 440.0), (24_000, 3_000.0), (24_000, 6_000.0), (48_000, 1_000.0), (48_000, 6_000.0),
     (8_000, 440.0), (8_000, 3_000.0), (32_000, 2_500.0)],
)  # fmt: skip
def test_a_tone_in_band_comes_out_as_the_same_tone_in_time_and_nothing_else(rate, frequency):
    out = _resampled(_tone(frequency, rate), rate).astype(np.float64)
    assert len(out) == TARGET  # one second in, one second out
    t = np.arange(len(out)) / TARGET
    expected = AMPLITUDE * np.sin(2 * np.pi * frequency * t)  # no delay: same phase as the input
    inner = slice(EDGE, -EDGE)
    gain_db = _db(np.mean(out[inner] ** 2) / np.mean(expected[inner] ** 2))
    assert abs(gain_db) < 0.05, gain_db
    # What is not the tone (aliases, images, delay, distortion) is 60 dB below it.
    residual_db = _db(np.mean((out[inner] - expected[inner]) ** 2) / np.mean(expected[inner] ** 2))
    assert residual_db < -60, residual_db


@pytest.mark.parametrize(
    ("rate", "frequency"),
    [(24_000, 8_200.0), (24_000, 9_000.0), (24_000, 11_000.0), (48_000, 12_000.0), (48_000, 20_000.0)],
)
def test_what_16khz_cannot_hold_is_filtered_out_not_folded_back(rate, frequency):
    # Without the anti-aliasing filter a 9 kHz tone would come out as a 7 kHz one at full level.
    out = _resampled(_tone(frequency, rate), rate).astype(np.float64)
    level_db = _db(np.mean(out[EDGE:-EDGE] ** 2) / (AMPLITUDE**2 / 2))
    assert level_db < -60, level_db


@pytest.mark.parametrize("rate", [24_000, 8_000, 48_000])
def test_a_stream_cut_anywhere_comes_out_as_if_resampled_whole(rate):
    rng = np.random.default_rng(rate)
    speechlike = (rng.standard_normal(rate * 2) * 3_000).astype(np.int16)  # every frequency at once
    whole = _resampled(speechlike, rate)
    cuts = [int(n) for n in rng.integers(0, 700, size=60)] + [1, 1, 0, 2, 3]
    pieces = _resampled(speechlike, rate, cuts)
    assert len(pieces) == len(whole) == -(-len(speechlike) * TARGET // rate)
    # Equal up to the last bit's rounding (the matrix products of different sizes sum in other orders).
    assert np.abs(pieces.astype(np.int32) - whole).max() <= 1


def test_a_stream_shorter_than_the_filter_still_comes_out():
    resampler = RatioResampler(24_000, TARGET)
    out = np.concatenate([resampler.feed(np.full(3, 1000, dtype=np.int16)), resampler.finish()])
    assert len(out) == 2


def test_full_scale_input_stays_in_range():
    square = np.where(np.arange(24_000) // 12 % 2 == 0, 32767, -32768).astype(np.int16)
    out = _resampled(square, 24_000)
    assert out.dtype == np.int16
    assert out.max() == 32767 and out.min() == -32768  # the overshoot is clipped, not wrapped


def test_only_small_ratios_are_taken():
    assert RatioResampler.supports(24_000, TARGET)
    assert RatioResampler.supports(8_000, TARGET)
    assert not RatioResampler.supports(44_100, TARGET)
    assert not RatioResampler.supports(TARGET, TARGET)
    with pytest.raises(ValueError):
        RatioResampler(44_100, TARGET)
