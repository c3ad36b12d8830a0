"""Chunk ids → chunks in stream order: duplicates dropped, small reorderings repaired, losses declared."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

import msgspec

T = TypeVar("T")


class SequenceNotice(msgspec.Struct, frozen=True):
    kind: Literal["duplicate", "late", "gap", "after_final"]
    chunk_id: int | None = None
    missing: list[int] | None = None
    """For a gap: the chunk ids declared lost."""


class Released(msgspec.Struct, Generic[T], frozen=True):
    ready: list[tuple[int, T]]
    """Chunks to process now, in order."""
    notices: list[SequenceNotice]


class ChunkSequencer(Generic[T]):
    """Orders chunks by id. Ids count up by one from 0 or 1 (a first id above 1 but within the window is
    taken as a reordering of a stream that starts at 1; further away, as the stream's start).

    A chunk ahead of a missing one waits until `window` chunks have piled up behind the hole or until
    `expire` is called past its deadline; then the hole is declared lost (a `gap` notice)."""

    def __init__(self, window: int, timeout_seconds: float):
        self.window = window
        self.timeout_seconds = timeout_seconds
        self._expected: int | None = None
        self._held: dict[int, tuple[T, float]] = {}
        self._lost: set[int] = set()
        self._final_id: int | None = None
        self.missing: list[int] = []
        """Every id declared lost so far, in order."""

    @property
    def finished(self) -> bool:
        """The final chunk and everything before it has been released (or declared lost)."""
        return self._final_id is not None and self._expected is not None and self._expected > self._final_id

    @property
    def deadline(self) -> float | None:
        """When the oldest held chunk stops waiting for the hole before it."""
        if not self._held:
            return None
        return min(arrived for _, arrived in self._held.values()) + self.timeout_seconds

    def offer(self, chunk_id: int, item: T, now: float, is_final: bool = False) -> Released[T]:
        notices: list[SequenceNotice] = []
        if self._final_id is not None and chunk_id > self._final_id:
            return Released([], [SequenceNotice("after_final", chunk_id)])
        if self._expected is None:
            self._expected = min(chunk_id, 1) if chunk_id <= 1 + self.window else chunk_id
        if chunk_id < self._expected or chunk_id in self._held:
            kind = "late" if chunk_id in self._lost else "duplicate"
            return Released([], [SequenceNotice(kind, chunk_id)])
        if is_final:
            self._final_id = chunk_id
        self._held[chunk_id] = (item, now)
        ready = self._release_consecutive()
        while self._held and (
            max(self._held) - self._expected > self.window or len(self._held) > self.window
        ):
            ready += self._skip_hole(notices)
        return Released(ready, notices)

    def expire(self, now: float) -> Released[T]:
        """Give up on holes whose followers have waited past the timeout."""
        notices: list[SequenceNotice] = []
        ready: list[tuple[int, T]] = []
        while (deadline := self.deadline) is not None and deadline <= now:
            ready += self._skip_hole(notices)
        return Released(ready, notices)

    def drain(self) -> Released[T]:
        """At the end of the stream: everything held, every hole before it (and before the final chunk)
        declared lost."""
        notices: list[SequenceNotice] = []
        ready: list[tuple[int, T]] = []
        while self._held:
            ready += self._skip_hole(notices)
        if self._final_id is not None and self._expected is not None and self._expected <= self._final_id:
            self._declare(list(range(self._expected, self._final_id + 1)), notices)
            self._expected = self._final_id + 1
        return Released(ready, notices)

    def _release_consecutive(self) -> list[tuple[int, T]]:
        assert self._expected is not None
        ready: list[tuple[int, T]] = []
        while self._expected in self._held:
            item, _ = self._held.pop(self._expected)
            ready.append((self._expected, item))
            self._expected += 1
        return ready

    def _skip_hole(self, notices: list[SequenceNotice]) -> list[tuple[int, T]]:
        assert self._expected is not None
        first_held = min(self._held)
        self._declare(list(range(self._expected, first_held)), notices)
        self._expected = first_held
        return self._release_consecutive()

    def _declare(self, missing: list[int], notices: list[SequenceNotice]) -> None:
        if missing:
            self._lost.update(missing)
            self.missing += missing
            notices.append(SequenceNotice("gap", missing=missing))
