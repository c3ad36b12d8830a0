"""Raw PCM in the encodings voice-agent protocols send (no header: the client declares encoding and
rate), turned into 16 kHz mono int16 as the bytes arrive, in pieces cut anywhere.

Encodings: 16/32-bit integer and 16/32-bit float little-endian, and G.711 μ-law / A-law (telephony,
usually 8 kHz). OpenAI Realtime sends PCM16 at 24 kHz or G.711 at 8 kHz; Mistral's realtime protocol any of
these at a rate it declares."""

from __future__ import annotations

import av
import numpy as np

from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE, AudioLimits, check_source_format
from voxtral_gateway.audio.resample import RatioResampler
from voxtral_gateway.audio.stream.codecs import Resampled

RAW_PCM_ENCODINGS: dict[str, int] = {
    "pcm_s16le": 2,
    "pcm_s32le": 4,
    "pcm_f16le": 2,
    "pcm_f32le": 4,
    "pcm_mulaw": 1,
    "pcm_alaw": 1,
}
"""Each raw encoding and its bytes per (mono) sample."""


def _mulaw_table() -> np.ndarray:
    # ITU-T G.711 μ-law expansion: complement, then sign, 3-bit exponent, 4-bit mantissa, bias 0x84.
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + 0x84) << exponent
    return np.where(code & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _alaw_table() -> np.ndarray:
    # ITU-T G.711 A-law expansion: even bits inverted (0x55), then sign, 3-bit exponent, 4-bit mantissa.
    code = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_MULAW = _mulaw_table()
_ALAW = _alaw_table()


def pcm16_of(data: bytes, encoding: str) -> np.ndarray:
    """Whole samples of `encoding` (a multiple of its width) as int16."""
    if encoding == "pcm_s16le":
        return np.frombuffer(data, dtype="<i2").copy()
    if encoding == "pcm_mulaw":
        return _MULAW[np.frombuffer(data, dtype=np.uint8)]
    if encoding == "pcm_alaw":
        return _ALAW[np.frombuffer(data, dtype=np.uint8)]
    if encoding == "pcm_s32le":
        return (np.frombuffer(data, dtype="<i4") >> 16).astype(np.int16)
    floats = np.frombuffer(data, dtype="<f2" if encoding == "pcm_f16le" else "<f4").astype(np.float32)
    return (np.clip(np.nan_to_num(floats), -1.0, 1.0) * 32767.0).astype(np.int16)


class RawPcm:
    """One stream of raw mono PCM in one encoding at one rate → 16 kHz mono int16."""

    def __init__(self, encoding: str, sample_rate: int, limits: AudioLimits):
        if encoding not in RAW_PCM_ENCODINGS:
            raise ValueError(f"unknown raw PCM encoding {encoding!r}")
        check_source_format(sample_rate, 1, limits, stream=True)
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._width = RAW_PCM_ENCODINGS[encoding]
        self._leftover = b""
        # The usual rates (24 kHz OpenAI, 8 kHz telephony, 48 kHz) are a small ratio from 16 kHz: a numpy
        # polyphase filter, a fraction of libswresample's cost per message; others go to libswresample.
        self._ratio: RatioResampler | None = None
        self._output: Resampled | None = None
        if RatioResampler.supports(sample_rate, TARGET_SAMPLE_RATE):
            self._ratio = RatioResampler(sample_rate, TARGET_SAMPLE_RATE)
        elif sample_rate != TARGET_SAMPLE_RATE:
            self._output = Resampled()

    def feed(self, data: bytes) -> list[np.ndarray]:
        data = self._leftover + data if self._leftover else data
        usable = len(data) - len(data) % self._width
        self._leftover = data[usable:]
        if usable == 0:
            return []
        samples = pcm16_of(data[:usable], self.encoding)
        if self._ratio is not None:
            return [self._ratio.feed(samples)]
        if self._output is None:
            return [samples]
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        return self._output.frames([frame])

    def finish(self) -> list[np.ndarray]:
        self._leftover = b""
        if self._ratio is not None:
            return [self._ratio.finish()]
        return self._output.flush() if self._output is not None else []
