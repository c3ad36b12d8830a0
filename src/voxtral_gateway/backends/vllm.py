"""vLLM's OpenAI-compatible server (serving Voxtral), reached with aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

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
from voxtral_gateway.backends.chat import (
    Answer,
    AnswerDelta,
    AudioPart,
    ChatMessage,
    SamplingParams,
    TokenUsage,
)
from voxtral_gateway.backends.multipart import wav_form
from voxtral_gateway.errors import (
    UpstreamDisconnected,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from voxtral_gateway.observability.request_id import REQUEST_ID_HEADER, current_request_id
from voxtral_gateway.observability.server_timing import UPSTREAM, timed
from voxtral_gateway.settings import TimeoutSettings, UpstreamTimeouts, VLLMSettings

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


class _WireInputAudio(msgspec.Struct):
    data: bytes
    """msgspec writes bytes as standard base64, which is what vLLM expects here."""
    format: str


class _WireAudioPart(msgspec.Struct, tag_field="type", tag="input_audio"):
    input_audio: _WireInputAudio


class _WireTextPart(msgspec.Struct, tag_field="type", tag="text"):
    text: str


class _WireMessage(msgspec.Struct):
    role: str
    content: list[_WireTextPart | _WireAudioPart]


class _WireStreamOptions(msgspec.Struct):
    include_usage: bool = True


class _WireChatRequest(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[_WireMessage]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    stream_options: _WireStreamOptions | None = None


class _WireAnswerMessage(msgspec.Struct):
    content: str | None = None


class _WireChoice(msgspec.Struct):
    message: _WireAnswerMessage
    finish_reason: str | None = None


class _WireChatResponse(msgspec.Struct):
    model: str
    choices: list[_WireChoice]
    usage: TokenUsage | None = None


class _WireDelta(msgspec.Struct):
    content: str | None = None


class _WireChunkChoice(msgspec.Struct):
    delta: _WireDelta = msgspec.field(default_factory=_WireDelta)
    finish_reason: str | None = None


class _WireChunk(msgspec.Struct):
    choices: list[_WireChunkChoice] = msgspec.field(default_factory=list)
    usage: TokenUsage | None = None
    error: _UpstreamErrorInfo | None = None


def _wire_message(message: ChatMessage) -> _WireMessage:
    parts: list[_WireTextPart | _WireAudioPart] = []
    for part in message.content:
        if isinstance(part, AudioPart):
            wav = encode_wav(part.audio.samples, part.audio.sample_rate)
            parts.append(_WireAudioPart(input_audio=_WireInputAudio(data=wav, format="wav")))
        else:
            parts.append(_WireTextPart(text=part.text))
    return _WireMessage(role=message.role, content=parts)


async def _server_sent_data(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The `data:` payloads of a server-sent event stream."""
    async for raw_line in stream:
        line = raw_line.strip()
        if line.startswith(b"data:"):
            yield line[5:].strip()


def _delta_from_chunk(payload: bytes) -> AnswerDelta:
    try:
        chunk = msgspec.json.decode(payload, type=_WireChunk)
    except msgspec.DecodeError as exc:
        raise UpstreamError(f"vLLM sent a stream event the gateway cannot read: {exc}") from exc
    if chunk.error is not None:
        raise UpstreamError(f"vLLM failed while streaming: {chunk.error.message}")
    choice = chunk.choices[0] if chunk.choices else None
    return AnswerDelta(
        text=(choice.delta.content or "") if choice else "",
        finish_reason=choice.finish_reason if choice else None,
        usage=chunk.usage,
    )


