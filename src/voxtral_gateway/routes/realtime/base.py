"""What the realtime protocol adapters (OpenAI Realtime, Mistral realtime) share over a live session:
the inbox loop, the limits, the end of the stream, and partial texts turned into deltas."""

from __future__ import annotations

import abc
import asyncio
import time
from typing import Any

import msgspec

from voxtral_gateway.errors import GatewayError, InvalidRequest
from voxtral_gateway.routes.live import Inbound, Outbox, close_for
from voxtral_gateway.services.live import (
    LatencyHistogram,
    LiveEvent,
    LiveTranscription,
    TurnDetection,
    limits,
)


class RealtimeAdapter(abc.ABC):
    """One realtime session: JSON events in (`_handle`), the session's events out (`_on_event`)."""

    def __init__(
        self, *, session_id: str, live: LiveTranscription, turn_detection: TurnDetection | None = None
    ):
        self.config = live.config
        self._live = live
        self.session = live.open(session_id, self._on_event, turn_detection)
        self.inbox: asyncio.Queue[Inbound] = asyncio.Queue(maxsize=self.config.read_ahead_messages)
        self.outbox: Outbox[Any] = Outbox(self.config.outbox_messages, self.config.idle_timeout_seconds)
        self.close_code: int | None = None
        self._aborted = False
        self.message_times = LatencyHistogram()
        self._appends = 0

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def closing(self) -> bool:
        return self.session.closing

    # --- what each protocol provides ------------------------------------------------------------

    @abc.abstractmethod
    def opening_events(self) -> list[msgspec.Struct]:
        """Sent as soon as the socket is accepted."""

    @abc.abstractmethod
    async def _handle(self, text: str) -> bool:
        """One client event; True when it ends the input."""

    @abc.abstractmethod
    def _on_event(self, event: LiveEvent) -> None:
        """The session's event, as the protocol's events (`self._send`)."""

    @abc.abstractmethod
    def _error_event(self, error: GatewayError, client_event_id: str | None = None) -> msgspec.Struct:
        """The protocol's `error` event."""

    async def _drain(self) -> None:
        """After the input ends (normally or at a limit), before the last finals."""

    # --- the run --------------------------------------------------------------------------------

    async def run(self) -> None:
        """The stream; always ends by putting a `Close` in the outbox (unless aborted)."""
        for event in self.opening_events():
            self._send(event)
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
        self._aborted = True
        self.session.abort()

    async def _process_inbox(self) -> None:
        while True:
            await self.outbox.room()  # a client that reads nothing is not read either
            item = await self.inbox.get()
            if item.limit is not None:
                raise self._limit(item)
            if item.data is not None:
                self._reject(InvalidRequest("binary frames are not part of this protocol; send JSON events"))
                ended = False
            else:
                assert item.text is not None
                ended = await self._handle(item.text)
            self.message_times.record(time.perf_counter() - item.received_at)
            if ended:
                return

    def _limit(self, item: Inbound) -> GatewayError:
        if item.limit == "shutting_down":
            return limits.shutting_down()
        if item.limit == "idle_timeout":
            return limits.idle_timeout(self.config)
        return limits.message_too_big(item.size, self.config)

    # --- output ---------------------------------------------------------------------------------

    def _send(self, event: msgspec.Struct) -> None:
        if not self._aborted:
            self.outbox.put_nowait(event)

    def _reject(self, error: GatewayError, client_event_id: str | None = None) -> None:
        self._send(self._error_event(error, client_event_id))

    def summary(self) -> dict[str, Any]:
        times = self.message_times
        return {
            **self.session.summary(),
            "messages": times.count,
            "outbox_peak": self.outbox.peak,
            "chunk_ms_p50": round(times.percentile(0.5) * 1000, 3),
            "chunk_ms_p99": round(times.percentile(0.99) * 1000, 3),
            "chunk_ms_max": round(times.max_seconds * 1000, 3),
            "chunk_hist": times.to_json(),
            "close_code": self.close_code,
        }


def invalid_event(exc: Exception) -> InvalidRequest:
    """A client event that is not JSON or not a valid event of the protocol (it is ignored)."""
    kind = "not JSON" if isinstance(exc, msgspec.DecodeError) else "invalid"
    reason = str(exc)
    if "base64" in reason:
        reason += " (audio must be standard padded base64)"
    return InvalidRequest(f"event ignored, {kind}: {reason}")


class DeltaText:
    """Partial texts (each a whole new guess at the utterance) → append-only deltas.

    A delta cannot be taken back, so words go out only once two partials in a row agree on them (the
    model's guess at the start of an utterance settles as more audio arrives). The final then sends the
    words after those already sent, when it agrees with them (case and punctuation aside); the deltas
    then spell the final's words. When it does not, nothing more is sent: the final's own text (the
    `completed`/`done` event) is what counts."""

    def __init__(self) -> None:
        self._sent: dict[int, list[str]] = {}
        self._last: dict[int, list[str]] = {}

    def partial(self, segment_id: int, text: str) -> str:
        """The delta for a new partial of `segment_id` ("" when nothing can be sent yet)."""
        words = text.split()
        previous = self._last.get(segment_id)
        self._last[segment_id] = words
        if previous is None:
            return ""
        agreed = 0
        while agreed < min(len(words), len(previous)) and words[agreed] == previous[agreed]:
            agreed += 1
        return self._extend(segment_id, words[:agreed])

    def final(self, segment_id: int, text: str) -> str:
        """The last delta of `segment_id`, given its final text; forgets the segment."""
        delta = self._extend(segment_id, text.split())
        self._sent.pop(segment_id, None)
        self._last.pop(segment_id, None)
        return delta

    def _extend(self, segment_id: int, words: list[str]) -> str:
        sent = self._sent.get(segment_id, [])
        if len(words) <= len(sent) or [_plain(w) for w in words[: len(sent)]] != [_plain(w) for w in sent]:
            return ""
        self._sent[segment_id] = words
        return (" " if sent else "") + " ".join(words[len(sent) :])


def _plain(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())
