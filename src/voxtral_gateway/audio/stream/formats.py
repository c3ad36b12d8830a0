"""One decoder per container, each turning one segment of a stream (bytes cut anywhere) into 16 kHz
mono int16 samples as the bytes arrive. `AudioStreamDecoder` (decoder.py) picks and switches them."""

from __future__ import annotations

import abc
import struct

import numpy as np

from voxtral_gateway.audio.limits import TARGET_SAMPLE_RATE, AudioLimits, check_source_format
from voxtral_gateway.audio.stream.codecs import PacketCodec, PcmFrames, UnsupportedStreamFormat
from voxtral_gateway.audio.stream.containers.matroska import (
    MatroskaFrame,
    MatroskaNewSegment,
    MatroskaReader,
    MatroskaTrack,
    MatroskaTrackReady,
)
from voxtral_gateway.audio.stream.containers.mp3 import info_frame_skip
from voxtral_gateway.audio.stream.containers.ogg import OggPacketReader
from voxtral_gateway.audio.stream.containers.wav import WavHeaderReader
from voxtral_gateway.audio.stream.raw_pcm import RawPcm
from voxtral_gateway.errors import AudioUndecodable

STREAMABLE = ("wav", "mp3", "aac", "flac", "ogg", "webm")
"""Containers that can be decoded as they arrive (besides raw `pcm_s16le`)."""


class ContainerDecoder(abc.ABC):
    """One segment of the stream in one container."""

    container: str
    codec: str = ""
    sample_rate: int = 0
    channels: int = 0

    @abc.abstractmethod
    def feed(self, data: bytes) -> list[np.ndarray]:
        """Samples (16 kHz mono int16) completed by `data`."""

    @abc.abstractmethod
    def finish(self) -> list[np.ndarray]:
        """Samples still held (the decoder's and resampler's delay) at the end of the segment."""


class PcmDecoder(ContainerDecoder):
    container = "pcm"
    codec = "pcm_s16le"

    def __init__(self, sample_rate: int, limits: AudioLimits):
        check_source_format(sample_rate, 1, limits, stream=True)
        self.sample_rate, self.channels = sample_rate, 1
        self._pcm = PcmFrames("s16", 1, sample_rate)

    def feed(self, data: bytes) -> list[np.ndarray]:
        return self._pcm.feed(data)

    def finish(self) -> list[np.ndarray]:
        return self._pcm.finish()


class RawPcmDecoder(ContainerDecoder):
    """Raw mono PCM in a declared encoding (`raw_pcm.RAW_PCM_ENCODINGS`) at a declared rate."""

    container = "pcm"

    def __init__(self, encoding: str, sample_rate: int, limits: AudioLimits):
        self._pcm = RawPcm(encoding, sample_rate, limits)
        self.codec, self.sample_rate, self.channels = encoding, sample_rate, 1

    def feed(self, data: bytes) -> list[np.ndarray]:
        return self._pcm.feed(data)

    def finish(self) -> list[np.ndarray]:
        return self._pcm.finish()


class WavDecoder(ContainerDecoder):
    container = "wav"

    def __init__(self, limits: AudioLimits):
        self._limits = limits
        self._header: WavHeaderReader | None = WavHeaderReader()
        self._pcm: PcmFrames | None = None
        self._remaining: int | None = None

    def feed(self, data: bytes) -> list[np.ndarray]:
        if self._header is not None:
            found = self._header.feed(data)
            if found is None:
                return []
            fmt, data = found
            check_source_format(fmt.sample_rate, fmt.channels, self._limits, stream=True)
            self._header = None
            self._pcm = PcmFrames(fmt.sample_format, fmt.channels, fmt.sample_rate)
            self._remaining = fmt.data_bytes
            self.codec = f"pcm_{fmt.sample_format}"
            self.sample_rate, self.channels = fmt.sample_rate, fmt.channels
        assert self._pcm is not None
        if self._remaining is not None:
            # Bytes after the declared data (trailing LIST/id3 chunks) are not samples.
            data = data[: self._remaining]
            self._remaining -= len(data)
        return self._pcm.feed(data)

    def finish(self) -> list[np.ndarray]:
        return self._pcm.finish() if self._pcm is not None else []


