"""The checks the smoke test runs against a deployed gateway, one per feature, in order.

Each returns a one-line description of what it saw, raises `Skip` when the server does not offer the
feature (a clear reason is printed), and raises anything else to fail."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from voxtral_gateway.smoke.clip import Clip

QUESTION = "What is said in this recording? Answer in one sentence."
OPENAI_MODEL_ALIAS = "whisper-1"


class Skip(Exception):
    """The server does not offer this feature; the message says why."""


class CheckFailed(Exception):
    """The feature answered, wrongly; the message says how."""


class SmokeContext(msgspec.Struct, kw_only=True):
    base_url: str
    clip: Clip
    session: aiohttp.ClientSession
    api_key: str | None
    timeout_seconds: float
    language: str | None
    backend_kind: str | None = None


Check = Callable[[SmokeContext], Awaitable[str]]


def _headers(ctx: SmokeContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx.api_key}"} if ctx.api_key else {}


def _b64(ctx: SmokeContext) -> str:
    return base64.b64encode(ctx.clip.data).decode("ascii")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


async def _json(response: aiohttp.ClientResponse) -> Any:
    body = await response.read()
    try:
        return json.loads(body)
    except ValueError:
        raise CheckFailed(f"HTTP {response.status}, not JSON: {body[:200]!r}") from None


def _error_text(status: int, body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"HTTP {status} {error.get('code') or error.get('type')}: {error.get('message')}"
    return f"HTTP {status}: {str(body)[:200]}"


def _heard(ctx: SmokeContext, text: str) -> str:
    """Which of the clip's words the model heard (informative: a stand-in or other model may differ)."""
    if not ctx.clip.words:
        return ""
    lowered = text.lower()
    found = sum(word in lowered for word in ctx.clip.words)
    return f", {found}/{len(ctx.clip.words)} expected words"


def _transcript(ctx: SmokeContext, text: str) -> None:
    if ctx.clip.words and not text.strip():
        raise CheckFailed("the transcription of a speech clip is empty")


async def check_health(ctx: SmokeContext) -> str:
    async with ctx.session.get("/health/", headers=_headers(ctx)) as response:
        body = await _json(response)
    backend = body.get("backend", {}) if isinstance(body, dict) else {}
    ctx.backend_kind = backend.get("kind")
    servers = body.get("backends") or []
    states = ", ".join(f"{s.get('url') or s.get('state')}: {s.get('state')}" for s in servers if s.get("url"))
    if response.status != 200 or body.get("status") != "ok":
        raise CheckFailed(f"HTTP {response.status}, status {body.get('status')!r}: {backend.get('detail')}")
    pool = f"; servers: {states}" if states else ""
    return f"{backend.get('kind')} backend, model {backend.get('model')}, version {body.get('version')}{pool}"


async def check_transcribe(ctx: SmokeContext) -> str:
    payload: dict[str, Any] = {"audio_file": _b64(ctx), "format": ctx.clip.format, "temperature": 0.0}
    if ctx.language:
        payload["language"] = ctx.language
    async with ctx.session.post("/transcribe/", json=payload, headers=_headers(ctx)) as response:
        body = await _json(response)
    if response.status != 200:
        raise CheckFailed(_error_text(response.status, body))
    text = body.get("transcription", "")
    _transcript(ctx, text)
    return (
        f"{_short(text)} ({body.get('audio_duration_seconds')} s of audio in "
        f"{body.get('processing_time_ms')} ms{_heard(ctx, text)})"
    )


async def check_batch(ctx: SmokeContext) -> str:
    files = [{"data": _b64(ctx), "format": ctx.clip.format, "id": name} for name in ("first", "second")]
    payload: dict[str, Any] = {"audio_files": files, "temperature": 0.0}
    if ctx.language:
        payload["language"] = ctx.language
    async with ctx.session.post("/transcribe/batch/", json=payload, headers=_headers(ctx)) as response:
        body = await _json(response)
    if response.status != 200:
        raise CheckFailed(_error_text(response.status, body))
    results = body.get("results", [])
    if [r.get("id") for r in results] != ["first", "second"] or body.get("succeeded") != 2:
        raise CheckFailed(f"expected 2 results in order, both ok; got {body.get('succeeded')} ok: {results}")
    return f"2 files, both transcribed in {body.get('processing_time_ms')} ms"


