"""The speech clip the smoke test sends: spoken by espeak-ng when it is installed, else the clip that
ships with the package, else (a damaged install) a synthesized vowel-like sound."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import tempfile
import wave
from importlib import resources
from pathlib import Path

import msgspec

SPOKEN_TEXT = "Hello from the voxtral gateway. The smoke test is working."
BUNDLED_CLIP = "hello.ogg"
"""espeak-ng reading SPOKEN_TEXT, Ogg/Opus 16 kHz mono (11 KB)."""
_SAMPLE_RATE = 16_000


class Clip(msgspec.Struct, kw_only=True, frozen=True):
    data: bytes
    format: str
    """The API's `format` hint: wav, ogg, mp3, ..."""
    source: str
    """Where it came from, for the report."""
    words: tuple[str, ...] = ()
    """Words a working model should hear (empty for a clip that is not speech)."""

    @property
    def filename(self) -> str:
        return f"smoke.{self.format}"


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip(".,").lower() for word in text.split() if len(word.strip(".,")) > 3)


def speech_clip(path: Path | None = None) -> Clip:
    """The clip to send: `path` when given, else espeak-ng, else the bundled clip, else a synthesized one."""
    if path is not None:
        return Clip(data=path.read_bytes(), format=path.suffix.lstrip(".").lower() or "wav", source=str(path))
    return _espeak() or _bundled() or _synthesized()


def _espeak() -> Clip | None:
    binary = shutil.which("espeak-ng") or shutil.which("espeak")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "speech.wav"
        try:
            subprocess.run(
                [binary, "-v", "en-us", "-s", "150", "-w", str(out), SPOKEN_TEXT],
                check=True,
                timeout=30,
                capture_output=True,
            )
            data = out.read_bytes()
        except (OSError, subprocess.SubprocessError):
            return None
    return Clip(data=data, format="wav", source=f"{Path(binary).name} (generated)", words=_words(SPOKEN_TEXT))


def _bundled() -> Clip | None:
    try:
        data = resources.files("voxtral_gateway.smoke").joinpath(BUNDLED_CLIP).read_bytes()
    except (FileNotFoundError, OSError, ModuleNotFoundError):
        return None
    return Clip(
        data=data, format="ogg", source="bundled clip (espeak-ng not installed)", words=_words(SPOKEN_TEXT)
    )


def _synthesized(seconds: float = 3.0) -> Clip:
    """A vowel-like buzz (formants on a 120 Hz pulse), 16 kHz mono WAV: exercises every route, but a
    model may transcribe it as nothing."""
    samples = []
    for n in range(int(seconds * _SAMPLE_RATE)):
        t = n / _SAMPLE_RATE
        envelope = 0.5 - 0.5 * math.cos(2 * math.pi * min(t / seconds, 1.0))
        value = sum(
            amplitude * math.sin(2 * math.pi * frequency * t)
            for frequency, amplitude in ((120, 0.5), (700, 0.3), (1220, 0.2), (2600, 0.1))
        )
        samples.append(int(max(-1.0, min(1.0, value * envelope)) * 12_000))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(_SAMPLE_RATE)
        writer.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return Clip(data=buffer.getvalue(), format="wav", source="synthesized (no espeak-ng, no bundled clip)")
