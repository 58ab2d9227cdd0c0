"""Rate limits: ``N/unit`` over fixed windows aligned on the clock, so that
every server process counts into the same windows.

``Windows`` is the decision, kept in memory: known hits (what the shared
store last said, this process's included) plus hits not yet shared. A request
is refused when those reach the limit. Several processes learn each other's
hits each time they share theirs, so together they may let through at most
one sharing interval's worth of requests per process beyond the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PERIODS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
MAX_HITS = 10**9  # far past any real limit; keeps the parsed number sane
# Buckets tracked per window. Past it (a flood of made-up API keys, each its
# own bucket) new buckets go uncounted rather than growing memory without end;
# a made-up key is refused by the API anyway.
MAX_BUCKETS_PER_WINDOW = 100_000


@dataclass(frozen=True)
class RateLimit:
    hits: int
    period_s: int

    def __str__(self) -> str:
        unit = next(name for name, seconds in PERIODS_S.items() if seconds == self.period_s)
        return f"{self.hits}/{unit}"


def parse_rate_limit(text: str) -> RateLimit | None:
    """``"3000/minute"`` -> RateLimit; ``"0"`` -> None (no limit). Raises
    ValueError naming the accepted form."""
    text = text.strip().lower()
    if text in ("0", "off"):
        return None
    count, _, unit = text.partition("/")
    unit = unit.strip().removesuffix("s")
    if not count.strip().isdigit() or unit not in PERIODS_S or not 0 < int(count) <= MAX_HITS:
        raise ValueError(f"must be N/second, N/minute, N/hour or N/day with 1 <= N <= {MAX_HITS}, or 0 for none")
    return RateLimit(int(count), PERIODS_S[unit])


class Windows:
    """Per bucket, the current window's [known, pending] hits."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._window = -1
        self._counts: dict[str, list[int]] = {}

    def window_of(self, now_s: float) -> int:
        return int(now_s // self.limit.period_s)

    def hit(self, bucket: str, now_s: float) -> float | None:
        """Count one request; None when allowed, else the seconds until the
        window ends (the ``Retry-After``)."""
        window = self.window_of(now_s)
        if window != self._window:
            self._window, self._counts = window, {}
        counts = self._counts.get(bucket)
        if counts is None:
            if len(self._counts) >= MAX_BUCKETS_PER_WINDOW:
                return None
            counts = self._counts[bucket] = [0, 0]
        if counts[0] + counts[1] >= self.limit.hits:
            return (window + 1) * self.limit.period_s - now_s
        counts[1] += 1
        return None

    def pending(self) -> tuple[int, dict[str, int]]:
        """The current window and its hits not yet shared, per bucket."""
        return self._window, {bucket: c[1] for bucket, c in self._counts.items() if c[1]}

    def shared(self, window: int, sent: dict[str, int], totals: dict[str, int]) -> None:
        """The store took ``sent`` hits of ``window`` and now holds ``totals``
        (every process's). Hits counted meanwhile stay pending."""
        if window != self._window:
            return  # a new window began meanwhile: those counts are gone
        for bucket, total in totals.items():
            counts = self._counts.get(bucket)
            if counts is not None:
                counts[0] = total
                counts[1] -= sent.get(bucket, 0)


def whole_seconds(seconds: float) -> int:
    """A wait as ``Retry-After`` gives it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))
