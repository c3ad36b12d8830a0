"""Raw PCM in the realtime protocols' encodings → 16 kHz mono int16 (audio/stream/raw_pcm.py), in pieces
cut anywhere, checked against ffmpeg's own encoders and decoders."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tests.support.realtime_audio import raw_audio
from voxtral_gateway.audio import AudioLimits
from voxtral_gateway.audio.stream import AudioStreamDecoder
from voxtral_gateway.audio.stream.raw_pcm import RAW_PCM_ENCODINGS, pcm16_of

LIMITS = AudioLimits(max_bytes=1 << 30, max_duration_seconds=3600)


def _ffmpeg_decode(data: bytes, fmt: str) -> np.ndarray:
    """ffmpeg's decoding of raw `fmt` bytes (8 kHz mono) to int16."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", fmt, "-ar", "8000", "-ac", "1", "-i", "-", "-f", "s16le", "-"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<i2")


@pytest.mark.parametrize(("encoding", "fmt"), [("pcm_mulaw", "mulaw"), ("pcm_alaw", "alaw")])
def test_g711_expansion_matches_ffmpeg_for_every_code(encoding, fmt):
    codes = bytes(range(256))
    assert np.array_equal(pcm16_of(codes, encoding), _ffmpeg_decode(codes, fmt))


@pytest.mark.parametrize("encoding", sorted(RAW_PCM_ENCODINGS))
@pytest.mark.parametrize("rate", [8_000, 16_000, 24_000, 48_000])
def test_each_encoding_at_each_rate_decodes_to_the_same_16khz_speech(audio_fixtures, encoding, rate):
    clip = audio_fixtures.speech("wav")
    reference = np.frombuffer(raw_audio(clip.path, 16_000), dtype="<i2").astype(np.float32)
    data = raw_audio(clip.path, rate, encoding)
    decoder = AudioStreamDecoder(encoding, LIMITS, rate, raw_only=True)
    sizes = np.random.default_rng(rate).integers(1, 3000, size=len(data))
    pieces, position = [], 0
    for size in sizes:  # cut anywhere, mid-sample included
        if position >= len(data):
            break
        pieces.append(decoder.feed(data[position : position + int(size)]))
        position += int(size)
    pieces.append(decoder.finish())
    decoded = np.concatenate(pieces).astype(np.float32)
    assert abs(len(decoded) - len(reference)) <= 16 * 20  # within 20 ms (resampler delay)
    n = min(len(decoded), len(reference))
    # Speech survives: the decoded signal matches ffmpeg's 16 kHz rendering (G.711 and 8 kHz lose detail).
    correlation = np.corrcoef(decoded[:n], reference[:n])[0, 1]
    floor = 0.9 if rate == 8_000 or encoding in ("pcm_mulaw", "pcm_alaw") else 0.98
    assert correlation >= floor, correlation


def test_raw_bytes_that_look_like_a_container_stay_raw():
    decoder = AudioStreamDecoder("pcm_mulaw", LIMITS, 8_000, raw_only=True)
    samples = len(decoder.feed(b"RIFF" + bytes(4) + b"WAVEfmt " + bytes(1600))) + len(decoder.finish())
    assert samples == pytest.approx((4 + 4 + 8 + 1600) * 2, abs=40)  # 8 → 16 kHz: every byte a sample