class VLLMBackend(SpeechBackend):
    kind = "vllm"
    supports_chat = True
    prefers_segments = True

    def __init__(self, vllm: VLLMSettings, timeouts: TimeoutSettings, base_url: str | None = None):
        """`base_url`: one server of VOXTRAL_BACKENDS; default the one VOXTRAL_HOST/PORT names."""
        self.model_name = vllm.model
        self.base_url = base_url or vllm.base_url
        self.max_audio_seconds = vllm.max_audio_seconds
        self._api_key = vllm.api_key
        self._defaults = timeouts
        self._transcription = timeouts.transcription
        self._understanding = timeouts.understanding
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        headers = {}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._session = aiohttp.ClientSession(
            base_url=self.base_url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(
                total=self._defaults.total_seconds, connect=self._defaults.connect_seconds
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
        """Ask vLLM's `GET /health` now (callers cache: the health report, the pool's periodic check)."""
        timeout = aiohttp.ClientTimeout(total=self._defaults.connect_seconds)
        try:
            async with self.session.get("/health", timeout=timeout) as response:
                if response.status == 200:
                    return BackendHealth(ready=True)
                return BackendHealth(ready=False, detail=f"vLLM /health answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return BackendHealth(ready=False, detail=f"vLLM unreachable at {self.base_url}: {_describe(exc)}")

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        fields = [
            ("model", self.model_name),
            ("response_format", "json"),
            ("temperature", repr(options.temperature)),
        ]
        if options.language:
            fields.append(("language", options.language))
        body = await self._post("/v1/audio/transcriptions", wav_form(audio, fields), self._transcription)
        result = msgspec.json.decode(body, type=_UpstreamTranscription)
        text = result.text.strip()
        duration = audio.duration_seconds
        return Transcript(
            text=text,
            language=None,
            confidence=None,
            segments=[TranscriptSegment(start=0.0, end=duration, text=text)] if text else [],
        )

    async def _post(
        self, path: str, data: aiohttp.FormData | aiohttp.Payload | bytes, timeouts: UpstreamTimeouts
    ) -> bytes:
        """POST and return the body of a 200, or raise the gateway error that says what failed."""
        async with self._open(path, data, timeouts) as response:
            return await self._read(response, timeouts)

    @contextlib.asynccontextmanager
    async def _open(
        self, path: str, data: aiohttp.FormData | aiohttp.Payload | bytes, timeouts: UpstreamTimeouts
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST; yield the response if it is a 200, else raise the gateway error that says what failed.
        The route kind's connect, first-byte and total timeouts apply."""
        headers = {"Content-Type": "application/json"} if isinstance(data, bytes) else {}
        if request_id := current_request_id():
            headers[REQUEST_ID_HEADER] = request_id  # vLLM uses it as its request id (its logs)
        with self._mapped_errors(timeouts), timed(UPSTREAM):
            client_timeout = aiohttp.ClientTimeout(total=timeouts.total, connect=timeouts.connect)
            request = self.session.post(path, data=data, headers=headers, timeout=client_timeout)
            async with self._first_byte(timeouts):
                response = await request
            async with response:
                if response.status != 200:
                    body = await self._read(response, timeouts)
                    raise _error_from_response(response.status, body, self.base_url)
                yield response

    @contextlib.asynccontextmanager
    async def _first_byte(self, timeouts: UpstreamTimeouts) -> AsyncIterator[None]:
        """The wait for the status line and headers, when it has its own (shorter) limit."""
        if timeouts.first_byte >= timeouts.total:
            yield
            return
        try:
            async with asyncio.timeout(timeouts.first_byte):
                yield
        except TimeoutError as exc:
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise
            raise UpstreamTimeout(
                f"vLLM at {self.base_url} did not start answering within {timeouts.first_byte:g} s "
                f"({timeouts.setting_prefix}_FIRST_BYTE_TIMEOUT_SECONDS)"
            ) from exc

    async def _read(self, response: aiohttp.ClientResponse, timeouts: UpstreamTimeouts) -> bytes:
        with self._mapped_errors(timeouts):
            return await response.read()

    @contextlib.contextmanager
    def _mapped_errors(self, timeouts: UpstreamTimeouts) -> Iterator[None]:
        try:
            yield
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise UpstreamUnreachable(
                f"model unavailable: cannot connect to vLLM at {self.base_url} ({_describe(exc)})"
            ) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise UpstreamDisconnected(
                f"vLLM at {self.base_url} dropped the connection: {_describe(exc)}"
            ) from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"vLLM at {self.base_url} did not answer within {timeouts.total:g} s "
                f"({timeouts.setting_prefix}_TIMEOUT_SECONDS or UPSTREAM_TIMEOUT_SECONDS)"
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"request to vLLM at {self.base_url} failed: {_describe(exc)}") from exc

    # --- chat completions (audio understanding) ---------------------------------------------

    def _chat_body(self, messages: list[ChatMessage], sampling: SamplingParams, stream: bool) -> bytes:
        request = _WireChatRequest(
            model=self.model_name,
            messages=[_wire_message(message) for message in messages],
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            stream=stream,
            stream_options=_WireStreamOptions() if stream else None,
        )
        return msgspec.json.encode(request)

    async def chat(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        body = await self._post(
            "/v1/chat/completions", self._chat_body(messages, sampling, stream=False), self._understanding
        )
        try:
            result = msgspec.json.decode(body, type=_WireChatResponse)
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"vLLM sent a chat completion the gateway cannot read: {exc}") from exc
        choice = result.choices[0] if result.choices else None
        return Answer(
            text=(choice.message.content or "") if choice else "",
            finish_reason=choice.finish_reason if choice else None,
            usage=result.usage,
            model=result.model,
        )

    async def chat_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        body = self._chat_body(messages, sampling, stream=True)
        async with self._open("/v1/chat/completions", body, self._understanding) as response:
            with self._mapped_errors(self._understanding):
                async for payload in _server_sent_data(response.content):
                    if payload == b"[DONE]":
                        return
                    yield _delta_from_chunk(payload)


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
