"""Decode any FFmpeg-readable audio to 16 kHz mono float32 with PyAV, enforcing limits early.

Runs in a worker thread (it is CPU work); raises the gateway's audio errors, never PyAV's."""

from __future__ import annotations

import contextlib
import io
import math

import av
import msgspec
import numpy as np
import structlog

from voxtral_gateway.audio.limits import (
    TARGET_SAMPLE_RATE,
    AudioLimits,
    check_decoded,
    check_duration,
    check_source_format,
)
from voxtral_gateway.audio.pcm_wav import read_pcm16_mono
from voxtral_gateway.audio.resample import MonoResampler
from voxtral_gateway.audio.sniff import DEMUXER_FOR_LABEL, sniff_container
from voxtral_gateway.audio.wav_header import declared_wav_seconds
from voxtral_gateway.errors import AudioRejected, AudioTooLong, AudioUndecodable, PayloadTooLarge

log = structlog.get_logger(__name__)

# One second per output frame: ~1 frame object and copy per second of audio instead of ~40.
_OUTPUT_FRAME_SAMPLES = TARGET_SAMPLE_RATE


class SourceInfo(msgspec.Struct, kw_only=True, frozen=True):
    container: str
    codec: str
    sample_rate: int
    channels: int
    declared_duration_seconds: float | None
    size_bytes: int


class DecodedAudio(msgspec.Struct, kw_only=True):
    samples: np.ndarray
    """float32 mono at `sample_rate`."""
    sample_rate: int
    source: SourceInfo
    pcm16: memoryview | None = None
    """The client's own 16-bit PCM for exactly these samples, when nothing had to be converted (a 16 kHz
    mono 16-bit WAV): sent upstream as it is. None after any conversion, and for a slice of the audio."""

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(data: bytes | bytearray, declared_format: str | None, limits: AudioLimits) -> DecodedAudio:
    """Decode `data`; the declared format is only a hint, the sniffed container wins."""
    label = declared_format or "audio"
    if len(data) == 0:
        raise AudioUndecodable(f"{limits.field} is empty: no audio bytes were sent", field=limits.field)
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"{limits.field} is {len(data)} bytes; the limit is {limits.max_bytes} bytes "
            f"(MAX_FILE_SIZE_MB={limits.max_bytes / 1048576:g})",
            field=limits.field,
            details={"size_bytes": len(data), "limit_bytes": limits.max_bytes},
        )
    sniffed = sniff_container(data)
    if sniffed == "wav" and (cheap := read_pcm16_mono(data, limits)) is not None:
        samples, pcm = cheap
        source = SourceInfo(
            container="wav",
            codec="pcm_s16le",
            sample_rate=TARGET_SAMPLE_RATE,
            channels=1,
            declared_duration_seconds=len(samples) / TARGET_SAMPLE_RATE,
            size_bytes=len(data),
        )
        return DecodedAudio(samples=samples, sample_rate=TARGET_SAMPLE_RATE, source=source, pcm16=pcm)
    if declared_format and sniffed and DEMUXER_FOR_LABEL.get(declared_format) != DEMUXER_FOR_LABEL[sniffed]:
        log.info("audio_format_mismatch", declared=declared_format, detected=sniffed)
    demuxer = DEMUXER_FOR_LABEL[sniffed].split(",")[0] if sniffed else None
    try:
        container = av.open(_BufferReader(data), mode="r", format=demuxer, metadata_errors="ignore")
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise AudioUndecodable(
            f"{limits.field} could not be decoded as {sniffed or label}: {_reason(exc)}", field=limits.field
        ) from exc
    with container:
        return _decode_container(container, data, sniffed or label, limits)


class _BufferReader:
    """A read-only file over any buffer, for PyAV: unlike `io.BytesIO`, it never copies a `bytearray`
    (the request's own buffer, where the upload was base64-decoded in place)."""

    def __init__(self, data: bytes | bytearray | memoryview):
        self._view = memoryview(data).cast("B")
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        start = self._position
        end = len(self._view) if size < 0 else min(start + size, len(self._view))
        self._position = max(start, end)
        return bytes(self._view[start:end])

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # As io.BytesIO does: FFmpeg's AVSEEK_SIZE query is refused, so it seeks to the end instead.
        if whence == io.SEEK_SET:
            if offset < 0:
                raise ValueError(f"negative seek value {offset}")
            base = 0
        elif whence == io.SEEK_CUR:
            base = self._position
        elif whence == io.SEEK_END:
            base = len(self._view)
        else:
            raise ValueError(f"invalid whence ({whence})")
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '<none>'")[0]


