"""`multipart/form-data` with one WAV file, built as a single buffer (vLLM's transcription route).

The WAV is encoded straight into the buffer between the part headers and the trailing fields, and
sent as one payload: no copy of the audio per layer, and one socket write instead of one per part.

The boundary is drawn once per process, not per request: aiohttp parses a payload's Content-Type
with the email package behind an LRU cache, and a new boundary each time missed that cache on
every request (classes created, reference cycles left for the garbage collector). 128 random bits
that only vLLM ever sees cannot be guessed into the audio; by chance, no more than per request."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import aiohttp

from voxtral_gateway.audio import DecodedAudio, encode_wav
from voxtral_gateway.audio.encode import WAV_HEADER_BYTES, write_wav_header

_BOUNDARY = secrets.token_hex(16)
_CONTENT_TYPE = f"multipart/form-data; boundary={_BOUNDARY}"


def wav_form(
    audio: DecodedAudio,
    fields: Sequence[tuple[str, str]],
    *,
    file_field: str = "file",
    filename: str = "audio.wav",
) -> aiohttp.BytesPayload:
    """The form `aiohttp.FormData` would send for the same file (16-bit mono WAV) and text fields.
    Audio that still holds the client's own PCM (`DecodedAudio.pcm16`) is sent as it came
    (`pcm_wav_form`), not re-encoded."""
    if audio.pcm16 is not None:
        return pcm_wav_form(audio.pcm16, audio.sample_rate, fields, file_field=file_field, filename=filename)
    head, tail = _frame(fields, file_field, filename)
    body = encode_wav(audio.samples, audio.sample_rate, prefix=head, suffix=tail)
    return aiohttp.BytesPayload(body, content_type=_CONTENT_TYPE)


def pcm_wav_form(
    pcm: memoryview | bytes,
    sample_rate: int,
    fields: Sequence[tuple[str, str]],
    *,
    file_field: str = "file",
    filename: str = "audio.wav",
) -> aiohttp.BytesPayload:
    """The same form around 16-bit mono PCM bytes taken as they are: a 44-byte WAV header is written
    in front of them, and they are copied once, into the body."""
    head, tail = _frame(fields, file_field, filename)
    start = len(head) + WAV_HEADER_BYTES
    body = bytearray(start + len(pcm) + len(tail))
    body[: len(head)] = head
    write_wav_header(body, len(head), sample_rate, len(pcm))
    body[start : start + len(pcm)] = pcm
    body[start + len(pcm) :] = tail
    return aiohttp.BytesPayload(body, content_type=_CONTENT_TYPE)


def _frame(fields: Sequence[tuple[str, str]], file_field: str, filename: str) -> tuple[bytes, bytes]:
    """The multipart text before the file's bytes and after them (the text fields, the end)."""
    head = (
        f"--{_BOUNDARY}\r\nContent-Type: audio/wav\r\n"
        f'Content-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n\r\n'
    )
    tail = "".join(
        f"\r\n--{_BOUNDARY}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'
        for name, value in fields
    )
    return head.encode(), f"{tail}\r\n--{_BOUNDARY}--\r\n".encode()
