"""Issue 7, defect 1: every upstream number is bounded before it is converted or computed with."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from smmpanel.client import NumberOutOfBounds
from smmpanel.client.values import OversizedNumber, loads, to_decimal, to_id, to_int

PROMPT_S = 0.5  # each conversion is constant time or linear in at most 64 characters


@pytest.mark.parametrize(
    "raw",
    ["1e99999999", "1e20", "1e30", "-1e30", "1e-99999999", Decimal("1e99999999"), 10**20, "9" * 100,
     "9" * 100_000, OversizedNumber("9" * 100_000)],
)
def test_a_number_past_the_bound_is_refused_at_once(raw: object) -> None:
    started = time.monotonic()
    for read in (to_decimal, to_int):
        with pytest.raises(NumberOutOfBounds, match="past the bound"):
            read(raw)
    assert to_id(raw) is None or isinstance(raw, int)  # a 21-digit JSON integer id is still an id
    assert time.monotonic() - started < PROMPT_S


@pytest.mark.parametrize(
    "raw, as_decimal, as_int",
    [("157", Decimal(157), 157), ("-2", Decimal(-2), -2), ("157.0", Decimal("157.0"), 157),
     ("0.0000001", Decimal("0.0000001"), None), ("0E-100000", Decimal(0), 0), (999_999_999_999_999_999,
     Decimal(999_999_999_999_999_999), 999_999_999_999_999_999), ("abc", None, None), ("NaN", None, None)],
)
def test_numbers_within_the_bound_read_as_before(raw: object, as_decimal: Decimal | None, as_int: int | None) -> None:
    assert to_decimal(raw) == as_decimal and to_int(raw) == as_int


def test_json_number_tokens_are_converted_only_when_short() -> None:
    started = time.monotonic()
    data = loads('{"a": %s, "b": %s, "c": 123456789012345678901234567890, "d": 1e99999999, "e": 12}'
                 % ("9" * 100_000, "1." + "0" * 100_000))
    assert time.monotonic() - started < PROMPT_S
    assert data["a"] == "9" * 24 + "…(100000 characters)" and isinstance(data["a"], OversizedNumber)
    assert isinstance(data["b"], OversizedNumber)
    assert data["c"] == Decimal("123456789012345678901234567890") and type(data["e"]) is int
    assert to_id(data["c"]) == "123456789012345678901234567890"  # an id is text: 30 digits are fine
    with pytest.raises(NumberOutOfBounds):
        to_int(data["d"])
