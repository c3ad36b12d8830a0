"""Audio as the decoder hands it to a backend, for tests that call a backend directly."""

from __future__ import annotations

import numpy as np

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.audio.decode import SourceInfo

RATE = 16000


def sine_audio(seconds: float) -> DecodedAudio:
    """`seconds` of a 220 Hz tone at 16 kHz, as decoded from a 16-bit mono WAV."""
    samples = (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)
    source = SourceInfo(
        container="wav",
        codec="pcm_s16le",
        sample_rate=RATE,
        channels=1,
        declared_duration_seconds=seconds,
        size_bytes=samples.size * 2,
    )
    return DecodedAudio(samples=samples, sample_rate=RATE, source=source)
