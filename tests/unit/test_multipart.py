"""The single-buffer WAV form sends what aiohttp.FormData would have sent."""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np

from voxtral_gateway.audio import DecodedAudio, SourceInfo, encode_wav
from voxtral_gateway.backends.multipart import wav_form

FIELDS = [("model", "mistralai/Voxtral-Mini-3B-2507"), ("response_format", "json"), ("language", "fr")]


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.data += chunk

    def enable_compression(self, *args: object, **kwargs: object) -> None: ...

    def enable_chunking(self) -> None: ...


async def _bytes(payload: aiohttp.Payload) -> bytes:
    sink = _Sink()
    await payload.write(sink)  # type: ignore[arg-type]
    return bytes(sink.data)


def test_same_bytes_as_formdata_but_the_boundary():
    samples = (np.random.default_rng(1).standard_normal(16_000) * 0.2).astype(np.float32)
    source = SourceInfo(container="wav", codec="pcm_s16le", sample_rate=16_000, channels=1,
                        declared_duration_seconds=1.0, size_bytes=0)  # fmt: skip
    audio = DecodedAudio(samples=samples, sample_rate=16_000, source=source)
    ours = wav_form(audio, FIELDS)
    form = aiohttp.FormData()
    form.add_field("file", bytes(encode_wav(samples, 16_000)), filename="audio.wav", content_type="audio/wav")
    for name, value in FIELDS:
        form.add_field(name, value)
    theirs = form()

    ours_boundary = ours.headers["Content-Type"].split("boundary=")[1]
    theirs_boundary = theirs.headers["Content-Type"].split("boundary=")[1]
    expected = asyncio.run(_bytes(theirs)).replace(theirs_boundary.encode(), ours_boundary.encode())
    assert asyncio.run(_bytes(ours)) == expected
    assert ours.headers["Content-Type"] == f"multipart/form-data; boundary={ours_boundary}"
