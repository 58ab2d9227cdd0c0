"""The circuit breaker of one upstream (``domain.breaker``)."""

from __future__ import annotations

from smmpanel.client import ErrorKind, UpstreamError
from smmpanel.domain.breaker import (
    BREAKER_FIRST_OPEN_S,
    BREAKER_MAX_OPEN_S,
    BREAKER_TRIP_FAILURES,
    Breaker,
    is_line_failure,
)

TIMEOUT = UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "no complete reply within 60s")
REFUSED = UpstreamError(ErrorKind.UNREACHABLE, "connection refused")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def test_what_counts_as_a_failure_of_the_line() -> None:
    assert is_line_failure(TIMEOUT) and is_line_failure(REFUSED)
    assert not is_line_failure(UpstreamError(ErrorKind.UNREACHABLE, "429", http_status=429))  # it answered
    assert not is_line_failure(UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "HTTP 500", http_status=500))
    assert not is_line_failure(UpstreamError(ErrorKind.BAD_LINK, "Incorrect link"))
    assert not is_line_failure("12345")
    assert is_line_failure({"1": TIMEOUT, "2": TIMEOUT})
    assert not is_line_failure({"1": TIMEOUT, "2": None}) and not is_line_failure({})


def test_it_opens_after_failures_in_a_row_and_lets_calls_go_again_later() -> None:
    clock = Clock()
    breaker = Breaker(clock)
    for _ in range(BREAKER_TRIP_FAILURES - 1):
        breaker.record(TIMEOUT)
    breaker.record("1")  # an answer in between: not in a row
    for _ in range(BREAKER_TRIP_FAILURES - 1):
        breaker.record(TIMEOUT)
    assert breaker.allows() and breaker.state() == "closed"
    breaker.record(REFUSED)
    assert not breaker.allows() and breaker.state() == "open"
    breaker.record(TIMEOUT)  # a call still running when it opened does not extend it
    clock.now += BREAKER_FIRST_OPEN_S
    assert breaker.allows() and breaker.state() == "half-open"
    breaker.record(TIMEOUT)  # still failing: open twice as long
    assert breaker.open_for_s == 2 * BREAKER_FIRST_OPEN_S and not breaker.allows()
    clock.now += 2 * BREAKER_FIRST_OPEN_S
    breaker.record(UpstreamError(ErrorKind.BAD_LINK, "Incorrect link"))  # the upstream answers: closed
    assert breaker.state() == "closed" and breaker.failures == 0


def test_the_hold_is_capped() -> None:
    clock = Clock()
    breaker = Breaker(clock)
    for _ in range(50):
        breaker.record(TIMEOUT)
        clock.now = breaker.open_until_s
    assert breaker.open_for_s == BREAKER_MAX_OPEN_S
