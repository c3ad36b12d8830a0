"""Ogg pages → the packets of one logical stream, from bytes that arrive in arbitrary pieces (RFC 3533)."""

from __future__ import annotations

import msgspec

from voxtral_gateway.errors import AudioUndecodable

_CAPTURE = b"OggS"
_HEADER_BYTES = 27
_BOS = 0x02
_EOS = 0x04
_MAX_PACKET_BYTES = 1 << 20


class OggPacket(msgspec.Struct, frozen=True):
    data: bytes
    new_stream: bool
    """The first packet of a logical stream (its codec header); a chained stream starts a new one."""


class OggPacketReader:
    """Reassembles packets of the first logical stream (others, such as a skeleton, are skipped).

    After a lost piece the reader resynchronises at the next page boundary."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._serial: int | None = None
        self._partial = bytearray()
        self._ended = False
        self.resyncs = 0
        """Times the page sync was lost (bytes missing or corrupt) and found again."""

    def feed(self, data: bytes) -> list[OggPacket]:
        self._buffer += data
        packets: list[OggPacket] = []
        position = 0
        buffer = self._buffer
        while True:
            if len(buffer) - position < _HEADER_BYTES:
                break
            if buffer[position : position + 4] != _CAPTURE:
                found = buffer.find(_CAPTURE, position + 1)
                self.resyncs += 1
                self._partial.clear()
                position = found if found >= 0 else max(position, len(buffer) - 3)
                if found < 0:
                    break
                continue
            segments = buffer[position + 26]
            if len(buffer) - position < _HEADER_BYTES + segments:
                break
            table = buffer[position + _HEADER_BYTES : position + _HEADER_BYTES + segments]
            size = _HEADER_BYTES + segments + sum(table)
            if len(buffer) - position < size:
                break
            self._page(bytes(buffer[position : position + size]), packets)
            position += size
        del buffer[:position]
        return packets

    def _page(self, page: bytes, packets: list[OggPacket]) -> None:
        flags = page[5]
        serial = int.from_bytes(page[14:18], "little")
        if flags & _BOS and (self._serial is None or self._ended):
            self._serial, self._ended = serial, False
            self._partial.clear()
            new_stream = True
        elif serial != self._serial or self._ended:
            return
        else:
            new_stream = False
        segments = page[26]
        offset = _HEADER_BYTES + segments
        for lacing in page[_HEADER_BYTES : _HEADER_BYTES + segments]:
            self._partial += page[offset : offset + lacing]
            offset += lacing
            if len(self._partial) > _MAX_PACKET_BYTES:
                raise AudioUndecodable(f"an Ogg packet is larger than {_MAX_PACKET_BYTES} bytes")
            if lacing < 255:
                packets.append(OggPacket(bytes(self._partial), new_stream))
                new_stream = False
                self._partial.clear()
        if flags & _EOS:
            self._ended = True
