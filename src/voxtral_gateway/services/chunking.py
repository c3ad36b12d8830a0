"""Plan where to cut long audio: at pauses the VAD found, into segments no longer than a maximum."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec
import numpy as np

_QUIET_FRAME_SECONDS = 0.02


class Segment(msgspec.Struct, frozen=True):
    """A span of the original audio, in samples: [start, end)."""

    index: int
    start: int
    end: int


def plan_segments(
    samples: np.ndarray,
    sample_rate: int,
    speech: Sequence[tuple[float, float]],
    max_seconds: float,
    search_seconds: float,
) -> list[Segment]:
    """Contiguous segments covering all of `samples`, each at most `max_seconds` long.

    Each cut is placed in the middle of the longest pause (a gap between `speech` regions) within the
    last `search_seconds` before the limit; with no pause there, at the quietest 20 ms frame of that
    window, so a word is split only when the speaker never paused."""
    total = len(samples)
    max_len = int(max_seconds * sample_rate)
    window = int(min(search_seconds, max_seconds / 2) * sample_rate)
    pauses = _pauses(speech, total, sample_rate)
    cuts: list[int] = []
    start = 0
    while total - start > max_len:
        low, high = start + max_len - window, start + max_len
        cut = _cut_in_pause(pauses, low, high)
        if cut is None:
            cut = _quietest_point(samples, low, high, sample_rate)
        cuts.append(cut)
        start = cut
    bounds = [0, *cuts, total]
    return [Segment(index=i, start=a, end=b) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


def _pauses(speech: Sequence[tuple[float, float]], total: int, sample_rate: int) -> list[tuple[int, int]]:
    """The complement of the speech regions, in samples."""
    pauses: list[tuple[int, int]] = []
    cursor = 0
    for begin, end in sorted(speech):
        begin_sample, end_sample = int(begin * sample_rate), int(end * sample_rate)
        if begin_sample > cursor:
            pauses.append((cursor, begin_sample))
        cursor = max(cursor, end_sample)
    if cursor < total:
        pauses.append((cursor, total))
    return pauses


def _cut_in_pause(pauses: list[tuple[int, int]], low: int, high: int) -> int | None:
    best: tuple[int, int] | None = None
    for begin, end in pauses:
        clipped = (max(begin, low), min(end, high))
        if clipped[1] - clipped[0] <= 0:
            continue
        if best is None or clipped[1] - clipped[0] > best[1] - best[0]:
            best = clipped
    if best is None:
        return None
    return (best[0] + best[1]) // 2


def _quietest_point(samples: np.ndarray, low: int, high: int, sample_rate: int) -> int:
    frame = max(1, int(_QUIET_FRAME_SECONDS * sample_rate))
    count = (high - low) // frame
    if count == 0:
        return high
    frames = samples[low : low + count * frame].reshape(count, frame)
    energy = np.einsum("ij,ij->i", frames, frames)
    return low + int(np.argmin(energy)) * frame + frame // 2
