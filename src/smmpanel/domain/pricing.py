"""Prices: what an order costs and what an imported service sells for.

All in micro-units (see ``money``); one rounding, half up, at the end.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

UNITS_PER_RATE = 1000  # rates are quoted per 1000 units


def _round_div(numerator: int, denominator: int) -> int:
    """Integer division rounded half up: exact, no Decimal context involved."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if remainder * 2 >= denominator else 0)


def charge_micros(rate_micros: int, units: int, *, flat: bool = False) -> int:
    """``rate x units / 1000`` (flat types: the rate itself)."""
    if flat:
        return rate_micros
    return _round_div(rate_micros * units, UNITS_PER_RATE)


def resale_rate_micros(upstream_rate_micros: int, fx: Decimal, markup_percent: Decimal) -> int:
    """Our rate for an imported service: upstream rate x fx x (1 + markup/100)."""
    value = Decimal(upstream_rate_micros) * fx * (1 + markup_percent / 100)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


MARGIN_STEP = Decimal("0.1")  # margins are shown to a tenth of a percent


def margin_percent(rate_micros: int, cost_micros: int | None) -> Decimal | None:
    """What is kept of the price, in percent of it: ``(rate - cost) / rate``.
    None when the cost is unknown (a service fulfilled by hand) or the price is 0."""
    if cost_micros is None or rate_micros <= 0:
        return None
    return (Decimal(100) * (rate_micros - cost_micros) / rate_micros).quantize(MARGIN_STEP, rounding=ROUND_HALF_UP)


def below_cost(rate_micros: int, cost_micros: int | None) -> bool:
    """Selling under the upstream's cost loses money on each order: the
    operator is asked to confirm (website) or warned (CLI)."""
    return cost_micros is not None and rate_micros < cost_micros
