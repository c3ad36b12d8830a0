"""The cheap path for a WAV already at 16 kHz mono 16-bit: the same checks and samples as the full
decode, the client's PCM forwarded untouched, anything else left to the full decode."""

from __future__ import annotations

import io
import struct
import wave

import av
import numpy as np
import pytest

from voxtral_gateway.audio import AudioLimits, decode_audio
from voxtral_gateway.audio.pcm_wav import find_pcm16_mono, read_pcm16_mono
from voxtral_gateway.backends.multipart import pcm_wav_form, wav_form
from voxtral_gateway.errors import AudioRejected, AudioTooLong

LIMITS = AudioLimits(max_bytes=10_000_000, max_duration_seconds=60)


def wav_bytes(seconds: float = 2.0, rate: int = 16_000, channels: int = 1, width: int = 2) -> bytes:
    count = int(seconds * rate)
    rng = np.random.default_rng(7)
    samples = (rng.standard_normal(count * channels) * 3000).clip(-32768, 32767).astype("<i2")
    raw = (samples // 256 + 128).astype(np.uint8).tobytes() if width == 1 else samples.tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(raw)
    return out.getvalue()


def full_decode(data: bytes) -> np.ndarray:
    """What PyAV gives for the same file (s16 → float, as the gateway's full decode)."""
    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return (np.concatenate(frames).astype(np.float32) / 32768).astype(np.float32)


def test_canonical_wav_takes_the_cheap_path_with_the_full_decodes_samples():
    data = wav_bytes()
    audio = decode_audio(data, "wav", LIMITS)
    assert audio.pcm16 is not None and bytes(audio.pcm16) == data[44:]
    np.testing.assert_array_equal(audio.samples, full_decode(data))
    assert audio.sample_rate == 16_000 and audio.duration_seconds == pytest.approx(2.0)
    assert (audio.source.container, audio.source.codec, audio.source.channels) == ("wav", "pcm_s16le", 1)


@pytest.mark.parametrize(
    "options", [{"rate": 44_100}, {"channels": 2}, {"width": 1}, {"rate": 8_000}], ids=str
)
def test_anything_else_takes_the_full_decode(options):
    data = wav_bytes(**options)
    assert find_pcm16_mono(data) is None
    audio = decode_audio(data, "wav", LIMITS)
    assert audio.pcm16 is None and audio.sample_rate == 16_000


def test_extensible_format_tag_takes_the_full_decode():
    data = bytearray(wav_bytes())
    struct.pack_into("<H", data, 20, 0xFFFE)
    assert find_pcm16_mono(data) is None


def test_truncated_wav_is_refused_as_by_the_full_decode():
    data = wav_bytes(4.0)[: 44 + 32_000]  # declares 4 s, holds 1 s
    with pytest.raises(AudioRejected, match=r"truncated: the wav file declares 4\.00 s but only 1\.00 s"):
        read_pcm16_mono(data, LIMITS)


def test_duration_is_checked_on_the_header_and_the_bytes():
    data = bytearray(wav_bytes(1.0))
    struct.pack_into("<I", data, 40, 16_000 * 2 * 120)  # header claims 120 s
    with pytest.raises(AudioTooLong, match=r"120\.0 s long; the limit is 60 s"):
        read_pcm16_mono(data, LIMITS)
    with pytest.raises(AudioTooLong):
        read_pcm16_mono(wav_bytes(61.0), LIMITS)


def test_unknown_data_size_uses_the_bytes_present():
    data = bytearray(wav_bytes(1.0))
    struct.pack_into("<I", data, 40, 0xFFFFFFFF)
    samples, pcm = read_pcm16_mono(data, LIMITS)
    assert len(samples) == 16_000 and bytes(pcm) == bytes(data[44:])


def test_empty_data_is_refused():
    with pytest.raises(AudioRejected, match="no decodable audio"):
        read_pcm16_mono(wav_bytes(0.0), LIMITS)


def test_the_form_carries_the_clients_pcm_unchanged():
    data = wav_bytes(1.0)
    audio = decode_audio(data, "wav", LIMITS)
    fields = [("model", "m"), ("language", "en")]
    cheap = bytes(wav_form(audio, fields)._value)
    assert bytes(pcm_wav_form(audio.pcm16, 16_000, fields)._value) == cheap
    assert data[44:] in cheap and b"RIFF" in cheap
    # The same form as the encoder's, but for the samples' bytes: header and framing identical.
    audio.pcm16 = None
    encoded = bytes(wav_form(audio, fields)._value)
    assert len(encoded) == len(cheap)
    start = cheap.index(b"RIFF")
    assert encoded[: start + 44] == cheap[: start + 44]
    assert encoded[start + 44 + len(data) - 44 :] == cheap[start + 44 + len(data) - 44 :]
