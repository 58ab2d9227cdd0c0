"""Counts of the requests a client sent, by action and outcome.

Kept in memory with plain dict increments (a request costs no I/O more); the
owner takes them now and then and adds them up somewhere lasting (the worker:
the ``upstream_calls`` table, once per provider pass). Labels are bounded: the
actions of API v2 the client speaks, ``other`` for anything else, and the
``CallOutcome`` values.
"""

from __future__ import annotations

from .errors import CallOutcome

# The wire spelling of an action -> its label. ``orders`` is Like3s's spelling of a multi-status.
ACTION_LABELS = {
    "add": "add",
    "status": "status",
    "orders": "status",
    "cancel": "cancel",
    "refill": "refill",
    "refill_status": "refill_status",
    "balance": "balance",
    "services": "services",
}
OTHER_ACTION = "other"

Counts = dict[tuple[str, str], int]  # (action label, outcome value) -> requests


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, OTHER_ACTION)


class CallCounts:
    """Requests by (action label, outcome) since they were last taken."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: Counts = {}

    def note(self, action: str, outcome: CallOutcome) -> None:
        key = (action_label(action), outcome.value)
        self._counts[key] = self._counts.get(key, 0) + 1

    def take(self) -> Counts:
        """The counts so far, and start again from zero."""
        taken, self._counts = self._counts, {}
        return taken

    def give_back(self, counts: Counts) -> None:
        """Counts taken but not stored (the write failed): kept for the next time."""
        for key, n in counts.items():
            self._counts[key] = self._counts.get(key, 0) + n

    def peek(self) -> Counts:
        return dict(self._counts)
