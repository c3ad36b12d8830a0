"""Finals in stream order, whatever order their transcriptions finish in."""

from __future__ import annotations

from collections.abc import Callable

from voxtral_gateway.services.live.events import Error, Final, LiveEvent


class OrderedFinals:
    """Holds each utterance's outcome until every earlier utterance's has been sent.

    Segment ids are dense from 1; every id is resolved exactly once: with a final, an error (the model
    failed), or nothing (the utterance held no speech after all)."""

    def __init__(self, send: Callable[[LiveEvent], None]):
        self._send = send
        self._next = 1
        self._held: dict[int, Final | Error | None] = {}
        self.texts: list[str] = []
        self.languages: list[str | None] = []
        self.finals = 0
        self.failed: list[int] = []

    @property
    def next_segment(self) -> int:
        """The first segment id whose outcome has not been sent yet."""
        return self._next

    def final(self, message: Final) -> None:
        self._resolve(message.segment_id, message)

    def failed_segment(self, segment_id: int, error: Error) -> None:
        self.failed.append(segment_id)
        self._resolve(segment_id, error)

    def skip(self, segment_id: int) -> None:
        self._resolve(segment_id, None)

    def _resolve(self, segment_id: int, message: Final | Error | None) -> None:
        self._held[segment_id] = message
        while self._next in self._held:
            ready = self._held.pop(self._next)
            self._next += 1
            if isinstance(ready, Final):
                self.finals += 1
                if ready.text:
                    self.texts.append(ready.text)
                if ready.language:
                    self.languages.append(ready.language)
            if ready is not None:
                self._send(ready)
