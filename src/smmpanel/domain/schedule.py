"""When the worker does things again: polling cadence and retry backoff.

Young orders move fast and are polled often; an order running for days is
polled rarely, so thousands of long orders don't crowd out new ones. Every
due time is a row value, and claims take the oldest due first, so nothing
starves.
"""

from __future__ import annotations

# (order age below, poll every): seconds
POLL_STEPS_S: tuple[tuple[int, int], ...] = (
    (10 * 60, 30),
    (60 * 60, 2 * 60),
    (24 * 60 * 60, 10 * 60),
)
POLL_SLOWEST_S = 30 * 60

PLACE_RETRY_FIRST_S = 5  # after a request that provably never left
PLACE_RETRY_MAX_S = 5 * 60
FUNDS_RETRY_S = 60  # how often an out-of-funds upstream is probed again
LEASE_MARGIN_S = 60  # a claim outlives the upstream timeout by this much


def poll_interval_s(age_s: int) -> int:
    for below_s, every_s in POLL_STEPS_S:
        if age_s < below_s:
            return every_s
    return POLL_SLOWEST_S


def retry_backoff_s(attempts: int) -> int:
    """Exponential from PLACE_RETRY_FIRST_S, capped."""
    return min(PLACE_RETRY_MAX_S, PLACE_RETRY_FIRST_S * 2 ** max(0, attempts - 1))
