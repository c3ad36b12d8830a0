"""Audio files as clients send them, and their decoding (off the event loop, within limits)."""

from __future__ import annotations

import msgspec

from voxtral_gateway.audio import AudioLimits, DecodedAudio, decode_audio
from voxtral_gateway.cpu_pool import CpuPool


class AudioFile(msgspec.Struct, kw_only=True, frozen=True):
    """One audio file as the client sent it."""

    data: bytes
    """The file's bytes (a `bytearray` when the upload was base64-decoded in place)."""
    declared_format: str | None = None
    """The client's hint (`mp3`, `wav`, …); the real container is sniffed from the bytes."""
    field: str = "audio_file"
    """The request field it came from: errors about this file name it."""


async def decode_file(pool: CpuPool, file: AudioFile, limits: AudioLimits) -> DecodedAudio:
    """`file` as 16 kHz mono samples, decoded on `pool`; errors name `file.field`."""
    if file.field != limits.field:
        limits = msgspec.structs.replace(limits, field=file.field)
    return await pool.run(decode_audio, file.data, file.declared_format, limits)
