"""Live audio → utterances: the VAD and endpointer over a stream, holding only the audio still needed."""

from __future__ import annotations

from collections import deque

import msgspec
import numpy as np

from voxtral_gateway.audio import TARGET_SAMPLE_RATE
from voxtral_gateway.audio.vad import (
    Endpointer,
    EndpointRules,
    FrameVad,
    RegionClosed,
    RegionDropped,
    RegionOpened,
)


class UtteranceOpened(msgspec.Struct, frozen=True):
    segment_id: int
    start_sample: int


class Utterance(msgspec.Struct, frozen=True):
    """A finished utterance and its audio, ready to transcribe."""

    segment_id: int
    start_sample: int
    end_sample: int
    samples: np.ndarray
    """int16 at 16 kHz (a copy: the segmenter's buffer moves on)."""
    last_mark: int | None
    """The mark (a protocol's chunk id or frame number) of the input that carried the utterance's last
    sample."""
    reason: str
    """Why it ended: `silence`, `max_length`, `end_of_audio` or `commit` (the client ended the turn)."""

    @property
    def start(self) -> float:
        return self.start_sample / TARGET_SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.end_sample / TARGET_SAMPLE_RATE


class UtteranceDropped(msgspec.Struct, frozen=True):
    """An utterance that opened but held too little speech (a click, a breath)."""

    segment_id: int


SegmenterEvent = UtteranceOpened | Utterance | UtteranceDropped


class _SampleWindow:
    """The stream's samples from some absolute index on, in one growable array."""

    def __init__(self, capacity: int = TARGET_SAMPLE_RATE) -> None:
        self._initial = capacity
        self._data = np.empty(capacity, dtype=np.int16)
        self._offset = 0  # where sample `start` sits in `_data`
        self.start = 0
        self.end = 0

    def append(self, samples: np.ndarray) -> None:
        count = len(samples)
        length = self.end - self.start
        if self._offset + length + count > len(self._data):
            capacity = len(self._data)
            while length + count > capacity // 2:
                capacity *= 2
            data = np.empty(capacity, dtype=np.int16) if capacity != len(self._data) else self._data
            data[:length] = self._data[self._offset : self._offset + length]
            self._data, self._offset = data, 0
        begin = self._offset + length
        self._data[begin : begin + count] = samples
        self.end += count

    def view(self, start: int, end: int) -> np.ndarray:
        start, end = max(start, self.start), min(end, self.end)
        return self._data[self._offset + start - self.start : self._offset + end - self.start]

    def drop_before(self, index: int) -> None:
        index = min(max(index, self.start), self.end)
        self._offset += index - self.start
        self.start = index
        length = self.end - self.start
        if len(self._data) > 4 * max(self._initial, length):
            # Give back the memory of a long utterance once it is gone.
            data = np.empty(max(self._initial, 2 * length), dtype=np.int16)
            data[:length] = self._data[self._offset : self._offset + length]
            self._data, self._offset = data, 0

    @property
    def nbytes(self) -> int:
        return self._data.nbytes


