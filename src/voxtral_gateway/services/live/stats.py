"""A small mergeable latency histogram: per-stream numbers that add up across streams and workers."""

from __future__ import annotations

import math

_FLOOR_SECONDS = 1e-5
_STEPS_PER_DOUBLING = 8  # buckets about 9 % wide
_LOG_BASE = math.log(2) / _STEPS_PER_DOUBLING


class LatencyHistogram:
    """Log-spaced buckets from 10 µs; a percentile is accurate to a bucket's width (±4.5 %)."""

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})
        self.count = sum(self.counts.values())
        self.max_seconds = 0.0

    def record(self, seconds: float) -> None:
        bucket = max(0, int(math.log(max(seconds, _FLOOR_SECONDS) / _FLOOR_SECONDS) / _LOG_BASE))
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.count += 1
        self.max_seconds = max(self.max_seconds, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, count in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + count
        self.count += other.count
        self.max_seconds = max(self.max_seconds, other.max_seconds)

    def percentile(self, fraction: float) -> float:
        """Seconds below which `fraction` (0–1) of the recorded values fall (a bucket's midpoint)."""
        if self.count == 0:
            return 0.0
        rank = fraction * self.count
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                value = _FLOOR_SECONDS * math.exp((bucket + 0.5) * _LOG_BASE)
                return min(value, self.max_seconds) if self.max_seconds else value
        return self.max_seconds

    def to_json(self) -> dict[str, int]:
        """Sparse buckets, for a log line (`LatencyHistogram.from_json` reads them back)."""
        return {str(bucket): count for bucket, count in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> LatencyHistogram:
        return cls({int(bucket): count for bucket, count in data.items()})