class ParsedDecoder(ContainerDecoder):
    """Codecs whose frames FFmpeg can find in a raw byte stream: MP3, ADTS AAC, FLAC."""

    def __init__(self, container: str, limits: AudioLimits):
        self.container = self.codec = container
        self._limits = limits
        self._codec: PacketCodec | None = None if container == "flac" else self._new_codec(None)
        self._head = bytearray()  # an ID3 tag or FLAC metadata still being collected
        self._file_start = container == "mp3"  # the next frame may be LAME's Xing/Info frame

    def _new_codec(self, extradata: bytes | None) -> PacketCodec:
        codec = PacketCodec(self.container, extradata)
        codec.limits = self._limits
        return codec

    def feed(self, data: bytes) -> list[np.ndarray]:
        if self._head or (data[:3] == b"ID3" and len(data) >= 3) or self._codec is None:
            data = self._strip_header(data)
            if not data:
                return []
        assert self._codec is not None
        packets = self._codec.parse(data)
        if self._file_start and packets:
            self._file_start = False
            skip = info_frame_skip(bytes(packets[0]))
            if skip is not None:
                # Not audio: drop it, and the encoder's priming samples it announces.
                self._codec.skip_source_samples(skip)
                packets = packets[1:]
        out = self._codec.decode_all(packets)
        self._note_format()
        return out

    def finish(self) -> list[np.ndarray]:
        if self._codec is None:
            return []
        out: list[np.ndarray] = []
        # FFmpeg's parsers may hold many frames (FLAC's gives one per flush); flush until empty.
        for _ in range(100_000):
            packets = self._codec.parse(None)
            if not packets:
                break
            out += self._codec.decode_all(packets)
        return out + self._codec.finish()

    def _note_format(self) -> None:
        if self._codec is not None and self._codec.sample_rate:
            self.sample_rate, self.channels = self._codec.sample_rate, self._codec.channels

    def _strip_header(self, data: bytes) -> bytes:
        """Skip an ID3v2 tag (a new file in an MP3 stream) or collect FLAC's metadata blocks."""
        self._head += data
        head = self._head
        if head[:3] == b"ID3":
            if len(head) < 10:
                return b""
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            total = 10 + size + (10 if head[5] & 0x10 else 0)
            if len(head) < total:
                return b""
            rest = bytes(head[total:])
            self._head = bytearray()
            self._file_start = self.container == "mp3"
            return self._strip_header(rest) if rest[:3] == b"ID3" else rest
        if self.container != "flac" or self._codec is not None:
            rest = bytes(head)
            self._head = bytearray()
            return rest
        if head[:4] != b"fLaC":
            if len(head) < 4:
                return b""
            raise AudioUndecodable("the FLAC stream does not start with its `fLaC` header")
        position, streaminfo = 4, None
        while True:
            if len(head) < position + 4:
                return b""
            block_type, last = head[position] & 0x7F, head[position] & 0x80
            size = int.from_bytes(head[position + 1 : position + 4], "big")
            if len(head) < position + 4 + size:
                return b""
            if block_type == 0:
                streaminfo = bytes(head[position + 4 : position + 4 + size])
            position += 4 + size
            if last:
                break
        if streaminfo is None:
            raise AudioUndecodable("the FLAC stream has no STREAMINFO block")
        self._codec = self._new_codec(streaminfo)
        rest = bytes(head[position:])
        self._head = bytearray()
        return rest


