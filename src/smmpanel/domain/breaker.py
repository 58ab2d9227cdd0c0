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


# Words of a failure kept for the operator.
MAX_BREAKER_ERROR_CHARS = 200


class Breaker:
    def __init__(self, clock_s: Callable[[], int], *, failures: int = 0, open_for_s: int = 0,
                 open_until_s: int | None = None, error: str | None = None) -> None:
        self.clock_s = clock_s
        self.failures = failures  # failed calls in a row
        self.open_for_s = open_for_s  # how long it was last opened for (0: closed)
        self.open_until_s = open_until_s or 0
        self.error = error  # the last failure's words

    def snapshot(self) -> dict[str, Any]:
        """Its state as the provider's columns (kept so operators and other workers see it)."""
        return {"breaker_failures": self.failures, "breaker_open_for_s": self.open_for_s,
                "breaker_open_until_s": self.open_until_s or None, "breaker_error": self.error}

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
            self.failures, self.open_for_s, self.open_until_s, self.error = 0, 0, 0, None
            return
        self.failures += 1
        detail = getattr(outcome, "detail", None)
        if isinstance(outcome, dict):
            detail = getattr(next(iter(outcome.values())), "detail", None)
        self.error = None if detail is None else str(detail)[:MAX_BREAKER_ERROR_CHARS]
        if self.tripped and self.clock_s() >= self.open_until_s:
            self.open_for_s = min(BREAKER_MAX_OPEN_S, self.open_for_s * 2 or BREAKER_FIRST_OPEN_S)
            self.open_until_s = self.clock_s() + self.open_for_s
