"""Matroska/WebM → the audio track's description and frames, from bytes arriving in arbitrary pieces.

Covers what browsers' MediaRecorder and FFmpeg write: unknown-size Segment and Cluster elements,
SimpleBlocks and BlockGroups, and all four lacing schemes. Elements that do not matter here (cues, tags,
seek heads) are skipped as their bytes arrive, without being buffered."""

from __future__ import annotations

import struct

import msgspec

from voxtral_gateway.errors import AudioUndecodable

EBML_HEADER = 0x1A45DFA3
_SEGMENT = 0x18538067
_CLUSTER = 0x1F43B675
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_AUDIO = 0xE1
_BLOCK_GROUP = 0xA0
_SIMPLE_BLOCK = 0xA3
_BLOCK = 0xA1
_TRACK_NUMBER = 0xD7
_TRACK_TYPE = 0x83
_CODEC_ID = 0x86
_CODEC_PRIVATE = 0x63A2
_CODEC_DELAY = 0x56AA
_SAMPLING_FREQUENCY = 0xB5
_CHANNELS = 0x9F
_BIT_DEPTH = 0x6264
# Descended into without waiting for their end (their size may be unknown while streaming).
_TRANSPARENT = frozenset({_SEGMENT, _CLUSTER, _TRACKS, _TRACK_ENTRY, _AUDIO, _BLOCK_GROUP})
_WANTED = frozenset(
    {
        _SIMPLE_BLOCK,
        _BLOCK,
        _TRACK_NUMBER,
        _TRACK_TYPE,
        _CODEC_ID,
        _CODEC_PRIVATE,
        _CODEC_DELAY,
        _SAMPLING_FREQUENCY,
        _CHANNELS,
        _BIT_DEPTH,
    }
)
_AUDIO_TRACK_TYPE = 2
_MAX_ELEMENT_BYTES = 1 << 20
_CLUSTER_ID_BYTES = _CLUSTER.to_bytes(4, "big")


class MatroskaTrack(msgspec.Struct, kw_only=True):
    number: int = 0
    kind: int = 0
    codec_id: str = ""
    codec_private: bytes = b""
    codec_delay_ns: int = 0
    sample_rate: float = 8000.0
    channels: int = 1
    bit_depth: int = 0


class MatroskaTrackReady(msgspec.Struct, frozen=True):
    """The audio track, complete (emitted once per segment, just before its first frame)."""

    track: MatroskaTrack


class MatroskaFrame(msgspec.Struct, frozen=True):
    data: bytes


class MatroskaNewSegment(msgspec.Struct, frozen=True):
    """An EBML header after data: a new file starts (e.g. a recorder restarted)."""


MatroskaEvent = MatroskaTrackReady | MatroskaFrame | MatroskaNewSegment


def _vint(buffer: bytearray, position: int, keep_marker: bool) -> tuple[int | None, int] | None:
    """(value, length) of the EBML variable-size integer at `position`; None when more bytes are
    needed; value None for the reserved "unknown size"."""
    if position >= len(buffer):
        return None
    first = buffer[position]
    if first == 0:
        raise ValueError("invalid EBML variable-size integer")
    length = 9 - first.bit_length()
    if position + length > len(buffer):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for index in range(1, length):
        value = (value << 8) | buffer[position + index]
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


