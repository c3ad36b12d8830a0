"""The socket side of every live-transcription WebSocket (the seed's `/stream/transcribe`, OpenAI
Realtime, Mistral realtime): admission, reading (size limit, idle timeout, backpressure), writing, the
end on shutdown, and the close. What the messages mean is the protocol adapter's business
(`LiveAdapter`); close codes come from `routes/error_wire.py`. Litestar's exception handlers do not
apply to WebSockets, so every failure here becomes the protocol's error message and a close code."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import msgspec
import structlog
from litestar import WebSocket

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.error_wire import CLOSE_NORMAL, refusal_close_code
from voxtral_gateway.routes.live.adapter import Close, Inbound, LiveAdapter
from voxtral_gateway.runtime import Runtime

log = structlog.get_logger(__name__)

_LINGER_QUIET_SECONDS = 0.25
_LINGER_MAX_SECONDS = 2.0


RefusalMessage = Callable[[GatewayError, int], msgspec.Struct]
"""The protocol's error message for a stream refused before it started (the error, its close code)."""


class _Connection:
    """What the reader and writer share: whether the client is gone (then nothing more is sent), and
    whether reading has stopped (granian's close() with a receive() pending waits for that receive, and
    cancelling the receive then can lose the close frame and the messages before it: 1006)."""

    __slots__ = ("disconnected", "last_received", "reading_stopped")

    def __init__(self) -> None:
        self.disconnected = False
        self.reading_stopped = asyncio.Event()
        self.last_received = time.monotonic()


@contextlib.asynccontextmanager
async def _admission(socket: WebSocket, runtime: Runtime) -> AsyncIterator[str]:
    """The one place a stream is admitted: who is calling (API key, else client address) and one of
    their MAX_STREAMS_PER_IDENTITY stream slots, held until the stream ends. Yields the identity.

    Raises a `GatewayError` (401, 403, 429, 503) before yielding when the stream is refused."""
    async with runtime.access.stream_slot(socket.scope) as admission:
        yield admission.identity


