"""vLLM's OpenAI-compatible server (serving Voxtral), reached with aiohttp.

What comes back is read as vLLM 0.33 sends it (its source, not its docs): every validation error is
400 (422 only for a remote-media fetch, which the gateway never asks for; 413 only from a proxy in
front); a full queue is 503 ("try again later or on a different instance"), without Retry-After; a
dead engine is 500 with a fixed message. `_error_from_response` is the one place that maps them."""

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
    TranscriptDelta,
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
from voxtral_gateway.backends.json_splice import PLACEHOLDER, splice_base64
from voxtral_gateway.backends.multipart import wav_form
from voxtral_gateway.backends.retry import RetryPolicy, retrying
from voxtral_gateway.errors import (
    UpstreamBusy,
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

# Upstream statuses that mean "this request is invalid": passed to the client as they are. vLLM
# itself sends 400 (and 422 for a remote-media fetch); 413 can only come from a proxy in front of it.
_CLIENT_FAULT_STATUSES = frozenset({400, 413, 422})
# vLLM's 503 for a full queue (QueueOverflowError, MaxQueuedTokensError) ends with this.
_BUSY_HINT = "try again later"
# What vLLM answers (500) for every request once its engine has died (EngineDeadError).
_ENGINE_DEAD_MESSAGE = "The server had an error while processing your request."
# vLLM's own Retry-After is none; a queue that was full drains in about this long.
BUSY_RETRY_AFTER_SECONDS = 1
# A chat body is written to the connection this much at a time.
_WRITE_STEP_BYTES = 1024 * 1024
# The parameter vLLM names when an audio is over VLLM_MAX_AUDIO_CLIP_FILESIZE_MB.
_FILE_SIZE_PARAMETER = "audio_filesize_mb"


class UpstreamClosedIdle(UpstreamDisconnected):
    """vLLM closed a pooled keep-alive connection as the request went out: no response byte came
    back, so the request never started there (vLLM closes idle connections after
    VLLM_HTTP_TIMEOUT_KEEP_ALIVE)."""


IDLE_CLOSE_RETRY = RetryPolicy(attempts=2, retry_on=(UpstreamClosedIdle,))
"""A transcription whose connection was closed before any response byte is sent once more, at once,
on a new connection (it changes nothing on the server)."""


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
    data: msgspec.Raw
    """`json_splice.PLACEHOLDER`, replaced by the WAV's standard base64 (what vLLM expects here)."""
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
    max_completion_tokens: int | None = None
    """`max_tokens` is deprecated in vLLM 0.33's chat request."""
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


def _wire_message(message: ChatMessage, wavs: list[bytearray]) -> _WireMessage:
    """The message, each audio's WAV appended to `wavs` (its place left to `splice_base64`)."""
    parts: list[_WireTextPart | _WireAudioPart] = []
    for part in message.content:
        if isinstance(part, AudioPart):
            wavs.append(encode_wav(part.audio.samples, part.audio.sample_rate))
            parts.append(_WireAudioPart(input_audio=_WireInputAudio(data=PLACEHOLDER, format="wav")))
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
        self._keepalive_seconds = vllm.keepalive_seconds
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
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_seconds),
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

    def _transcription_form(
        self, audio: DecodedAudio, options: TranscriptionOptions, stream: bool
    ) -> aiohttp.BytesPayload:
        fields = [
            ("model", self.model_name),
            ("response_format", "json"),
            ("temperature", repr(options.temperature)),
        ]
        if options.language:
            fields.append(("language", options.language))
        if stream:
            fields += [("stream", "true"), ("stream_include_usage", "true")]
        return wav_form(audio, fields)

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        form = self._transcription_form(audio, options, stream=False)
        async with contextlib.AsyncExitStack() as stack:
            response = await self._open_transcription(form, stack)
            body = await self._read(response, self._transcription)
        try:
            result = msgspec.json.decode(body, type=_UpstreamTranscription)
        except msgspec.DecodeError as exc:  # e.g. a proxy's HTML page with a 200
            raise UpstreamError(f"vLLM sent a transcription the gateway cannot read: {exc}") from exc
        return _transcript(result.text.strip(), audio)

    async def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        """vLLM's `stream=true`: one delta per engine step, as the tokens are generated."""
        form = self._transcription_form(audio, options, stream=True)
        trimmed = _TrimmedText()
        async with contextlib.AsyncExitStack() as stack:
            response = await self._open_transcription(form, stack)
            with self._mapped_errors(self._transcription):
                async for payload in _server_sent_data(response.content):
                    if payload == b"[DONE]":
                        break
                    if text := trimmed.add(_delta_from_chunk(payload).text):
                        yield TranscriptDelta(text=text)
        yield _transcript(trimmed.text, audio)

    async def _open_transcription(
        self, form: aiohttp.BytesPayload, stack: contextlib.AsyncExitStack
    ) -> aiohttp.ClientResponse:
        """POST a transcription (once more if vLLM closed the idle connection it went out on); the
        response stays open until `stack` closes."""

        async def attempt(_: int) -> aiohttp.ClientResponse:
            return await stack.enter_async_context(
                self._open("/v1/audio/transcriptions", form, self._transcription)
            )

        def closed_idle(error: Exception, _: int) -> None:
            log.info("vllm_idle_connection_closed_retrying", url=self.base_url, error=str(error))

        return await retrying(IDLE_CLOSE_RETRY, attempt, closed_idle)

    async def _post(
        self, path: str, data: aiohttp.FormData | aiohttp.Payload | bytearray, timeouts: UpstreamTimeouts
    ) -> bytes:
        """POST and return the body of a 200, or raise the gateway error that says what failed."""
        async with self._open(path, data, timeouts) as response:
            return await self._read(response, timeouts)

    @contextlib.asynccontextmanager
    async def _open(
        self, path: str, data: aiohttp.FormData | aiohttp.Payload | bytearray, timeouts: UpstreamTimeouts
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """POST; yield the response if it is a 200, else raise the gateway error that says what failed.
        The route kind's connect, first-byte and total timeouts apply."""
        headers: dict[str, str] = {}
        if isinstance(data, bytearray):  # a chat body: JSON, written in steps (see `_in_steps`)
            headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}
            data = _in_steps(data)
        if request_id := current_request_id():
            headers[REQUEST_ID_HEADER] = request_id  # vLLM uses it as its request id (its logs)
        with self._mapped_errors(timeouts), timed(UPSTREAM):
            client_timeout = aiohttp.ClientTimeout(total=timeouts.total, connect=timeouts.connect)
            request = self.session.post(path, data=data, headers=headers, timeout=client_timeout)
            async with self._first_byte(timeouts):
                try:
                    response = await request
                except aiohttp.ServerDisconnectedError as exc:
                    raise UpstreamClosedIdle(
                        f"vLLM at {self.base_url} closed the connection before answering: {_describe(exc)}"
                    ) from exc
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

    def chat_body(self, messages: list[ChatMessage], sampling: SamplingParams, stream: bool) -> bytearray:
        """The chat request's JSON, every audio in it as a base64 WAV: CPU work that grows with the
        audio (a pool builds it once, on its CPU pool, for every server it may try)."""
        return chat_request_body(self.model_name, messages, sampling, stream)

    async def chat(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        return await self.send_chat(self.chat_body(messages, sampling, stream=False))

    def chat_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        return self.stream_chat(self.chat_body(messages, sampling, stream=True))

    async def send_chat(self, body: bytearray) -> Answer:
        """POST a `chat_body(..., stream=False)` and read the answer."""
        answer = await self._post("/v1/chat/completions", body, self._understanding)
        try:
            result = msgspec.json.decode(answer, type=_WireChatResponse)
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"vLLM sent a chat completion the gateway cannot read: {exc}") from exc
        choice = result.choices[0] if result.choices else None
        return Answer(
            text=(choice.message.content or "") if choice else "",
            finish_reason=choice.finish_reason if choice else None,
            usage=result.usage,
            model=result.model,
        )

    async def stream_chat(self, body: bytearray) -> AsyncIterator[AnswerDelta]:
        """POST a `chat_body(..., stream=True)` and yield the answer's deltas."""
        async with self._open("/v1/chat/completions", body, self._understanding) as response:
            with self._mapped_errors(self._understanding):
                async for payload in _server_sent_data(response.content):
                    if payload == b"[DONE]":
                        return
                    yield _delta_from_chunk(payload)


