"""vLLM's OpenAI-compatible server (serving Voxtral), reached with aiohttp."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import msgspec
import structlog

from voxtral_gateway.audio import DecodedAudio, encode_wav
from voxtral_gateway.backends.base import (
    BackendHealth,
    SpeechBackend,
    Transcript,
    TranscriptionOptions,
    TranscriptSegment,
)
from voxtral_gateway.errors import (
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from voxtral_gateway.settings import Settings

log = structlog.get_logger(__name__)

# Upstream statuses that mean "this request is invalid": passed to the client as they are.
_CLIENT_FAULT_STATUSES = frozenset({400, 413, 422})


class _UpstreamTranscription(msgspec.Struct):
    text: str


class _UpstreamErrorInfo(msgspec.Struct):
    message: str = ""
    type: str | None = None
    param: str | None = None
    code: int | str | None = None


class _UpstreamErrorBody(msgspec.Struct):
    """vLLM's error body: `{"error": {...}}`; older releases sent the fields at the top level."""

    error: _UpstreamErrorInfo | None = None
    message: str | None = None


class VLLMBackend(SpeechBackend):
    kind = "vllm"

    def __init__(self, settings: Settings):
        self._settings = settings
        self.model_name = settings.voxtral_model
        self.base_url = settings.voxtral_base_url
        self.max_audio_seconds = settings.voxtral_max_audio_seconds
        self._session: aiohttp.ClientSession | None = None
        self._health: tuple[float, BackendHealth] | None = None
        self._health_lock = asyncio.Lock()

    async def start(self) -> None:
        headers = {}
        if self._settings.voxtral_api_key:
            headers["Authorization"] = f"Bearer {self._settings.voxtral_api_key}"
        self._session = aiohttp.ClientSession(
            base_url=self.base_url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(
                total=self._settings.upstream_timeout_seconds,
                connect=self._settings.upstream_connect_timeout_seconds,
            ),
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable("model unavailable: the vLLM client is not started")
        return self._session

    async def health(self) -> BackendHealth:
        cached = self._health
        now = time.monotonic()
        if cached and now - cached[0] < self._settings.health_cache_seconds:
            return cached[1]
        async with self._health_lock:
            cached = self._health
            if cached and time.monotonic() - cached[0] < self._settings.health_cache_seconds:
                return cached[1]
            result = await self._probe_health()
            self._health = (time.monotonic(), result)
            return result

    async def _probe_health(self) -> BackendHealth:
        timeout = aiohttp.ClientTimeout(total=self._settings.upstream_connect_timeout_seconds)
        try:
            async with self.session.get("/health", timeout=timeout) as response:
                if response.status == 200:
                    return BackendHealth(ready=True)
                return BackendHealth(ready=False, detail=f"vLLM /health answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return BackendHealth(ready=False, detail=f"vLLM unreachable at {self.base_url}: {_describe(exc)}")

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        form = aiohttp.FormData()
        form.add_field(
            "file",
            encode_wav(audio.samples, audio.sample_rate),
            filename="audio.wav",
            content_type="audio/wav",
        )
        form.add_field("model", self.model_name)
        form.add_field("response_format", "json")
        form.add_field("temperature", repr(options.temperature))
        if options.language:
            form.add_field("language", options.language)
        body = await self._post("/v1/audio/transcriptions", form)
        result = msgspec.json.decode(body, type=_UpstreamTranscription)
        text = result.text.strip()
        duration = audio.duration_seconds
        return Transcript(
            text=text,
            language=None,
            confidence=None,
            segments=[TranscriptSegment(start=0.0, end=duration, text=text)] if text else [],
        )

    async def _post(self, path: str, data: aiohttp.FormData | bytes) -> bytes:
        """POST and return the body of a 200, or raise the gateway error that says what failed."""
        try:
            async with self.session.post(path, data=data) as response:
                body = await response.read()
                if response.status == 200:
                    return body
                raise _error_from_response(response.status, body, self.base_url)
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnavailable(
                f"model unavailable: cannot connect to vLLM at {self.base_url} ({_describe(exc)})"
            ) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise UpstreamError(f"vLLM at {self.base_url} dropped the connection: {_describe(exc)}") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"vLLM at {self.base_url} did not answer within {self._settings.upstream_timeout_seconds:g} s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"request to vLLM at {self.base_url} failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _upstream_message(body: bytes) -> str:
    try:
        parsed = msgspec.json.decode(body, type=_UpstreamErrorBody)
    except msgspec.DecodeError:
        return body[:500].decode("utf-8", "replace").strip()
    if parsed.error is not None:
        return parsed.error.message
    return parsed.message or ""


def _error_from_response(status: int, body: bytes, base_url: str) -> UpstreamError:
    message = _upstream_message(body)
    if status in _CLIENT_FAULT_STATUSES:
        return UpstreamRejected(f"vLLM refused the request: {message}", upstream_status=status)
    if status in (502, 503):
        return UpstreamUnavailable(f"model unavailable: vLLM answered {status}: {message}")
    if status == 504:
        return UpstreamTimeout(f"vLLM answered 504: {message}")
    return UpstreamError(
        f"vLLM at {base_url} answered {status}: {message}", details={"upstream_status": status}
    )