class UtteranceSegmenter:
    """Push 16 kHz mono int16 samples as they are decoded; get utterances as soon as they end.

    Two ways to find turns: the VAD and endpointer (`manual=False`), or the client's own commits
    (`manual=True`: everything between two commits is one utterance, cut at `max_region_seconds`)."""

    def __init__(self, rules: EndpointRules, manual: bool = False):
        self._vad = FrameVad(TARGET_SAMPLE_RATE, rules.aggressiveness)
        self._rules = rules
        self._endpointer = Endpointer(rules)
        self._frame = self._vad.frame_samples
        self._window = _SampleWindow()
        self._marks: deque[tuple[int, int]] = deque()  # (end sample, mark)
        self._next_segment = 1
        self._open: int | None = None  # segment id of the utterance in progress
        self.manual = manual
        self._manual_start = 0  # manual mode: the first sample of the open utterance

    @property
    def rules(self) -> EndpointRules:
        return self._rules

    @property
    def total_samples(self) -> int:
        return self._window.end

    @property
    def last_segment_id(self) -> int:
        """The last segment id handed out (0 before the first)."""
        return self._next_segment - 1

    @property
    def held_bytes(self) -> int:
        """Memory held for audio (the buffer's capacity)."""
        return self._window.nbytes

    @property
    def open_segment(self) -> tuple[int, int] | None:
        """(segment id, first sample) of the utterance in progress."""
        if self.manual:
            return None if self._open is None else (self._open, self._manual_start)
        start = self._endpointer.open_start
        if self._open is None or start is None:
            return None
        return self._open, start * self._frame

    def open_audio(self) -> np.ndarray:
        """A copy of the audio of the utterance in progress so far (for a partial result)."""
        segment = self.open_segment
        if segment is None:
            return np.empty(0, dtype=np.int16)
        return self._window.view(segment[1], self._window.end).copy()

    def push(self, samples: np.ndarray, mark: int | None = None) -> list[SegmenterEvent]:
        if len(samples) == 0:
            return []
        self._window.append(samples)
        if mark is not None:
            self._marks.append((self._window.end, mark))
        if self.manual:
            return self._push_manual(len(samples))
        vad_from = self._endpointer.frames * self._frame
        whole = (self._window.end - vad_from) // self._frame * self._frame
        if whole == 0:
            return []
        events = self._events(
            self._endpointer.push(*self._vad.classify(self._window.view(vad_from, vad_from + whole)))
        )
        self._trim()
        return events

    def finish(self) -> list[SegmenterEvent]:
        """The utterance still open when the stream ends (its tail shorter than a VAD frame included)."""
        if self.manual:
            return self._close_manual("end_of_audio")
        return self._events(self._endpointer.finish(), at_end=True)

    def commit(self) -> list[SegmenterEvent]:
        """The client ends the turn: the utterance in progress ends here, with all its audio so far
        (nothing when none is open)."""
        if self.manual:
            return self._close_manual("commit")
        events = self._events(self._endpointer.close_now(), at_end=True)
        self._trim()
        return events

    def clear(self) -> list[SegmenterEvent]:
        """The client throws away the audio of the turn in progress: its utterance is dropped."""
        if self._open is None:
            return []
        dropped = UtteranceDropped(self._open)
        self._open = None
        if self.manual:
            self._manual_start = self._window.end
        else:
            self._endpointer.discard()
        self._trim()
        return [dropped]

    def reconfigure(self, rules: EndpointRules, manual: bool) -> None:
        """New turn rules from the next sample on; the utterance in progress must have been committed."""
        assert self._open is None, "commit the open utterance before changing the rules"
        previous = self._endpointer
        self._endpointer = Endpointer(rules)
        if self.manual:  # no VAD ran meanwhile: it starts again at the current sample
            self._endpointer.skip_to(self._window.end // self._frame)
        else:
            self._endpointer.continue_from(previous)
        if rules.aggressiveness != self._rules.aggressiveness:
            self._vad.set_aggressiveness(rules.aggressiveness)
        self._rules, self.manual = rules, manual
        self._manual_start = self._window.end
        self._trim()

    def _push_manual(self, count: int) -> list[SegmenterEvent]:
        events: list[SegmenterEvent] = []
        if self._open is None:
            self._open = self._next_segment
            self._next_segment += 1
            self._manual_start = self._window.end - count
            events.append(UtteranceOpened(self._open, self._manual_start))
        limit = round(self._rules.max_region_seconds * TARGET_SAMPLE_RATE)
        while self._window.end - self._manual_start >= limit:
            end = self._manual_start + limit
            events.append(self._utterance(self._manual_start, end, "max_length"))
            self._open = self._next_segment
            self._next_segment += 1
            self._manual_start = end
            events.append(UtteranceOpened(self._open, end))
        self._trim()
        return events

    def _close_manual(self, reason: str) -> list[SegmenterEvent]:
        if self._open is None:
            return []
        utterance = self._utterance(self._manual_start, self._window.end, reason)
        self._open = None
        self._manual_start = self._window.end
        self._trim()
        return [utterance]

    def _utterance(self, start: int, end: int, reason: str) -> Utterance:
        assert self._open is not None
        return Utterance(
            segment_id=self._open,
            start_sample=start,
            end_sample=end,
            samples=self._window.view(start, end).copy(),
            last_mark=self._mark_at(end),
            reason=reason,
        )

    def _events(self, raw: list, at_end: bool = False) -> list[SegmenterEvent]:
        events: list[SegmenterEvent] = []
        for event in raw:
            if isinstance(event, RegionOpened):
                self._open = self._next_segment
                self._next_segment += 1
                events.append(UtteranceOpened(self._open, event.start_frame * self._frame))
            elif isinstance(event, RegionClosed):
                assert self._open is not None
                start = event.start_frame * self._frame
                reaches_end = at_end and event.end_frame >= self._endpointer.frames
                end = self._window.end if reaches_end else event.end_frame * self._frame
                events.append(self._utterance(start, end, event.reason))
                self._open = None
            elif isinstance(event, RegionDropped):
                assert self._open is not None
                events.append(UtteranceDropped(self._open))
                self._open = None
        return events

    def _mark_at(self, end_sample: int) -> int | None:
        for mark_end, mark in self._marks:
            if mark_end >= end_sample:
                return mark
        return self._marks[-1][1] if self._marks else None

    def _trim(self) -> None:
        if self.manual:
            keep = self._manual_start if self._open is not None else self._window.end
        else:
            keep = self._endpointer.keep_from * self._frame
        self._window.drop_before(keep)
        while len(self._marks) > 1 and self._marks[0][0] <= keep:
            self._marks.popleft()