async def check_understand(ctx: SmokeContext) -> str:
    payload = {
        "audio_files": [{"data": _b64(ctx), "format": ctx.clip.format}],
        "question": QUESTION,
        "max_tokens": 120,
    }
    async with ctx.session.post("/understand/", json=payload, headers=_headers(ctx)) as response:
        body = await _json(response)
    if response.status == 501:
        raise Skip(
            f"the {ctx.backend_kind or 'configured'} backend cannot answer questions (needs vLLM Voxtral)"
        )
    if response.status != 200:
        raise CheckFailed(_error_text(response.status, body))
    answer = body.get("answer", "")
    if not answer.strip():
        raise CheckFailed("the answer is empty")
    return f"{_short(answer)} ({body.get('processing_time_ms')} ms)"


async def check_openai(ctx: SmokeContext) -> str:
    form = aiohttp.FormData()
    form.add_field("file", ctx.clip.data, filename=ctx.clip.filename, content_type="application/octet-stream")
    form.add_field("model", OPENAI_MODEL_ALIAS)
    if ctx.language:
        form.add_field("language", ctx.language)
    async with ctx.session.post("/v1/audio/transcriptions", data=form, headers=_headers(ctx)) as response:
        body = await _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    if response.status == 404 and isinstance(error, dict) and error.get("code") == "not_found":
        raise Skip("POST /v1/audio/transcriptions is not served here (404)")
    if response.status != 200:
        raise CheckFailed(_error_text(response.status, body))
    text = body.get("text", "")
    _transcript(ctx, text)
    return f"{_short(text)}{_heard(ctx, text)}"


async def check_websocket(ctx: SmokeContext) -> str:
    url = ctx.base_url.replace("http", "ws", 1) + "/stream/transcribe"
    try:
        socket = await ctx.session.ws_connect(url, headers=_headers(ctx), heartbeat=None)
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status == 404:
            raise Skip("the WebSocket /stream/transcribe is not served here (404)") from None
        raise CheckFailed(f"the WebSocket handshake was refused: HTTP {exc.status}") from None
    async with socket:
        chunk: dict[str, Any] = {
            "type": "chunk",
            "chunk_id": 0,
            "audio_data": _b64(ctx),
            "format": ctx.clip.format,
            "is_final": True,
        }
        if ctx.language:
            chunk["language"] = ctx.language
        finals = 0
        async with asyncio.timeout(ctx.timeout_seconds):
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                kind = event.get("type")
                if kind == "ready":
                    await socket.send_str(json.dumps(chunk))
                elif kind == "final":
                    finals += 1
                elif kind == "error" and event.get("severity") == "fatal":
                    raise CheckFailed(f"stream error {event.get('code')}: {event.get('message')}")
                elif kind == "done":
                    text = event.get("text", "")
                    _transcript(ctx, text)
                    return f"{_short(text)} ({finals} final(s){_heard(ctx, text)})"
        raise CheckFailed(f"the stream closed ({socket.close_code}) without a `done` message")


async def check_metrics(ctx: SmokeContext) -> str:
    async with ctx.session.get("/metrics", headers=_headers(ctx)) as response:
        text = (await response.read()).decode("utf-8", "replace")
    if response.status in (403, 404):
        raise Skip(
            f"/metrics is not reachable from here (HTTP {response.status}; nginx allows loopback only)"
        )
    if response.status != 200 or "voxtral_gateway_http_requests_total" not in text:
        raise CheckFailed(f"HTTP {response.status}, no voxtral_gateway_http_requests_total in the body")
    series = sum(1 for line in text.splitlines() if line.startswith("voxtral_gateway_"))
    return f"{series} series"


CHECKS: tuple[tuple[str, Check], ...] = (
    ("health", check_health),
    ("transcribe", check_transcribe),
    ("batch", check_batch),
    ("understand", check_understand),
    ("openai", check_openai),
    ("websocket", check_websocket),
    ("metrics", check_metrics),
)