def _decode_container(
    container: av.container.InputContainer, data: bytes | bytearray, label: str, limits: AudioLimits
) -> DecodedAudio:
    stream = next((s for s in container.streams if s.type == "audio"), None)
    if stream is None:
        raise AudioUndecodable(f"{limits.field} has no audio stream ({label})", field=limits.field)
    context = stream.codec_context
    source = SourceInfo(
        container=container.format.name,
        codec=context.name,
        sample_rate=context.sample_rate or 0,
        channels=context.channels or 0,
        declared_duration_seconds=_declared_duration(container, stream),
        size_bytes=len(data),
    )
    check_source_format(source.sample_rate, source.channels, limits)
    declared = source.declared_duration_seconds
    if container.format.name == "wav":
        # FFmpeg clamps a WAV's duration to the bytes present; the header tells if some are missing.
        declared = max(declared or 0.0, declared_wav_seconds(data) or 0.0) or None
    if declared is not None:
        check_duration(declared, limits)
    samples = _decode_samples(container, stream, label, declared, limits)
    check_decoded(declared, len(samples) / TARGET_SAMPLE_RATE, label, limits)
    return DecodedAudio(samples=samples, sample_rate=TARGET_SAMPLE_RATE, source=source)


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The duration the file's headers declare; None when they declare none, or nonsense (a crafted
    file's negative or infinite duration), which the decode then finds out for itself."""
    declared: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        declared = container.duration / av.time_base
    if declared is None or not math.isfinite(declared) or declared <= 0:
        return None
    return declared


def _decode_samples(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    label: str,
    declared: float | None,
    limits: AudioLimits,
) -> np.ndarray:
    max_samples = math.ceil(limits.max_duration_seconds * TARGET_SAMPLE_RATE)
    capacity = (
        math.ceil(declared * TARGET_SAMPLE_RATE * 1.02) + TARGET_SAMPLE_RATE
        if declared
        else 30 * TARGET_SAMPLE_RATE
    )
    sink = _SampleSink(min(capacity, max_samples + TARGET_SAMPLE_RATE), max_samples, limits)
    resampler = MonoResampler(TARGET_SAMPLE_RATE, _OUTPUT_FRAME_SAMPLES)
    try:
        for frame in container.decode(stream):
            for chunk in resampler.push(frame):
                sink.write(chunk)
        for chunk in resampler.flush():
            sink.write(chunk)
    except av.FFmpegError as exc:
        # What was decoded before the error says whether this is "not audio" or "corrupt after N s".
        with contextlib.suppress(av.FFmpegError):
            for chunk in resampler.flush():
                sink.write(chunk)
        if sink.written == 0:
            raise AudioUndecodable(
                f"{limits.field} could not be decoded as {label}: {_reason(exc)}", field=limits.field
            ) from exc
        raise AudioRejected(
            f"{limits.field} is corrupt after {sink.written / TARGET_SAMPLE_RATE:.2f} s of {label}: {_reason(exc)}",
            field=limits.field,
        ) from exc
    return sink.samples()


class _SampleSink:
    """The one preallocated output array, filled in place; grown (rarely) when the container
    under-declared its duration, and never past the duration limit."""

    def __init__(self, capacity: int, max_samples: int, limits: AudioLimits):
        self.buffer = np.empty(capacity, dtype=np.float32)
        self.written = 0
        self.max_samples = max_samples
        self.limits = limits

    def write(self, chunk: np.ndarray) -> None:
        end = self.written + len(chunk)
        if end > self.max_samples:
            raise AudioTooLong(
                f"{self.limits.field} is longer than the limit of {self.limits.max_duration_seconds:g} s",
                field=self.limits.field,
                details={"limit_seconds": self.limits.max_duration_seconds},
            )
        if end > len(self.buffer):
            grown = np.empty(max(end, len(self.buffer) * 2), dtype=np.float32)
            grown[: self.written] = self.buffer[: self.written]
            self.buffer = grown
        self.buffer[self.written : end] = chunk
        self.written = end

    def samples(self) -> np.ndarray:
        # Copy out only when the buffer is much larger than the audio, so memory is not held for nothing.
        written = self.written
        return self.buffer[:written] if written * 2 > len(self.buffer) else self.buffer[:written].copy()
