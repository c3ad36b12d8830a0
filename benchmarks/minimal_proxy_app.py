"""For P1's note: the least any gateway on our stack adds, measured in the same run.

A bare granian ASGI app that does only what a `POST /transcribe/` must: read the JSON body,
base64-decode the file with msgspec, post it to the stand-in vLLM as multipart over aiohttp and
answer the text as JSON. No decoding or checks, no framework, no logs or metrics; the same malloc
settings as the gateway (`voxtral_gateway.memory`). The upstream is UPSTREAM_URL; `GET /health/`
answers 200 (for start-up)."""

from __future__ import annotations

import os

import aiohttp
import msgspec
from litestar.types import Receive, Scope, Send

from voxtral_gateway.memory import tune_allocator

UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:8000")
FORM_FIELDS = (
    ("model", "mistralai/Voxtral-Mini-3B-2507"),
    ("response_format", "json"),
    ("temperature", "0.0"),
    ("language", "en"),
)
_JSON = [(b"content-type", b"application/json")]


class _Request(msgspec.Struct):
    audio_file: bytes
    format: str | None = None
    language: str | None = None


class _Transcription(msgspec.Struct):
    text: str


class _Answer(msgspec.Struct):
    transcription: str


_session: aiohttp.ClientSession | None = None


async def _lifespan(receive: Receive, send: Send) -> None:
    global _session
    while (message := await receive())["type"] != "lifespan.shutdown":
        if message["type"] == "lifespan.startup":
            tune_allocator()
            _session = aiohttp.ClientSession(UPSTREAM_URL)
            await send({"type": "lifespan.startup.complete"})
    if _session is not None:
        await _session.close()
    await send({"type": "lifespan.shutdown.complete"})


async def _answer(send: Send, body: bytes) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["method"] == "GET":
        await _answer(send, b"{}")
        return
    buffer = bytearray()
    while True:
        message = await receive()
        buffer += message.get("body", b"")
        if not message.get("more_body", False):
            break
    request = msgspec.json.decode(buffer, type=_Request)
    form = aiohttp.FormData()
    form.add_field("file", request.audio_file, filename="audio.wav", content_type="audio/wav")
    for name, value in FORM_FIELDS:
        form.add_field(name, value)
    assert _session is not None
    async with _session.post("/v1/audio/transcriptions", data=form) as response:
        upstream = msgspec.json.decode(await response.read(), type=_Transcription)
    await _answer(send, msgspec.json.encode(_Answer(transcription=upstream.text)))
