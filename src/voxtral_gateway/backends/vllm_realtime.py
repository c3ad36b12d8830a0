"""True streaming from a realtime model (Voxtral Realtime) over vLLM's own `WS /v1/realtime`, with aiohttp.

vLLM 0.33's protocol (`entrypoints/speech_to_text/realtime/`), JSON text frames: the server greets with
`session.created`; the client sends `session.update {model}`, then per turn `input_audio_buffer.commit
{final: false}` (starts one engine request), `input_audio_buffer.append {audio}` (base64 PCM16 at 16 kHz)
and `input_audio_buffer.commit {final: true}` (end of audio); the server answers `transcription.delta
{delta}` per engine step, `transcription.done {text, usage}`, or `error {error, code}`. vLLM drops audio
appended between the final commit and the done, so the next turn's audio waits here until the done.

`VLLMRealtime` is the realtime side of a pool: whether its servers serve the route (VOXTRAL_REALTIME,
`auto` probing the handshake), and sessions opened on the server the pool would choose."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Protocol

import aiohttp
import msgspec
import numpy as np
import structlog

from voxtral_gateway.backends.base import (
    RealtimeDelta,
    RealtimeDone,
    RealtimeEvent,
    RealtimeSession,
    RealtimeTurnFailed,
    RealtimeUsage,
    TranscriptionOptions,
)
from voxtral_gateway.errors import (
    GatewayError,
    UpstreamDisconnected,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from voxtral_gateway.settings import TimeoutSettings, UpstreamTimeouts, VLLMSettings

log = structlog.get_logger(__name__)

REALTIME_PATH = "/v1/realtime"
_BUSY = "The engine is currently busy"  # vLLM's queue-overflow message, sent as a processing_error
_NOT_SERVED = frozenset({403, 404})
# Errors vLLM sends when one engine request (a turn) failed: a busy engine, an engine error.
_TURN_ERRORS = frozenset({"processing_error"})  # Starlette refuses a WebSocket to a route that does not exist


# --- vLLM's events ------------------------------------------------------------------------------


class _SessionUpdate(msgspec.Struct, tag_field="type", tag="session.update"):
    model: str


class _Append(msgspec.Struct, tag_field="type", tag="input_audio_buffer.append"):
    audio: str


class _Commit(msgspec.Struct, tag_field="type", tag="input_audio_buffer.commit"):
    final: bool


class _SessionCreated(msgspec.Struct, tag_field="type", tag="session.created"):
    id: str = ""
    created: int = 0


class _Delta(msgspec.Struct, tag_field="type", tag="transcription.delta"):
    delta: str


class _Done(msgspec.Struct, tag_field="type", tag="transcription.done"):
    text: str
    usage: RealtimeUsage | None = None


class _Error(msgspec.Struct, tag_field="type", tag="error"):
    error: str
    code: str | None = None


_ServerEvent = _SessionCreated | _Delta | _Done | _Error
_decoder = msgspec.json.Decoder(_ServerEvent)
_encoder = msgspec.json.Encoder()


def pcm16_base64(samples: np.ndarray) -> str:
    """float32 samples in [-1, 1] as vLLM reads them: base64 of little-endian int16."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    return base64.b64encode(pcm.tobytes()).decode("ascii")


# --- errors: every failure of the realtime path becomes a GatewayError here ----------------------


def error_from_event(code: str | None, message: str, url: str) -> UpstreamError:
    """vLLM's `error` event → the gateway error that says what failed."""
    if code == "processing_error" and message.startswith(_BUSY):
        return UpstreamUnavailable(f"model unavailable: vLLM at {url} is busy: {message}")
    if code == "invalid_audio":
        return UpstreamRejected(f"vLLM refused the audio: {message}", upstream_status=400)
    if code == "model_not_found":
        return UpstreamError(
            f"vLLM at {url} does not serve the configured model (VOXTRAL_MODEL): {message}",
            details={"upstream_code": code},
        )
    return UpstreamError(
        f"vLLM at {url} failed the realtime session ({code}): {message}", details={"upstream_code": code}
    )


