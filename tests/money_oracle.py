"""The panel's one rounding rule, written independently of its code, for
tests to check it against: exact fractions, rounded once, half up.

charge = rate x units / 1000; partial refund = charge x remains / units;
resale rate = upstream rate x fx x (1 + markup/100), in micro-units.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

MICROS = 10**6


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` to the nearest integer, a half away from zero."""
    return round_half_up(Fraction(numerator, denominator))


def round_half_up(value: Fraction) -> int:
    whole, rest = divmod(abs(value.numerator), value.denominator)
    magnitude = whole + (1 if 2 * rest >= value.denominator else 0)
    return -magnitude if value < 0 else magnitude


def charge_for(rate_micros: int, units: int) -> int:
    return half_up(rate_micros * units, 1000)


def partial_refund(charge_micros: int, remains: int, units: int) -> int:
    return half_up(charge_micros * remains, units)


def resale_micros(rate: str | Decimal, fx: str | Decimal | int, markup: str | Decimal | int) -> int:
    """Our rate in micro-units for an upstream ``rate``, converted by ``fx`` and marked up."""
    exact = Fraction(Decimal(str(rate))) * Fraction(Decimal(str(fx))) * (1 + Fraction(Decimal(str(markup))) / 100)
    return round_half_up(exact * MICROS)
