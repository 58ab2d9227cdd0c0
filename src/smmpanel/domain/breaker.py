"""A circuit breaker per upstream: a provider whose calls keep failing at the
transport level (timeouts, refused or dropped connections) is held for a
while instead of costing every pass its full deadline.

Closed: calls go. After ``BREAKER_TRIP_FAILURES`` failed calls in a row it
opens for ``BREAKER_FIRST_OPEN_S``; when that is over, calls go again
(half-open): one answer closes it, one more failure opens it again for twice
as long, up to ``BREAKER_MAX_OPEN_S``. An answer is any reply the upstream
itself gave, a refusal included: the breaker judges the line, not the orders.
"""

from __future__ import annotations

from typing import Any, Callable

BREAKER_TRIP_FAILURES = 3
BREAKER_FIRST_OPEN_S = 30
BREAKER_MAX_OPEN_S = 10 * 60


def is_line_failure(outcome: Any) -> bool:
    """A call that got no reply from the upstream at all.

    ``outcome`` is what the client returned or raised: an error with a
    ``kind`` of unreachable / unknown_outcome and no HTTP status, or a dict of
    per-id results that are all such errors.
    """
    if isinstance(outcome, dict):
        return bool(outcome) and all(is_line_failure(v) for v in outcome.values())
    kind = getattr(getattr(outcome, "kind", None), "value", None)
    return kind in ("unreachable", "unknown_outcome") and getattr(outcome, "http_status", None) is None


class Breaker:
    def __init__(self, clock_s: Callable[[], int]) -> None:
        self.clock_s = clock_s
        self.failures = 0  # failed calls in a row
        self.open_for_s = 0  # how long it was last opened for (0: never / closed)
        self.open_until_s = 0

    @property
    def tripped(self) -> bool:
        return self.failures >= BREAKER_TRIP_FAILURES

    def allows(self) -> bool:
        return not self.tripped or self.clock_s() >= self.open_until_s

    def state(self) -> str:
        if not self.tripped:
            return "closed"
        return "open" if self.clock_s() < self.open_until_s else "half-open"

    def record(self, outcome: Any) -> None:
        if not is_line_failure(outcome):
            self.failures, self.open_for_s, self.open_until_s = 0, 0, 0
            return
        self.failures += 1
        if self.tripped and self.clock_s() >= self.open_until_s:
            self.open_for_s = min(BREAKER_MAX_OPEN_S, self.open_for_s * 2 or BREAKER_FIRST_OPEN_S)
            self.open_until_s = self.clock_s() + self.open_for_s
