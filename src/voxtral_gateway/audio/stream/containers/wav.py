"""The RIFF/WAVE header, read from bytes that arrive in arbitrary pieces, up to the start of the samples."""

from __future__ import annotations

import struct
from typing import Literal

import msgspec

from voxtral_gateway.audio.sniff import sniff_container
from voxtral_gateway.errors import AudioUndecodable

SampleFormat = Literal["u8", "s16", "s24", "s32", "f32", "f64"]

_MAX_HEADER_BYTES = 64 * 1024
_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
# A data size writers use while the length is still unknown (streaming encoders, pipes).
_UNKNOWN_SIZES = frozenset({0, 0xFFFFFFFF})


class WavFormat(msgspec.Struct, frozen=True, kw_only=True):
    sample_rate: int
    channels: int
    sample_format: SampleFormat
    data_bytes: int | None
    """The data chunk's declared size, or None when the writer did not know it."""


class WavHeaderReader:
    """Collects bytes until the `data` chunk begins; then returns the format and the first samples."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> tuple[WavFormat, bytes] | None:
        self._buffer += data
        buffer = self._buffer
        if len(buffer) < 12:
            return None
        if sniff_container(bytes(buffer[:12])) != "wav":
            raise AudioUndecodable("the WAV stream does not start with a RIFF/WAVE header")
        position = 12
        fmt: tuple[int, int, int, int] | None = None
        while len(buffer) - position >= 8:
            chunk_id = bytes(buffer[position : position + 4])
            size = int.from_bytes(buffer[position + 4 : position + 8], "little")
            body_start = position + 8
            if chunk_id == b"data":
                if fmt is None:
                    raise AudioUndecodable("the WAV header has no `fmt ` chunk before its data")
                samples = bytes(buffer[body_start:])
                self._buffer = bytearray()
                return _format(*fmt, None if size in _UNKNOWN_SIZES else size), samples
            if len(buffer) - body_start < size:
                break
            if chunk_id == b"fmt ":
                fmt = _parse_fmt(bytes(buffer[body_start : body_start + size]))
            position = body_start + size + (size & 1)
        if len(buffer) > _MAX_HEADER_BYTES:
            raise AudioUndecodable(f"no WAV `data` chunk within the first {_MAX_HEADER_BYTES} bytes")
        return None


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise AudioUndecodable("the WAV `fmt ` chunk is too short")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = int.from_bytes(body[24:26], "little")  # the sub-format GUID starts with the tag
    return tag, channels, rate, bits


def _format(tag: int, channels: int, rate: int, bits: int, data_bytes: int | None) -> WavFormat:
    formats: dict[tuple[int, int], SampleFormat] = {
        (_PCM, 8): "u8",
        (_PCM, 16): "s16",
        (_PCM, 24): "s24",
        (_PCM, 32): "s32",
        (_FLOAT, 32): "f32",
        (_FLOAT, 64): "f64",
    }
    sample_format = formats.get((tag, bits))
    if sample_format is None:
        raise AudioUndecodable(
            f"WAV sample format {tag:#x} with {bits} bits is not supported for streaming "
            "(PCM 8/16/24/32-bit or IEEE float 32/64-bit are)"
        )
    if channels < 1:
        raise AudioUndecodable("the WAV header declares no channels")
    return WavFormat(sample_rate=rate, channels=channels, sample_format=sample_format, data_bytes=data_bytes)