@contextlib.contextmanager
def mapped_errors(url: str, timeouts: UpstreamTimeouts, handshake: bool = False) -> Iterator[None]:
    """aiohttp's and the clock's failures → gateway errors (as `backends/vllm.py` maps HTTP ones);
    `handshake`: a timeout is the first-byte one (opening the session), else the total (a turn)."""
    try:
        yield
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status in _NOT_SERVED:
            raise UpstreamError(
                f"vLLM at {url} does not serve {REALTIME_PATH} (answered {exc.status}): is the model a "
                "realtime one? (VOXTRAL_REALTIME)",
                details={"upstream_status": exc.status},
            ) from exc
        if exc.status in (502, 503):
            raise UpstreamUnavailable(f"model unavailable: vLLM answered {exc.status}") from exc
        raise UpstreamError(
            f"vLLM at {url} refused the realtime handshake with {exc.status} (VOXTRAL_API_KEY?)",
            details={"upstream_status": exc.status},
        ) from exc
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        raise UpstreamUnreachable(
            f"model unavailable: cannot connect to vLLM at {url} ({_describe(exc)})"
        ) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionResetError) as exc:
        raise UpstreamDisconnected(f"vLLM at {url} dropped the realtime session: {_describe(exc)}") from exc
    except TimeoutError as exc:
        if handshake:
            raise UpstreamTimeout(
                f"vLLM at {url} did not open the realtime session within {timeouts.first_byte:g} s "
                f"({timeouts.setting_prefix}_FIRST_BYTE_TIMEOUT_SECONDS)"
            ) from exc
        raise UpstreamTimeout(
            f"vLLM at {url} did not finish the realtime turn within {timeouts.total:g} s "
            f"({timeouts.setting_prefix}_TIMEOUT_SECONDS or UPSTREAM_TIMEOUT_SECONDS)"
        ) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"realtime session with vLLM at {url} failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# --- one session ---------------------------------------------------------------------------------


