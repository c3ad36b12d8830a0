"""Decoding into one preallocated array and encoding without intermediate copies change nothing:
the same samples as PyAV's `AudioResampler` and as the straightforward numpy WAV encoding."""

from __future__ import annotations

import io
import struct
import warnings

import av
import numpy as np
import pytest

from tests.audio_fixtures import FixtureSet
from voxtral_gateway.audio import AudioLimits, decode_audio, encode_wav

LIMITS = AudioLimits(max_bytes=50 * 1024 * 1024, max_duration_seconds=1800)


def reference_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """The encoding the gateway used to do: clip, scale, convert, join."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + pcm.nbytes, b"WAVE", b"fmt ", 16, 1, 1,
        sample_rate, sample_rate * 2, 2, 16, b"data", pcm.nbytes,
    )  # fmt: skip
    return header + pcm.tobytes()


def reference_samples(data: bytes) -> np.ndarray:
    """16 kHz mono float32 the way PyAV's own AudioResampler produces it, frame by frame."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(chunks)


@pytest.mark.parametrize("count", [0, 1, 65_535, 65_536, 65_537, 200_003])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wav_encoding_is_byte_identical(count: int, dtype: type[np.floating]):
    samples = (np.random.default_rng(count).standard_normal(count) * 0.7).astype(dtype)
    if count > 10:
        samples[3:8] = [np.nan, np.inf, -np.inf, 1.0, -1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN → int16, in both
        expected = reference_wav(samples, 16_000)
        assert bytes(encode_wav(samples, 16_000)) == expected
        assert (
            bytes(encode_wav(samples, 16_000, prefix=b"head", suffix=b"tail")) == b"head" + expected + b"tail"
        )


@pytest.mark.parametrize(
    ("container", "rate", "channels", "codec"),
    [
        ("mp3", 44100, 2, None),
        ("wav", 8000, 1, None),
        ("flac", 48000, 2, None),
        ("m4a", 22050, 1, None),
        ("ogg", 16000, 1, None),
        ("webm", 48000, 2, "opus"),
    ],
)
def test_decoded_samples_match_pyav_resampler(
    audio_fixtures: FixtureSet, container: str, rate: int, channels: int, codec: str | None
):
    data = audio_fixtures.speech(container, rate, channels, codec=codec).path.read_bytes()
    decoded = decode_audio(data, None, LIMITS)
    np.testing.assert_array_equal(decoded.samples, reference_samples(data))
    # The request's own buffer (a bytearray, decoded in place from base64) decodes the same, uncopied.
    np.testing.assert_array_equal(decode_audio(bytearray(data), None, LIMITS).samples, decoded.samples)