class MatroskaReader:
    """Incremental EBML walker yielding the first audio track and its frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._skip = 0
        self._track: MatroskaTrack | None = None
        self._audio: MatroskaTrack | None = None
        self._announced = False
        self._seen_data = False
        self._hunting = False
        self.resyncs = 0
        """Times sync was lost (bytes missing or corrupt) and looked for again at the next cluster."""

    def feed(self, data: bytes) -> list[MatroskaEvent]:
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buffer += data
        events: list[MatroskaEvent] = []
        position = 0
        buffer = self._buffer
        while position < len(buffer):
            if self._hunting:
                found = buffer.find(_CLUSTER_ID_BYTES, position)
                if found < 0:
                    position = max(position, len(buffer) - 3)
                    break
                position, self._hunting = found, False
            try:
                head = self._element_head(buffer, position)
            except ValueError:
                position = self._lose_sync(position)
                continue
            if head is None:
                break
            element, size, header = head
            if element in _TRANSPARENT:
                if element == _TRACK_ENTRY:
                    self._track = MatroskaTrack()
                position += header
                continue
            if element == EBML_HEADER and self._seen_data:
                events.append(MatroskaNewSegment())
                self._track, self._audio = None, None
                self._announced = self._seen_data = False
            if size is None:
                position = self._lose_sync(position)
                continue
            if element not in _WANTED:
                available = len(buffer) - position - header
                if available < size:
                    self._skip = size - available
                    position = len(buffer)
                    break
                position += header + size
                continue
            if size > _MAX_ELEMENT_BYTES:
                raise AudioUndecodable(f"a WebM element is larger than {_MAX_ELEMENT_BYTES} bytes")
            if len(buffer) - position - header < size:
                break
            body = bytes(buffer[position + header : position + header + size])
            position += header + size
            self._element(element, body, events)
        del buffer[:position]
        return events

    @staticmethod
    def _element_head(buffer: bytearray, position: int) -> tuple[int, int | None, int] | None:
        element = _vint(buffer, position, keep_marker=True)
        if element is None:
            return None
        element_id, id_length = element
        if id_length > 4:
            raise ValueError("invalid EBML element id")
        size = _vint(buffer, position + id_length, keep_marker=False)
        if size is None:
            return None
        return element_id or 0, size[0], id_length + size[1]

    def _lose_sync(self, position: int) -> int:
        self.resyncs += 1
        self._hunting = True
        return position + 1

    def _element(self, element: int, body: bytes, events: list[MatroskaEvent]) -> None:
        track = self._track
        if element in (_SIMPLE_BLOCK, _BLOCK):
            self._seen_data = True
            self._block(body, events)
        elif track is None:
            return
        elif element == _TRACK_NUMBER:
            track.number = int.from_bytes(body, "big")
        elif element == _TRACK_TYPE:
            track.kind = int.from_bytes(body, "big")
            self._maybe_choose(track)
        elif element == _CODEC_ID:
            track.codec_id = body.rstrip(b"\x00").decode("ascii", "replace")
            self._maybe_choose(track)
        elif element == _CODEC_PRIVATE:
            track.codec_private = body
        elif element == _CODEC_DELAY:
            track.codec_delay_ns = int.from_bytes(body, "big")
        elif element == _SAMPLING_FREQUENCY:
            track.sample_rate = struct.unpack(">f" if len(body) == 4 else ">d", body)[0]
        elif element == _CHANNELS:
            track.channels = int.from_bytes(body, "big")
        elif element == _BIT_DEPTH:
            track.bit_depth = int.from_bytes(body, "big")

    def _maybe_choose(self, track: MatroskaTrack) -> None:
        if self._audio is None and track.kind == _AUDIO_TRACK_TYPE and track.codec_id:
            self._audio = track

    def _block(self, body: bytes, events: list[MatroskaEvent]) -> None:
        if self._audio is None:
            return
        number = _vint(bytearray(body[:8]), 0, keep_marker=False)
        if number is None or number[0] != self._audio.number:
            return
        if not self._announced:
            # Every field of the track entry precedes the first cluster, so the track is complete now.
            self._announced = True
            events.append(MatroskaTrackReady(self._audio))
        offset = number[1] + 3  # track number, 16-bit timecode, flags
        if offset > len(body):
            return
        lacing = (body[offset - 1] >> 1) & 0x03
        for frame in _unlace(body, offset, lacing):
            events.append(MatroskaFrame(frame))


def _unlace(body: bytes, offset: int, lacing: int) -> list[bytes]:
    if lacing == 0:
        return [body[offset:]]
    count = body[offset] + 1
    offset += 1
    sizes: list[int] = []
    if lacing == 1:  # Xiph
        for _ in range(count - 1):
            size = 0
            while True:
                byte = body[offset]
                offset += 1
                size += byte
                if byte != 255:
                    break
            sizes.append(size)
    elif lacing == 3:  # EBML: the first size, then signed differences
        view = bytearray(body)
        first = _vint(view, offset, keep_marker=False)
        if first is None or first[0] is None:
            return []
        sizes.append(first[0])
        offset += first[1]
        for _ in range(count - 2):
            diff = _vint(view, offset, keep_marker=False)
            if diff is None or diff[0] is None:
                return []
            bias = (1 << (7 * diff[1] - 1)) - 1
            sizes.append(sizes[-1] + diff[0] - bias)
            offset += diff[1]
    else:  # fixed size
        each = (len(body) - offset) // count
        sizes = [each] * (count - 1)
    frames = []
    for size in sizes:
        frames.append(body[offset : offset + size])
        offset += size
    frames.append(body[offset:])
    return frames