def chat_request_body(
    model: str, messages: list[ChatMessage], sampling: SamplingParams, stream: bool
) -> bytearray:
    """vLLM's chat completion request for `model`, as JSON (blocking: WAV and base64 encoding)."""
    wavs: list[bytearray] = []
    request = _WireChatRequest(
        model=model,
        messages=[_wire_message(message, wavs) for message in messages],
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_completion_tokens=sampling.max_tokens,
        stream=stream,
        stream_options=_WireStreamOptions() if stream else None,
    )
    return splice_base64(msgspec.json.encode(request), wavs)


async def _in_steps(body: bytearray) -> AsyncIterator[memoryview]:
    """`body` a MiB at a time: aiohttp hands a whole bytes body to the transport in one write, which
    copies what the socket does not take at once (~0.35 s on the event loop for 100 MB)."""
    view = memoryview(body)
    for start in range(0, len(view), _WRITE_STEP_BYTES):
        yield view[start : start + _WRITE_STEP_BYTES]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _transcript(text: str, audio: DecodedAudio) -> Transcript:
    return Transcript(
        text=text,
        language=None,
        confidence=None,
        segments=[TranscriptSegment(start=0.0, end=audio.duration_seconds, text=text)] if text else [],
    )


class _TrimmedText:
    """Streamed pieces trimmed as the whole text is (`str.strip`): leading whitespace dropped, and
    whitespace held back until more text follows it, so the pieces join to the stripped text."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending = ""

    def add(self, piece: str) -> str:
        """The text to pass on for `piece` (may be empty)."""
        if not self._parts:
            piece = piece.lstrip()
        body = piece.rstrip()
        if not body:
            self._pending += piece
            return ""
        out = self._pending + body
        self._pending = piece[len(body) :]
        self._parts.append(out)
        return out

    @property
    def text(self) -> str:
        return "".join(self._parts)


def _upstream_error(body: bytes) -> _UpstreamErrorInfo:
    try:
        parsed = msgspec.json.decode(body, type=_UpstreamErrorBody)
    except msgspec.DecodeError:
        return _UpstreamErrorInfo(message=body[:500].decode("utf-8", "replace").strip())
    if parsed.error is not None:
        return parsed.error
    return _UpstreamErrorInfo(message=parsed.message or "")


def _error_from_response(status: int, body: bytes, base_url: str) -> UpstreamError:
    info = _upstream_error(body)
    message = info.message
    if info.param == _FILE_SIZE_PARAMETER:
        return UpstreamRejected(
            f"vLLM refused the audio as larger than its VLLM_MAX_AUDIO_CLIP_FILESIZE_MB: {message}",
            upstream_status=413,
        )
    if status in _CLIENT_FAULT_STATUSES:
        return UpstreamRejected(f"vLLM refused the request: {message}", upstream_status=status)
    if status == 503 and _BUSY_HINT in message.lower():
        return UpstreamBusy(
            f"the model server is busy (its queue is full); retry shortly: {message}",
            retry_after_seconds=BUSY_RETRY_AFTER_SECONDS,
        )
    if status in (502, 503):
        return UpstreamUnavailable(f"model unavailable: vLLM answered {status}: {message}")
    if status == 500 and message == _ENGINE_DEAD_MESSAGE:
        return UpstreamUnavailable(
            f"model unavailable: vLLM at {base_url} answered 500 ({message}); its engine has stopped"
        )
    if status == 504:
        return UpstreamTimeout(f"vLLM answered 504: {message}")
    return UpstreamError(
        f"vLLM at {base_url} answered {status}: {message}", details={"upstream_status": status}
    )
