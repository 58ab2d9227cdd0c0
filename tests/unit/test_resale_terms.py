"""``domain.resale``: which upstream catalog entries can be sold, and the reason when not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.domain.ordertypes import ServiceType
from smmpanel.domain.resale import MAX_QUANTITY, ResaleTerms, duplicated, resale_terms

D = Decimal


def test_a_good_entry_is_priced_by_the_one_rounding_rule() -> None:
    terms = resale_terms("Default", D("1234.5"), 100, 1000000, D("0.00004"), D("12.5"))
    assert terms == ResaleTerms(ServiceType.DEFAULT, 55_553, 49_380, 100, 1000000)


def test_limits_are_read_as_before_min_at_least_1_and_max_at_least_min() -> None:
    terms = resale_terms("Default", D("1"), 0, -5, D(1), D(0))
    assert isinstance(terms, ResaleTerms) and (terms.min, terms.max) == (1, 1)


@pytest.mark.parametrize(
    "type_name, rate, low, high, fx, markup, reason",
    [
        ("Default", "-1", 10, 100, "1", "0", "negative rate -1"),
        ("Default", "1", 10, MAX_QUANTITY + 1, "1", "0",
         f"max {MAX_QUANTITY + 1} is above the largest quantity a service takes ({MAX_QUANTITY})"),
        ("Default", "1", MAX_QUANTITY + 1, 5, "1", "0",
         f"min {MAX_QUANTITY + 1} is above the largest quantity a service takes ({MAX_QUANTITY})"),
        ("Default", "999999999999", 10, 100, "1", "0", "rate 999999999999: an order of 100 would cost more than the ledger holds"),
        ("Default", "1000000000", 10, 10**9, "1", "0",
         "rate 1000000000: an order of 1000000000 would cost more than the ledger holds"),
        ("Default", "0", 10, 100, "1", "0", "rate 0 x fx 1 with markup 0% rounds to 0 micro-units: it would sell for free"),
        ("Default", "0.0000004", 10, 100, "1", "0",
         "rate 0.0000004 x fx 1 with markup 0% rounds to 0 micro-units: it would sell for free"),
        ("Default", "0.01", 10, 100, "0.00004", "20",
         "rate 0.01 x fx 0.00004 with markup 20% rounds to 0 micro-units: it would sell for free"),
        ("Drip", "1", 10, 100, "1", "0", "unsupported type 'Drip'"),
    ],
)
def test_an_entry_that_cannot_be_sold_says_why(type_name, rate, low, high, fx, markup, reason) -> None:
    assert resale_terms(type_name, D(rate), low, high, D(fx), D(markup)) == reason


def test_a_tiny_rate_with_enough_markup_is_a_real_price() -> None:
    terms = resale_terms("Default", D("0.0000004"), 10, 100, D(1), D(100))
    assert isinstance(terms, ResaleTerms) and (terms.rate_micros, terms.cost_micros) == (1, 0)


def test_a_flat_package_is_checked_at_its_own_price_not_per_unit() -> None:
    terms = resale_terms("Package", D("50000000"), 1, 1, D(1), D(0))
    assert isinstance(terms, ResaleTerms) and terms.rate_micros == 50_000_000_000_000


def test_duplicated_ids() -> None:
    assert duplicated(["1", "2", "1", "3", "1", "2"]) == {"1": 3, "2": 2}
    assert duplicated(["1", "2"]) == {}
