"""Recognise an audio container from its first bytes, whatever the client declared: the one sniffer of
uploaded files and live streams."""

from __future__ import annotations

# Declared labels → the FFmpeg demuxer that reads them.
DEMUXER_FOR_LABEL: dict[str, str] = {
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "m4a": "mov,mp4,m4a,3gp,3g2,mj2",
    "mp4": "mov,mp4,m4a,3gp,3g2,mj2",
    "aac": "aac",
    "ogg": "ogg",
    "oga": "ogg",
    "opus": "ogg",
    "webm": "matroska,webm",
    "mka": "matroska,webm",
}


_WAV_MAGIC = (b"RIFF", b"WAVE")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_OGG_BEGINNING_OF_STREAM = 0x02


def _is_wav(head: bytes) -> bool:
    return head[:4] == _WAV_MAGIC[0] and head[8:12] == _WAV_MAGIC[1]


def _is_mpeg_audio_sync(data: bytes) -> bool:
    # 11-bit frame sync; layer bits 01/10/11 (not 00, which would be ADTS AAC's layer field).
    return len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0 and (data[1] & 0x06) != 0


def _is_adts_sync(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xF6) == 0xF0


def sniff_container(data: bytes | memoryview) -> str | None:
    """The container label (`wav`, `mp3`, `flac`, `ogg`, `m4a`, `webm`, `aac`) or None if unknown."""
    head = bytes(data[:64])
    if _is_wav(head):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == _EBML_MAGIC:
        return "webm"
    if head[:3] == b"ID3":
        return _after_id3(data)
    if _is_adts_sync(head):
        return "aac"
    if _is_mpeg_audio_sync(head):
        return "mp3"
    return None


def new_file_container(data: bytes) -> str | None:
    """The container a piece of a live stream unmistakably starts (a new file joined to the stream),
    judged only by long magic numbers; None for a piece that may be the middle of a stream."""
    head = bytes(data[:12])
    if _is_wav(head):
        return "wav"
    if head[:4] == b"OggS" and len(head) > 5 and head[5] & _OGG_BEGINNING_OF_STREAM:
        return "ogg"
    if head[:4] == _EBML_MAGIC:
        return "webm"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    return None


def _after_id3(data: bytes | memoryview) -> str:
    # An ID3v2 tag may precede MP3, and (rarely) FLAC or ADTS; look past it.
    header = bytes(data[:10])
    if len(header) < 10:
        return "mp3"
    size = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
    footer = 10 if header[5] & 0x10 else 0
    body = data[10 + size + footer : 10 + size + footer + 64]
    inner = sniff_container(body) if len(body) >= 4 else None
    return inner if inner in {"flac", "aac"} else "mp3"