async def serve_live_socket(
    socket: WebSocket,
    runtime: Runtime,
    open_adapter: Callable[[], LiveAdapter],
    refusal: RefusalMessage,
    protocol: str,
    precheck: Callable[[], object] | None = None,
) -> None:
    """Admit the stream (or refuse it with `refusal`'s message and 4000 + status), then run the adapter
    `open_adapter()` gives over the socket until the stream ends. `protocol` names it in the logs.
    `precheck()` runs once the stream is admitted; a `GatewayError` from it refuses the stream too (e.g.
    4404 for a model in the URL that is not served)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            identity = await stack.enter_async_context(_admission(socket, runtime))
            if precheck is not None:
                precheck()
        except GatewayError as exc:
            await _refuse(socket, exc, refusal)
            return
        await _serve(socket, runtime, identity, open_adapter(), protocol)


async def _refuse(socket: WebSocket, exc: GatewayError, refusal: RefusalMessage) -> None:
    """Accept only to say why, then close with 4000 + the HTTP status (4401, 4403, 4429, 4503)."""
    close_code = refusal_close_code(exc)
    error = refusal(exc, close_code)
    with contextlib.suppress(Exception):
        await socket.accept()
        await socket.send_text(msgspec.json.encode(error).decode())
        await socket.close(close_code, exc.code)


async def _serve(
    socket: WebSocket, runtime: Runtime, identity: str, session: LiveAdapter, protocol: str
) -> None:
    await socket.accept()
    log.info("stream_opened", session_id=session.session_id, identity=identity, protocol=protocol)
    connection = _Connection()
    loop = asyncio.get_running_loop()
    pipeline = loop.create_task(session.run())
    writer = loop.create_task(_write(socket, session, connection))
    reader = loop.create_task(_read(socket, session, connection))
    draining = loop.create_task(_end_on_shutdown(runtime, session))
    client_left = False
    try:
        await asyncio.wait({reader, pipeline}, return_when=asyncio.FIRST_COMPLETED)
        if reader.done() and connection.disconnected:
            client_left = True
            session.abort()  # the client is gone: its upstream requests are cancelled now
            pipeline.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pipeline
        if session.close_code != CLOSE_NORMAL and not connection.disconnected:
            await _linger(connection)
        # Nothing more is read once the session is over; the writer closes once reading has stopped.
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        if connection.disconnected:
            writer.cancel()
        done, _ = await asyncio.wait({writer}, timeout=session.config.idle_timeout_seconds)
        if not done:  # the client reads nothing, not even the end of its stream: give up on it
            log.info(
                "stream_client_not_reading", session_id=session.session_id, waiting=session.outbox.qsize()
            )
            writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    finally:
        for task in (reader, pipeline, writer, draining):
            task.cancel()
        if not reader.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        log.info(
            "stream_closed",
            session_id=session.session_id,
            identity=identity,
            protocol=protocol,
            client_left_early=client_left,
            **session.summary(),
        )


async def _linger(connection: _Connection) -> None:
    """Before closing a stream the client is still sending on, read (and drop) until it pauses.

    granian closes the TCP connection right after the close frame; with the client's bytes still
    unread, the kernel answers with a reset, and the client loses what it had not read yet: the last
    messages, the close frame (it sees 1006). A client streaming in real time pauses between chunks."""
    deadline = time.monotonic() + _LINGER_MAX_SECONDS
    while time.monotonic() < deadline and not connection.disconnected:
        if time.monotonic() - connection.last_received >= _LINGER_QUIET_SECONDS:
            return
        await asyncio.sleep(_LINGER_QUIET_SECONDS / 5)


async def _end_on_shutdown(runtime: Runtime, session: LiveAdapter) -> None:
    """SIGTERM: the stream ends like a limit ends it (the last utterance is transcribed, `done`, a fatal
    `shutting_down` error, close 1001); the worker waits for this (SHUTDOWN_TIMEOUT_SECONDS at most)."""
    await runtime.shutting_down.wait()
    if not session.closing:
        await session.inbox.put(Inbound(received_at=time.perf_counter(), limit="shutting_down"))


async def _read(socket: WebSocket, session: LiveAdapter, connection: _Connection) -> None:
    """Read messages into the session's inbox until the client disconnects. A full inbox stops the
    reading (backpressure); a limit hit is handed to the session, which ends the stream."""
    try:
        await _read_messages(socket, session, connection)
    finally:
        connection.reading_stopped.set()


async def _read_messages(socket: WebSocket, session: LiveAdapter, connection: _Connection) -> None:
    config = session.config
    limit_hit = False
    while True:
        waiting = not (session.closing or limit_hit)
        try:
            async with asyncio.timeout(config.idle_timeout_seconds if waiting else None):
                message = await socket.receive()
        except TimeoutError:
            limit_hit = True
            await session.inbox.put(Inbound(received_at=time.perf_counter(), limit="idle_timeout"))
            continue
        except Exception:  # the server tore the connection down
            connection.disconnected = True
            return
        received_at = time.perf_counter()
        connection.last_received = time.monotonic()
        if message["type"] == "websocket.disconnect":
            connection.disconnected = True
            return
        if session.closing or limit_hit:
            continue  # the stream is ending: what arrives now is not processed
        data: bytes | None = message.get("bytes")
        text: str | None = message.get("text")
        size = len(data) if data is not None else _utf8_size(text or "")
        if size > config.max_message_bytes:
            limit_hit = True
            await session.inbox.put(Inbound(received_at=received_at, limit="message_too_big", size=size))
            continue
        if data is not None:
            await session.inbox.put(Inbound(received_at=received_at, data=data, size=size))
        elif text is not None:
            await session.inbox.put(Inbound(received_at=received_at, text=text, size=size))


async def _write(socket: WebSocket, session: LiveAdapter, connection: _Connection) -> None:
    """Send the session's messages; stop at its `Close`, or at the first failure (the client is gone:
    granian raises on a send after a disconnect)."""
    while True:
        item = await session.outbox.get()
        if connection.disconnected:
            return
        try:
            if isinstance(item, Close):
                await connection.reading_stopped.wait()
                if not connection.disconnected:
                    await socket.close(item.code, item.reason)
                return
            await socket.send({"type": "websocket.send", "text": msgspec.json.encode(item).decode()})
        except Exception as exc:
            log.info("stream_send_failed", session_id=session.session_id, error=type(exc).__name__)
            connection.disconnected = True
            return


def _utf8_size(text: str) -> int:
    """A text message's size in bytes, as it came over the wire (ASCII, the usual case, costs nothing)."""
    return len(text) if text.isascii() else len(text.encode())