class VLLMRealtimeSession(RealtimeSession):
    """One open `/v1/realtime` socket. `on_end` runs once when it closes (the pool's accounting);
    `reopen` opens a fresh socket to the same server, model set (after a failed turn: vLLM leaves the
    failed request's audio in the old socket's queue, where the next request would read it)."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        url: str,
        timeouts: UpstreamTimeouts,
        reopen: Callable[[], Awaitable[aiohttp.ClientWebSocketResponse]],
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        self._ws = ws
        self._reopen = reopen
        self._url = url
        self._timeouts = timeouts
        self._on_end = on_end
        self._send_lock = asyncio.Lock()
        self._turn_open = False  # commit {final: false} sent for the turn being appended
        self._awaiting_done = 0  # final commits sent whose done has not come
        # The next turns' audio (base64, samples) and ends (None), sent once the done arrives (vLLM
        # would drop them); its samples count as waiting in the caller's backpressure.
        self._held: collections.deque[tuple[str, int] | None] = collections.deque()
        self._held_samples = 0
        self._closed = False

    @property
    def url(self) -> str:
        return self._url

    @property
    def held_samples(self) -> int:
        return self._held_samples

    async def append(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return  # vLLM answers an empty chunk with invalid_audio
        audio = pcm16_base64(samples)
        async with self._send_lock:
            if self._awaiting_done:
                self._held.append((audio, samples.size))
                self._held_samples += samples.size
                return
            await self._start_turn()
            await self._send(_Append(audio=audio))

    async def commit(self) -> None:
        async with self._send_lock:
            if self._awaiting_done:
                self._held.append(None)
                return
            await self._start_turn()  # a turn without audio still gets its done
            await self._send(_Commit(final=True))
            self._turn_open = False
            self._awaiting_done += 1

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        while not self._closed:
            message = await self._receive()
            if message is None:
                return
            event = self._decode(message)
            if isinstance(event, _Delta):
                yield RealtimeDelta(text=event.delta)
            elif isinstance(event, _Done):
                await self._turn_done()
                yield RealtimeDone(text=event.text, usage=event.usage)
            elif isinstance(event, _Error):
                error = error_from_event(event.code, event.error, self._url)
                if event.code not in _TURN_ERRORS:
                    raise error  # the gateway's mistake or a model it cannot use: the session is over
                await self._turn_failed()
                yield RealtimeTurnFailed(error=error)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
                await self._ws.close()
        finally:
            self._on_end()

    # ---- internals

    async def _start_turn(self) -> None:
        if not self._turn_open:
            await self._send(_Commit(final=False))
            self._turn_open = True

    async def _send(self, event: msgspec.Struct) -> None:
        with mapped_errors(self._url, self._timeouts):
            await self._ws.send_str(_encoder.encode(event).decode())

    async def _receive(self) -> str | None:
        """The next text frame; None once the session was closed here. The wait for a turn's done after
        its final commit is bounded by the transcription timeout."""
        deadline = self._timeouts.total if self._awaiting_done else None
        with mapped_errors(self._url, self._timeouts):
            async with asyncio.timeout(deadline):
                message = await self._ws.receive()
        if message.type == aiohttp.WSMsgType.TEXT:
            return message.data
        if self._closed:
            return None
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            raise UpstreamDisconnected(
                f"vLLM at {self._url} closed the realtime session (code {self._ws.close_code})"
            )
        if message.type == aiohttp.WSMsgType.ERROR:
            raise UpstreamDisconnected(f"vLLM at {self._url} dropped the realtime session: {message.data}")
        raise UpstreamError(f"vLLM at {self._url} sent a {message.type.name} frame on the realtime session")

    def _decode(self, message: str) -> _ServerEvent:
        try:
            return _decoder.decode(message)
        except msgspec.DecodeError as exc:
            raise UpstreamError(
                f"vLLM at {self._url} sent a realtime event the gateway cannot read: {exc}"
            ) from exc

    async def _turn_failed(self) -> None:
        """vLLM's engine request failed (no done will come): the turn it served is over. Go on on a fresh
        socket: the next audio (held audio first) starts a new engine request there."""
        async with self._send_lock:
            old = self._ws
            self._ws = await self._reopen()
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
                await old.close()
            self._turn_open = False
            self._awaiting_done = 0
        await self._turn_done(failed=True)

    async def _turn_done(self, failed: bool = False) -> None:
        """A done arrived (or the turn failed): send the audio held for the next turn (and its commit,
        if it came)."""
        async with self._send_lock:
            if not failed:
                self._awaiting_done = max(0, self._awaiting_done - 1)
            while self._held and not self._awaiting_done:
                held = self._held.popleft()
                await self._start_turn()
                if held is not None:
                    self._held_samples -= held[1]
                    await self._send(_Append(audio=held[0]))
                else:
                    await self._send(_Commit(final=True))
                    self._turn_open = False
                    self._awaiting_done += 1


# --- the pool's realtime side ------------------------------------------------------------------


class Member(Protocol):
    """What the realtime side needs of a pool member (`backends.pool.PoolMember`)."""

    url: str
    in_flight: int

    def record(self, healthy: bool, detail: str | None) -> None: ...


Chooser = Callable[[list], "Member | None"]  # the pool's choice, given the members to avoid


class VLLMRealtime:
    """Whether the pool's model is a realtime one, and sessions with it on the server the pool chooses
    (counted in flight there; a server that cannot be reached is taken out and the next one tried)."""

    def __init__(
        self, vllm: VLLMSettings, timeouts: TimeoutSettings, members: Sequence[Member], choose: Chooser
    ) -> None:
        self._mode = vllm.realtime
        self._model = vllm.model
        self._api_key = vllm.api_key
        self._timeouts = timeouts.transcription
        self._members = members
        self._choose = choose
        self.available: bool | None = {"on": True, "off": False}.get(self._mode)
        """None: not known yet (`auto` and no server answered the probe)."""
        self._http: aiohttp.ClientSession | None = None
        self._probing: asyncio.Task[bool | None] | None = None

    async def start(self) -> None:
        """With VOXTRAL_REALTIME=auto, probe the handshake once, in the background (start-up does not
        wait for a slow server; the first session does)."""
        if self.available is None:
            self._probing = asyncio.create_task(self.probe(), name="vllm-realtime-probe")

    async def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probing
            self._probing = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._http = aiohttp.ClientSession(
                headers=headers,
                # No total: a session lasts as long as its audio. The handshake has its own limit.
                timeout=aiohttp.ClientTimeout(total=None, connect=self._timeouts.connect),
                connector=aiohttp.TCPConnector(limit=0),
            )
        return self._http

    async def probe(self) -> bool | None:
        """Ask the servers, in order, whether they accept a `/v1/realtime` handshake; the first that
        answers decides (a pool serves one model). None when none could be reached (asked again later).
        Leaves the pool's state alone."""
        for member in self._members:
            try:
                ws = await self._connect(member.url)
            except UpstreamUnavailable:
                continue
            except UpstreamError as exc:
                status = (exc.details or {}).get("upstream_status")
                if status not in _NOT_SERVED:
                    log.warning("realtime_probe_failed", url=member.url, error=exc.message)
                    continue
                self.available = False
            else:
                await ws.close()
                self.available = True
            log.info("realtime_model_probed", url=member.url, realtime=self.available, model=self._model)
            return self.available
        return None

    async def serves(self) -> bool:
        """Whether the model is a realtime one: the start-up probe's answer (waited for), else a probe
        now; False while no server could be asked."""
        if self._probing is not None:
            await asyncio.shield(self._probing)
            self._probing = None
        if self.available is None:
            await self.probe()
        return bool(self.available)

    async def open_session(self, options: TranscriptionOptions) -> VLLMRealtimeSession | None:
        """An open session (its model set), or None when the model is not a realtime one. vLLM's
        realtime protocol takes no language or temperature: `options` are not sent."""
        if not await self.serves():
            return None
        tried: list[Member] = []
        while True:
            member = self._choose(tried)
            if member is None:
                raise UpstreamUnreachable(f"model unavailable: no vLLM server accepted {REALTIME_PATH}")
            tried.append(member)
            try:
                ws = await self._connect(member.url)
            except UpstreamUnreachable as exc:
                member.record(False, exc.message)
                if len(tried) < len(self._members):
                    log.warning("pool_retry", failed_url=member.url, error=exc.message)
                    continue
                raise
            member.in_flight += 1

            def ended(member: Member = member) -> None:
                member.in_flight -= 1

            try:
                await self._set_model(ws, member.url)
            except GatewayError:
                ended()
                raise

            def reopen(url: str = member.url) -> Awaitable[aiohttp.ClientWebSocketResponse]:
                return self._open_socket(url)

            return VLLMRealtimeSession(ws, member.url, self._timeouts, reopen=reopen, on_end=ended)

    async def _open_socket(self, url: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self._connect(url)
        await self._set_model(ws, url)
        return ws

    async def _set_model(self, ws: aiohttp.ClientWebSocketResponse, url: str) -> None:
        try:
            with mapped_errors(url, self._timeouts):
                await ws.send_str(_encoder.encode(_SessionUpdate(model=self._model)).decode())
        except GatewayError:
            await ws.close()
            raise

    async def _connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        """The handshake and vLLM's `session.created`, within the first-byte limit."""
        with mapped_errors(url, self._timeouts, handshake=True):
            async with asyncio.timeout(self._timeouts.first_byte):
                ws = await self.http.ws_connect(f"{url}{REALTIME_PATH}", autoping=True, max_msg_size=0)
                try:
                    greeting = await ws.receive()
                except BaseException:
                    await ws.close()
                    raise
        if greeting.type != aiohttp.WSMsgType.TEXT or not _is_session_created(greeting.data):
            await ws.close()
            raise UpstreamError(f"vLLM at {url} did not open the realtime session: {greeting.data!r}")
        return ws


def _is_session_created(data: str) -> bool:
    try:
        return isinstance(_decoder.decode(data), _SessionCreated)
    except msgspec.DecodeError:
        return False
