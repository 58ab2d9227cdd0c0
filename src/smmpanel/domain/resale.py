"""Which upstream catalog entries can be resold, at what terms, and why not (pure).

An upstream's list is untrusted input: one entry with a negative rate, a
limit past our columns, a price past the ledger's range or a price that
rounds to nothing must be refused on its own, with a reason an operator can
read, while the rest of the list imports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from .errors import InvalidField
from .money import MAX_AMOUNT_MICROS, MICROS_PER_UNIT, to_micros
from .ordertypes import TYPE_SPECS, ServiceType, Units
from .pricing import charge_micros, resale_rate_micros

MAX_QUANTITY = 2**31 - 1  # a service's min and max are 32-bit columns
MAX_AMOUNT_DIGITS = len(str(MAX_AMOUNT_MICROS)) - 1  # 10^17 micro-units


@dataclass(frozen=True)
class ResaleTerms:
    """What an upstream entry becomes in our catalog."""

    type: ServiceType
    rate_micros: int  # our price per 1000 (flat types: per order)
    cost_micros: int  # the upstream's price converted into the panel currency
    min: int
    max: int


def _past_ledger(exact_units: Decimal) -> bool:
    """Whether an amount is past the ledger's range; read from the exponent alone, before any
    rounding (a quantize of an absurd value would raise)."""
    return not exact_units.is_zero() and (exact_units * MICROS_PER_UNIT).adjusted() >= MAX_AMOUNT_DIGITS


def resale_terms(
    type_name: str, rate: Decimal, low: int, high: int, fx: Decimal, markup_percent: Decimal
) -> ResaleTerms | str:
    """Our terms for an upstream entry (rate per 1000 in the upstream's currency), or why it
    cannot be sold. ``min`` below 1 is read as 1, ``max`` below ``min`` as ``min``."""
    try:
        service_type = ServiceType.parse(type_name or "Default")
    except InvalidField:
        return f"unsupported type {type_name!r}"
    shown = plain_rate(rate)
    if rate < 0:
        return f"negative rate {shown}"
    low = max(1, low)
    high = max(low, high)
    if high > MAX_QUANTITY:
        return f"{'max' if high > low else 'min'} {high} is above the largest quantity a service takes ({MAX_QUANTITY})"
    too_dear = f"rate {shown}: an order of {high} would cost more than the ledger holds"
    if _past_ledger(rate * fx * (1 + markup_percent / 100)) or _past_ledger(rate * fx):
        return too_dear
    # The one rounding rule of ``pricing``/``money``: the exact upstream rate, rounded once.
    rate_micros = resale_rate_micros(rate * MICROS_PER_UNIT, fx, markup_percent)
    cost_micros = to_micros(rate * fx)
    flat = TYPE_SPECS[service_type].units is Units.FLAT
    if charge_micros(rate_micros, high, flat=flat) > MAX_AMOUNT_MICROS:
        return too_dear
    if rate_micros == 0:
        # A price of 0 sells the service for free: never imported silently.
        return (f"rate {shown} x fx {plain_rate(fx)} with markup {plain_rate(markup_percent)}% rounds to 0 "
                f"micro-units: it would sell for free")
    return ResaleTerms(service_type, rate_micros, cost_micros, low, high)


def plain_rate(value: Decimal) -> str:
    """An upstream decimal as an operator reads it (bounded by the client, so its digits are few)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def duplicated(ids: Iterable[str]) -> dict[str, int]:
    """The ids listed more than once, with how many times."""
    return {ident: n for ident, n in Counter(ids).items() if n > 1}
