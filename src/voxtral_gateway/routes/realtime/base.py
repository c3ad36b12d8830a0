"""What the realtime protocol adapters (OpenAI Realtime, Mistral realtime) share over a live session:
JSON events in, their error event, and partial texts turned into deltas."""

from __future__ import annotations

import abc
import re

import msgspec

from voxtral_gateway.errors import GatewayError, InvalidRequest
from voxtral_gateway.routes.live import LiveAdapter
from voxtral_gateway.services.live import LiveTranscription, TurnDetection


class RealtimeAdapter(LiveAdapter):
    """One realtime session: JSON events in (`_handle`), the session's events out (`_on_event`)."""

    def __init__(
        self, *, session_id: str, live: LiveTranscription, turn_detection: TurnDetection | None = None
    ):
        super().__init__(session_id=session_id, live=live, turn_detection=turn_detection)
        self._appends = 0

    @abc.abstractmethod
    async def _handle(self, text: str) -> bool:
        """One client event; True when it ends the input."""

    @abc.abstractmethod
    def _error_event(self, error: GatewayError, client_event_id: str | None = None) -> msgspec.Struct:
        """The protocol's `error` event."""

    async def _process_inbox(self) -> None:
        while True:
            item = await self._next_inbound()
            if item.data is not None:
                self._reject(InvalidRequest("binary frames are not part of this protocol; send JSON events"))
                ended = False
            else:
                assert item.text is not None
                ended = await self._handle(item.text)
            self._handled(item)
            if ended:
                return

    def _reject(self, error: GatewayError, client_event_id: str | None = None) -> None:
        self._send(self._error_event(error, client_event_id))


def invalid_event(exc: Exception) -> InvalidRequest:
    """A client event that is not JSON or not a valid event of the protocol (it is ignored); its
    `field` is the one at fault, when msgspec names it."""
    kind = "not JSON" if isinstance(exc, msgspec.DecodeError) else "invalid"
    reason = str(exc)
    if "base64" in reason:
        reason += " (audio must be standard padded base64)"
    field = _field_at_fault(reason) if isinstance(exc, msgspec.ValidationError) else None
    return InvalidRequest(f"event ignored, {kind}: {reason}", field=field)


_AT = re.compile(r" - at `\$\.?([^`]*)`")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]*)`")


def _field_at_fault(reason: str) -> str | None:
    """msgspec's "... - at `$.session.audio`" (and the unknown field's name) as a dotted path."""
    at = _AT.search(reason)
    path = at.group(1) if at else ""
    unknown = _UNKNOWN_FIELD.match(reason)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
    return path or None


class DeltaText:
    """Partial texts (each a whole new guess at the utterance) → append-only deltas.

    A delta cannot be taken back, so words go out only once two partials in a row agree on them (the
    model's guess at the start of an utterance settles as more audio arrives). The final then sends the
    words after those already sent, when it agrees with them (case and punctuation aside); the deltas
    then spell the final's words. When it does not, nothing more is sent: the final's own text (the
    `completed`/`done` event) is what counts. A streaming model's partials only grow, so their words go
    out as soon as the next word begins."""

    def __init__(self) -> None:
        self._sent: dict[int, list[str]] = {}
        self._last: dict[int, list[str]] = {}

    def partial(self, segment_id: int, text: str, growing: bool = False) -> str:
        """The delta for a new partial of `segment_id` ("" when nothing can be sent yet). A `growing`
        text (a streaming model's) needs no second opinion: all its words but the last, which may still
        be half a word, are sent at once."""
        words = text.split()
        if growing:
            return self._extend(segment_id, words[:-1])
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
