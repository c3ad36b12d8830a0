"""Audio files as clients send them (bytes, or a URL the gateway fetches), and their decoding (off the
event loop, within limits)."""

from __future__ import annotations

import msgspec

from voxtral_gateway.audio import AudioLimits, DecodedAudio, decode_audio
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.fetching import UrlFetcher


class AudioFile(msgspec.Struct, kw_only=True, frozen=True):
    """One audio file as the client sent it: its bytes, or a URL to fetch them from."""

    data: bytes = b""
    """The file's bytes (a `bytearray` when the upload was base64-decoded in place); empty when `url`
    is given."""
    url: str | None = None
    """An http(s) URL the service fetches (through the SSRF guard, capped at MAX_FILE_SIZE_MB) before
    decoding; what the remote server says the content is, is not trusted: the bytes are sniffed."""
    declared_format: str | None = None
    """The client's hint (`mp3`, `wav`, …); the real container is sniffed from the bytes."""
    field: str = "audio_file"
    """The request field it came from: errors about this file name it."""


async def fetched(file: AudioFile, fetcher: UrlFetcher | None) -> AudioFile:
    """`file` with its bytes: fetched when it is a URL, as it is otherwise."""
    if file.url is None:
        return file
    if fetcher is None:  # a service built without one (tests of other use cases)
        raise InvalidRequest(f"{file.field}: audio URLs are not fetched here", field=file.field)
    remote = await fetcher.fetch(file.url, field=file.field)
    return msgspec.structs.replace(file, data=remote.data, url=None)


async def decode_file(pool: CpuPool, file: AudioFile, limits: AudioLimits) -> DecodedAudio:
    """`file` (its bytes, see `fetched`) as 16 kHz mono samples, decoded on `pool`; errors name
    `file.field`."""
    if file.field != limits.field:
        limits = msgspec.structs.replace(limits, field=file.field)
    return await pool.run(decode_audio, file.data, file.declared_format, limits)
