"""What every live protocol adapter (the seed's `/stream/transcribe`, OpenAI Realtime, Mistral realtime)
does the same way over its live session: the inbox and outbox the socket runner (`socket.py`) fills and
drains, the run that ends with a `Close`, the limits the socket hit, and the figures logged at the end.
A protocol supplies its opening messages, its inbox loop, and its mapping of the session's events."""

from __future__ import annotations

import abc
import asyncio
import time
from typing import Any, Literal

import msgspec

from voxtral_gateway.errors import GatewayError
from voxtral_gateway.routes.error_wire import CLOSE_NORMAL, ws_close_code
from voxtral_gateway.routes.live.outbox import Outbox
from voxtral_gateway.services.live import (
    Error,
    LatencyHistogram,
    LiveEvent,
    LiveTranscription,
    TurnDetection,
    limits,
)


class Inbound(msgspec.Struct, frozen=True):
    """A message as the route received it (exactly one of `text`/`data`), or a limit the route hit."""

    received_at: float
    """time.perf_counter() at receipt: per-message handling time counts from here."""
    text: str | None = None
    data: bytes | None = None
    limit: Literal["idle_timeout", "message_too_big", "shutting_down"] | None = None
    size: int = 0


class Close(msgspec.Struct, frozen=True):
    """The last item of the outbox: close the socket with this code."""

    code: int
    reason: str = ""


def close_for(ending: Error | None) -> Close:
    """How the socket closes once its session has run: normally, or with the close code of the fatal
    error that ended it (`LiveSession.run`'s result)."""
    if ending is None:
        return Close(CLOSE_NORMAL)
    return Close(ws_close_code(ending.error), ending.error.code)


class LiveAdapter(abc.ABC):
    """One protocol over one live session: the socket runner puts client messages in `inbox` and sends
    what `run` puts in `outbox` (Structs, JSON-encoded; a `Close` last)."""

    def __init__(
        self, *, session_id: str, live: LiveTranscription, turn_detection: TurnDetection | None = None
    ):
        self.config = live.config
        self._live = live
        self.session = live.open(session_id, self._on_event, turn_detection)
        self.inbox: asyncio.Queue[Inbound] = asyncio.Queue(maxsize=self.config.read_ahead_messages)
        self.outbox: Outbox[Any] = Outbox(self.config.outbox_messages, self.config.idle_timeout_seconds)
        self.close_code: int | None = None
        self.message_times = LatencyHistogram()
        self._aborted = False

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def closing(self) -> bool:
        """No more input will be processed (the stream is finishing or has ended)."""
        return self.session.closing

    # --- what each protocol provides ------------------------------------------------------------

    @abc.abstractmethod
    def opening_messages(self) -> list[msgspec.Struct]:
        """Sent as soon as the socket is accepted."""

    @abc.abstractmethod
    async def _process_inbox(self) -> None:
        """Client messages → session inputs, until the client ends its input (`_next_inbound` raises at
        a limit, which ends it too)."""

    @abc.abstractmethod
    def _on_event(self, event: LiveEvent) -> None:
        """The session's event, as the protocol's messages (`self._send`)."""

    async def _drain(self) -> None:
        """After the input ends (normally or at a limit), before the last finals."""

    def _summary_extra(self) -> dict[str, Any]:
        """The protocol's own figures for the end-of-stream log line."""
        return {}

    # --- the run --------------------------------------------------------------------------------

    async def run(self) -> None:
        """The stream; always ends by putting a `Close` in the outbox (unless aborted)."""
        for message in self.opening_messages():
            self._send(message)
        try:
            ending = await self.session.run(self._process_inbox, self._drain)
        except asyncio.CancelledError:
            self._aborted = True
            raise
        close = close_for(ending)
        self.close_code = close.code
        if not self._aborted:
            self.outbox.put_nowait(close)

    def abort(self) -> None:
        """The client is gone: cancel every transcription at once and send nothing more."""
        self._aborted = True
        self.session.abort()

    async def _next_inbound(self, within_seconds: float | None = None) -> Inbound:
        """The next client message, once the outbox has room (a client that reads nothing is not read
        either). A limit the socket hit is raised as the error that ends the stream; `TimeoutError` when
        nothing came within `within_seconds`."""
        await self.outbox.room()
        async with asyncio.timeout(within_seconds):
            item = await self.inbox.get()
        if item.limit is not None:
            raise self._limit(item)
        return item

    def _limit(self, item: Inbound) -> GatewayError:
        if item.limit == "shutting_down":  # SIGTERM (runtime/shutdown.py): finish like any limit
            return limits.shutting_down()
        if item.limit == "idle_timeout":
            return limits.idle_timeout(self.config)
        return limits.message_too_big(item.size, self.config)

    def _handled(self, item: Inbound) -> None:
        """Count `item`'s handling time, from its receipt, in the stream's figures."""
        self.message_times.record(time.perf_counter() - item.received_at)

    def _send(self, message: msgspec.Struct) -> None:
        if not self._aborted:
            self.outbox.put_nowait(message)

    def summary(self) -> dict[str, Any]:
        """Figures for the log line at the end of the stream."""
        times = self.message_times
        return {
            **self.session.summary(),
            "messages": times.count,
            "outbox_peak": self.outbox.peak,
            **self._summary_extra(),
            "chunk_ms_p50": round(times.percentile(0.5) * 1000, 3),
            "chunk_ms_p99": round(times.percentile(0.99) * 1000, 3),
            "chunk_ms_max": round(times.max_seconds * 1000, 3),
            "chunk_hist": times.to_json(),
            "close_code": self.close_code,
        }
