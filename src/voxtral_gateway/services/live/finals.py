"""Finals in stream order, whatever order their transcriptions finish in."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from voxtral_gateway.services.language import majority_language
from voxtral_gateway.services.live.events import Error, Final, LiveEvent, TurnDone


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
        self._turn_ends: deque[tuple[int, float]] = deque()  # (last segment id, audio seconds)
        self._turn_texts: list[str] = []
        self._turn_languages: list[str | None] = []
        self._turn_finals = 0
        self._turn_failed: list[int] = []

    def end_turn(self, last_segment_id: int, audio_seconds: float) -> None:
        """A turn ends after `last_segment_id`: a `TurnDone` follows that segment's outcome (at once if
        it is already out)."""
        self._turn_ends.append((last_segment_id, audio_seconds))
        self._turns_done()

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
                self._turn_finals += 1
                if ready.text:
                    self.texts.append(ready.text)
                    self._turn_texts.append(ready.text)
                if ready.language:
                    self.languages.append(ready.language)
                    self._turn_languages.append(ready.language)
            elif isinstance(ready, Error) and ready.segment_id is not None:
                self._turn_failed.append(ready.segment_id)
            if ready is not None:
                self._send(ready)
        self._turns_done()

    def _turns_done(self) -> None:
        while self._turn_ends and self._next > self._turn_ends[0][0]:
            _, audio_seconds = self._turn_ends.popleft()
            self._send(
                TurnDone(
                    text=" ".join(self._turn_texts),
                    language=majority_language(self._turn_languages),
                    segments=self._turn_finals,
                    audio_seconds=round(audio_seconds, 3),
                    failed_segment_ids=self._turn_failed,
                )
            )
            self._turn_texts, self._turn_languages, self._turn_finals, self._turn_failed = [], [], 0, []
