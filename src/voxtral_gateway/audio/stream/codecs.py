"""The decoding steps shared by the stream decoders: PyAV codecs fed packet by packet, raw PCM turned
into frames, and every frame resampled to the 16 kHz mono 16-bit audio the VAD and models take."""

from __future__ import annotations

from collections.abc import Iterable

import av
import numpy as np
import structlog

from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE, AudioLimits, check_source_format
from voxtral_gateway.audio.stream.containers.wav import SampleFormat
from voxtral_gateway.audio.vad import to_pcm16
from voxtral_gateway.errors import AudioRejected, AudioUndecodable

log = structlog.get_logger(__name__)

EMPTY = np.empty(0, dtype=np.int16)
_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
_MAX_CONSECUTIVE_ERRORS = 25


class UnsupportedStreamFormat(AudioUndecodable):
    """A container or codec that cannot be decoded as it arrives (e.g. MP4, whose index may come last)."""

    code = "unsupported_stream_format"


class Resampled:
    """Frames of any format, rate and layout → 16 kHz mono int16; one per source format.

    Per-call overhead dominates at 20–40 ms frames, so frames already at 16 kHz are converted with
    numpy, and the others are joined into one frame per batch before one resampler call."""

    def __init__(self, skip_samples: int = 0) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_SAMPLE_RATE)
        self._skip = skip_samples

    def frames(self, frames: Iterable[av.AudioFrame]) -> list[np.ndarray]:
        frames = list(frames)
        if not frames:
            return []
        first = frames[0]
        fmt = first.format.name
        if fmt in _NUMPY_FORMATS and all(
            f.format.name == fmt and f.sample_rate == first.sample_rate for f in frames
        ):
            arrays = [_planes(frame) for frame in frames]
            if first.sample_rate == TARGET_SAMPLE_RATE:
                return self._skipped([_mono_pcm16(array, fmt, first.layout.nb_channels) for array in arrays])
            if len(frames) > 1:
                joined = av.AudioFrame.from_ndarray(
                    np.concatenate(arrays, axis=1), format=fmt, layout=first.layout.name
                )
                joined.sample_rate = first.sample_rate
                frames = [joined]
        out: list[np.ndarray] = []
        for frame in frames:
            try:
                converted = self._resampler.resample(frame)
            except ValueError:  # the source's rate or layout changed mid-stream (files joined)
                out += [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
                self._resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_SAMPLE_RATE)
                converted = self._resampler.resample(frame)
            out += [resampled.to_ndarray().reshape(-1) for resampled in converted]
        return self._skipped(out)

    def flush(self) -> list[np.ndarray]:
        return self._skipped([frame.to_ndarray().reshape(-1) for frame in self._resampler.resample(None)])

    def skip(self, samples: int) -> None:
        """Drop `samples` more output samples (16 kHz) from the start."""
        self._skip += samples

    def _skipped(self, chunks: list[np.ndarray]) -> list[np.ndarray]:
        # Codec priming samples (Opus pre-skip, Matroska codec delay) are not audio.
        while self._skip and chunks:
            head = chunks[0]
            dropped = min(self._skip, len(head))
            self._skip -= dropped
            if dropped == len(head):
                chunks.pop(0)
            else:
                chunks[0] = head[dropped:]
        return chunks


_NUMPY_FORMATS = {"s16": "<i2", "s16p": "<i2", "flt": "<f4", "fltp": "<f4"}


def _planes(frame: av.AudioFrame) -> np.ndarray:
    """The frame's samples without copies through PyAV's `to_ndarray`: (planes, samples per plane)."""
    dtype = _NUMPY_FORMATS[frame.format.name]
    planar = frame.format.is_planar
    per_plane = frame.samples * (1 if planar else frame.layout.nb_channels)
    planes = frame.planes if planar else frame.planes[:1]
    return np.stack([np.frombuffer(plane, dtype=dtype, count=per_plane) for plane in planes])


def _mono_pcm16(array: np.ndarray, fmt: str, channels: int) -> np.ndarray:
    if fmt in ("s16", "flt") and channels > 1:
        array = array.reshape(-1, channels).T  # interleaved → one row per channel
    mono = array[0] if len(array) == 1 else array.mean(axis=0, dtype=np.float32)
    if fmt.startswith("s16"):
        return mono.astype(np.int16, copy=False)
    return (np.clip(mono, -1.0, 1.0) * 32767.0).astype(np.int16)


