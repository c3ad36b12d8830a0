"""Small statistics over repeated measurements."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile, `fraction` in [0, 1]."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float], spec: str = ".3g") -> str:
    """`min–max` of the runs, for the notes."""
    return f"{min(values):{spec}}–{max(values):{spec}}"