def _xiph_extradata(headers: list[bytes]) -> bytes:
    """Vorbis's three header packets in the Xiph-laced form FFmpeg's decoder takes as extradata."""

    def lace(size: int) -> bytes:
        return b"\xff" * (size // 255) + bytes([size % 255])

    return b"\x02" + lace(len(headers[0])) + lace(len(headers[1])) + b"".join(headers)


def _opus_pre_skip(head: bytes) -> int:
    """OpusHead's pre-skip (48 kHz samples of encoder priming), in 16 kHz output samples."""
    return struct.unpack("<H", head[10:12])[0] // 3 if len(head) >= 12 else 0


class OggDecoder(ContainerDecoder):
    container = "ogg"

    def __init__(self, limits: AudioLimits):
        self._limits = limits
        self._reader = OggPacketReader()
        self._codec: PacketCodec | None = None
        self._vorbis_headers: list[bytes] | None = None
        self._skip_next = 0  # header packets after the first (OpusTags)

    def feed(self, data: bytes) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        audio: list[bytes] = []  # decoded together at the end (or before the codec changes)
        for packet in self._reader.feed(data):
            if packet.new_stream:
                if self._codec is not None:
                    out += self._codec.decode_all(audio) + self._codec.finish()
                    audio = []
                self._start(packet.data)
            elif self._vorbis_headers is not None:
                self._vorbis_headers.append(packet.data)
                if len(self._vorbis_headers) == 3:
                    self._codec = self._new_codec("vorbis", _xiph_extradata(self._vorbis_headers), 0)
                    self._vorbis_headers = None
            elif self._skip_next:
                self._skip_next -= 1
            elif self._codec is not None:
                audio.append(packet.data)
        if self._codec is not None and audio:
            out += self._codec.decode_all(audio)
        if self._codec is not None and self._codec.sample_rate:
            self.sample_rate, self.channels = self._codec.sample_rate, self._codec.channels
        return out

    def finish(self) -> list[np.ndarray]:
        return self._codec.finish() if self._codec is not None else []

    def _new_codec(self, name: str, extradata: bytes, skip: int) -> PacketCodec:
        codec = PacketCodec(name, extradata, skip)
        codec.limits = self._limits
        self.codec = name
        return codec

    def _start(self, head: bytes) -> None:
        self._codec, self._vorbis_headers, self._skip_next = None, None, 0
        if head.startswith(b"OpusHead"):
            self._codec = self._new_codec("opus", head, _opus_pre_skip(head))
            self._skip_next = 1
        elif head.startswith(b"\x01vorbis"):
            self._vorbis_headers = [head]
        else:
            kind = head[:8].decode("ascii", "replace").strip("\x00\x01\x7f")
            raise UnsupportedStreamFormat(
                f"the Ogg stream carries {kind or 'an unknown codec'}; Opus and Vorbis can be streamed"
            )


_MATROSKA_PCM = {
    ("A_PCM/INT/LIT", 8): "u8",
    ("A_PCM/INT/LIT", 16): "s16",
    ("A_PCM/INT/LIT", 24): "s24",
    ("A_PCM/INT/LIT", 32): "s32",
    ("A_PCM/FLOAT/IEEE", 32): "f32",
    ("A_PCM/FLOAT/IEEE", 64): "f64",
}


class MatroskaDecoder(ContainerDecoder):
    container = "webm"

    def __init__(self, limits: AudioLimits):
        self._limits = limits
        self._reader = MatroskaReader()
        self._codec: PacketCodec | None = None
        self._pcm: PcmFrames | None = None

    def feed(self, data: bytes) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        audio: list[bytes] = []  # decoded together at the end (or before the codec changes)
        for event in self._reader.feed(data):
            if isinstance(event, MatroskaFrame):
                if self._codec is not None:
                    audio.append(event.data)
                elif self._pcm is not None:
                    out += self._pcm.feed(event.data)
            elif isinstance(event, MatroskaTrackReady):
                self._start(event.track)
            elif isinstance(event, MatroskaNewSegment):
                if self._codec is not None:
                    out += self._codec.decode_all(audio)
                    audio = []
                out += self.finish()
                self._codec = self._pcm = None
        if self._codec is not None and audio:
            out += self._codec.decode_all(audio)
        if self._codec is not None and self._codec.sample_rate:
            self.sample_rate, self.channels = self._codec.sample_rate, self._codec.channels
        return out

    def finish(self) -> list[np.ndarray]:
        if self._codec is not None:
            return self._codec.finish()
        return self._pcm.finish() if self._pcm is not None else []

    def _start(self, track: MatroskaTrack) -> None:
        codec_id = track.codec_id
        pcm_format = _MATROSKA_PCM.get((codec_id, track.bit_depth))
        if pcm_format is not None:
            rate = round(track.sample_rate)
            check_source_format(rate, track.channels, self._limits, stream=True)
            self._pcm = PcmFrames(pcm_format, track.channels, rate)  # type: ignore[arg-type]
            self.codec, self.sample_rate, self.channels = f"pcm_{pcm_format}", rate, track.channels
            return
        names = {"A_OPUS": "opus", "A_VORBIS": "vorbis", "A_MPEG/L3": "mp3", "A_AAC": "aac"}
        name = names.get(codec_id) or ("aac" if codec_id.startswith("A_AAC") else None)
        if name is None:
            raise UnsupportedStreamFormat(
                f"the WebM/Matroska audio codec {codec_id} cannot be streamed; Opus, Vorbis, MP3, AAC "
                "and PCM can"
            )
        skip = round(track.codec_delay_ns * TARGET_SAMPLE_RATE / 1e9) if name == "opus" else 0
        if name == "opus" and not skip:
            skip = _opus_pre_skip(track.codec_private)
        self._codec = PacketCodec(name, track.codec_private or None, skip)
        self._codec.limits = self._limits
        self.codec = name


def decoder_for(label: str, limits: AudioLimits) -> ContainerDecoder:
    if label == "wav":
        return WavDecoder(limits)
    if label in ("mp3", "aac", "flac"):
        return ParsedDecoder(label, limits)
    if label == "ogg":
        return OggDecoder(limits)
    if label == "webm":
        return MatroskaDecoder(limits)
    raise UnsupportedStreamFormat(
        f"{label} audio cannot be decoded as it arrives (its index may come at the end); "
        f"stream one of: {', '.join(STREAMABLE)}, or raw pcm_s16le"
    )
