"""Chunk ordering: duplicates, reordering within the window, gaps declared by window, time or end."""

from __future__ import annotations

import pytest

from voxtral_gateway.routes.seed.stream_ordering import ChunkSequencer


def _ids(released) -> list[int]:
    return [chunk_id for chunk_id, _ in released.ready]


def _kinds(released) -> list[str]:
    return [notice.kind for notice in released.notices]


def test_in_order_chunks_pass_straight_through():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=4, timeout_seconds=1.0)
    assert [_ids(sequencer.offer(i, f"c{i}", 0.0)) for i in (1, 2, 3)] == [[1], [2], [3]]
    assert sequencer.missing == []


@pytest.mark.parametrize("first", [0, 1])
def test_the_stream_may_count_from_zero_or_one(first):
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=4, timeout_seconds=1.0)
    assert _ids(sequencer.offer(first, "a", 0.0)) == [first]
    assert _ids(sequencer.offer(first + 1, "b", 0.0)) == [first + 1]


def test_a_swap_within_the_window_is_repaired():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=4, timeout_seconds=1.0)
    sequencer.offer(1, "a", 0.0)
    assert _ids(sequencer.offer(3, "c", 0.0)) == []
    assert _ids(sequencer.offer(2, "b", 0.0)) == [2, 3]
    assert sequencer.missing == []


def test_a_first_chunk_that_is_not_the_first_waits_for_the_one_before():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=4, timeout_seconds=1.0)
    assert _ids(sequencer.offer(2, "b", 0.0)) == []
    assert _ids(sequencer.offer(1, "a", 0.0)) == [1, 2]


def test_duplicates_are_dropped_with_a_warning():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=4, timeout_seconds=1.0)
    sequencer.offer(1, "a", 0.0)
    released = sequencer.offer(1, "a again", 0.0)
    assert _ids(released) == [] and _kinds(released) == ["duplicate"]
    sequencer.offer(3, "c", 0.0)
    assert _kinds(sequencer.offer(3, "c again", 0.0)) == ["duplicate"]  # held, not yet released


def test_a_hole_is_declared_lost_once_the_window_is_full():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=3, timeout_seconds=60.0)
    sequencer.offer(1, "a", 0.0)
    for chunk_id in (3, 4, 5):
        assert _ids(sequencer.offer(chunk_id, "x", 0.0)) == []
    released = sequencer.offer(6, "x", 0.0)
    assert _ids(released) == [3, 4, 5, 6]
    assert released.notices[0].kind == "gap" and released.notices[0].missing == [2]
    assert sequencer.missing == [2]
    assert _kinds(sequencer.offer(2, "late", 0.0)) == ["late"]


def test_a_hole_is_declared_lost_after_the_timeout():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=8, timeout_seconds=2.0)
    sequencer.offer(1, "a", 10.0)
    sequencer.offer(4, "d", 10.5)
    assert sequencer.deadline == 12.5
    assert _ids(sequencer.expire(12.0)) == []
    released = sequencer.expire(12.5)
    assert _ids(released) == [4] and released.notices[0].missing == [2, 3]
    assert sequencer.deadline is None


def test_the_final_chunk_waits_for_earlier_ones_and_gaps_before_it_are_reported_at_the_end():
    sequencer: ChunkSequencer[str] = ChunkSequencer(window=8, timeout_seconds=2.0)
    sequencer.offer(1, "a", 0.0)
    sequencer.offer(2, "b", 0.0)
    assert _ids(sequencer.offer(5, "final", 0.0, is_final=True)) == []
    assert not sequencer.finished
    assert _ids(sequencer.offer(3, "c", 0.0)) == [3]
    released = sequencer.drain()
    assert _ids(released) == [5] and released.notices[0].missing == [4]
    assert sequencer.finished
    assert _kinds(sequencer.offer(6, "after", 0.0)) == ["after_final"]