class PacketCodec:
    """One PyAV decoder fed whole packets; corrupt packets are skipped (a live stream may lose bytes),
    but a run of them means the stream is not what it claims to be."""

    def __init__(self, name: str, extradata: bytes | None = None, skip_samples: int = 0):
        try:
            self._context = av.CodecContext.create(name, "r")
        except (av.FFmpegError, ValueError) as exc:
            raise UnsupportedStreamFormat(f"no {name} decoder is available") from exc
        if extradata:
            self._context.extradata = extradata
        self._output = Resampled(skip_samples)
        self.name = name
        self.errors = 0
        self._consecutive_errors = 0
        self._checked = False
        self._skip_source = 0
        self.limits: AudioLimits | None = None

    @property
    def sample_rate(self) -> int:
        return self._context.sample_rate or 0

    @property
    def channels(self) -> int:
        return self._context.channels or 0

    def skip_source_samples(self, samples: int) -> None:
        """Drop `samples` (at the source's rate, known once a frame is decoded) from the output."""
        self._skip_source += samples

    def parse(self, data: bytes | None) -> list[av.Packet]:
        """Split a raw byte stream into packets (MP3, ADTS AAC, FLAC); None flushes the parser."""
        return self._context.parse(data)

    def decode(self, packet: av.Packet | bytes | None) -> list[np.ndarray]:
        return self._output.frames(self._frames(packet))

    def decode_all(self, packets: Iterable[av.Packet | bytes]) -> list[np.ndarray]:
        """Several packets, their frames converted together (one resampler call, not one per frame)."""
        frames: list[av.AudioFrame] = []
        for packet in packets:
            frames += self._frames(packet)
        return self._output.frames(frames)

    def _frames(self, packet: av.Packet | bytes | None) -> list[av.AudioFrame]:
        if isinstance(packet, bytes):
            packet = av.Packet(packet)
        try:
            frames = self._context.decode(packet)
        except av.EOFError:
            return []
        except av.FFmpegError as exc:
            self.errors += 1
            self._consecutive_errors += 1
            if self._consecutive_errors > _MAX_CONSECUTIVE_ERRORS:
                raise AudioUndecodable(f"the {self.name} stream cannot be decoded: {exc}") from exc
            return []
        self._consecutive_errors = 0
        if frames and self._skip_source:
            self._output.skip(round(self._skip_source * TARGET_SAMPLE_RATE / frames[0].sample_rate))
            self._skip_source = 0
        if frames and not self._checked and self.limits is not None:
            check_source_format(frames[0].sample_rate, frames[0].layout.nb_channels, self.limits, stream=True)
            self._checked = True
        return frames

    def finish(self) -> list[np.ndarray]:
        return self.decode(None) + self._output.flush()


class PcmFrames:
    """Raw interleaved PCM bytes (any alignment across pieces) → 16 kHz mono int16."""

    def __init__(self, sample_format: SampleFormat, channels: int, sample_rate: int):
        self.sample_format = sample_format
        self.channels = channels
        self.sample_rate = sample_rate
        self._width = {"u8": 1, "s16": 2, "s24": 3, "s32": 4, "f32": 4, "f64": 8}[sample_format]
        self._frame_bytes = self._width * channels
        self._leftover = b""
        self._direct = sample_format == "s16" and channels == 1 and sample_rate == TARGET_SAMPLE_RATE
        self._output = None if self._direct else Resampled()

    def feed(self, data: bytes) -> list[np.ndarray]:
        data = self._leftover + data if self._leftover else data
        usable = len(data) - len(data) % self._frame_bytes
        self._leftover = data[usable:]
        if usable == 0:
            return []
        if self._direct:
            return [np.frombuffer(data, dtype="<i2", count=usable // 2).copy()]
        assert self._output is not None
        return self._output.frames([self._frame(data[:usable])])

    def finish(self) -> list[np.ndarray]:
        self._leftover = b""
        return self._output.flush() if self._output is not None else []

    def _frame(self, data: bytes) -> av.AudioFrame:
        fmt = self.sample_format
        if fmt == "s24":
            raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
            wide = np.zeros((len(raw), 4), dtype=np.uint8)
            wide[:, 1:] = raw  # 24-bit little-endian in the top bytes of a 32-bit sample
            array, av_format = wide.view("<i4").reshape(1, -1), "s32"
        else:
            dtype, av_format = {
                "u8": ("u1", "u8"),
                "s16": ("<i2", "s16"),
                "s32": ("<i4", "s32"),
                "f32": ("<f4", "flt"),
                "f64": ("<f8", "dbl"),
            }[fmt]
            array = np.frombuffer(data, dtype=dtype).reshape(1, -1)
        layout = _LAYOUTS.get(self.channels)
        if layout is None:
            raise AudioRejected(f"the stream has {self.channels} channels; at most 8 are supported")
        frame = av.AudioFrame.from_ndarray(array, format=av_format, layout=layout)
        frame.sample_rate = self.sample_rate
        return frame


def joined(chunks: list[np.ndarray]) -> np.ndarray:
    if not chunks:
        return EMPTY
    if len(chunks) == 1:
        return to_pcm16(chunks[0])
    return to_pcm16(np.concatenate(chunks))
