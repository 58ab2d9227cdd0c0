"""Money: exact decimals, one scale, one rounding rule.

The rule (written once, used everywhere):

* Every amount the panel stores is a whole number of **micro-units** of the
  panel currency (10^-6: ``1.5 USD`` is ``1_500_000``). Both databases hold
  these as 64-bit integers, so no database ever rounds or floats a price.
* Every computed amount (a charge, a refund, a converted or marked-up rate)
  is rounded to the micro-unit **half up** (``ROUND_HALF_UP``) exactly once,
  at the end of its computation.
* Display rounds to the currency's own decimals, half up as well; display never
  feeds back into stored amounts.

Floats never touch money: parsing accepts ``str``, ``int`` and ``Decimal``
only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Callable

from .errors import InvalidField

MICROS_PER_UNIT = 1_000_000
SCALE = Decimal("0.000001")
# A balance or price beyond this is a typo, not money; it also keeps every sum
# far inside a signed 64-bit integer.
MAX_AMOUNT_MICROS = 10**17  # 100 billion units
MAX_AMOUNT = Decimal(MAX_AMOUNT_MICROS) / MICROS_PER_UNIT

# Decimals shown per currency. Unknown codes show 5 (the Perfect Panel habit).
CURRENCY_DECIMALS = {"USD": 5, "EUR": 5, "GBP": 5, "RUB": 2, "INR": 2, "VND": 0, "IDR": 0}
DEFAULT_DECIMALS = 5


def quantize(value: Decimal) -> Decimal:
    return value.quantize(SCALE, rounding=ROUND_HALF_UP)


def to_micros(value: Decimal) -> int:
    """Exact conversion of an amount (rounded by the rule) to micro-units."""
    return int(quantize(value) * MICROS_PER_UNIT)


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_UNIT).quantize(SCALE)


MAX_RATIO_DIGITS = 28  # an exchange rate or percentage is kept exactly, within Decimal's default precision


def parse_decimal(raw: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """An exact decimal (no rounding) without ever using a float: for ratios
    such as an exchange rate, where 0.0000412 must not become 0.000041."""
    if isinstance(raw, bool) or isinstance(raw, float):
        # A float has already lost digits; refuse rather than guess.
        raise InvalidField(field, "decimal")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise InvalidField(field, "decimal") from None
    else:
        raise InvalidField(field, "decimal")
    if not value.is_finite() or len(value.as_tuple().digits) > MAX_RATIO_DIGITS:
        raise InvalidField(field, "decimal")
    if value < 0 and not allow_negative:
        raise InvalidField(field, "not_negative")
    if abs(value) > MAX_AMOUNT:  # compared, not multiplied: 1e999999 must not overflow the context
        raise InvalidField(field, "too_large")
    return value


def parse_amount(raw: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """Parse an operator- or upstream-given amount of money: rounded to the
    micro-unit by the one rule."""
    value = parse_decimal(raw, field, allow_negative=allow_negative)
    amount = quantize(value)
    if value and not amount:
        # 0.00000049 would be stored as 0: a free service or an empty deposit nobody meant.
        raise InvalidField(field, "rounds_to_zero")
    return amount


def formatter(currency: str) -> Callable[[int], str]:
    """``display`` for one currency, its decimals looked up once.

    Integer arithmetic, not Decimal: a 100-order status reply formats 100
    amounts, and this is the hot path of it. Half up, away from zero, as
    ``ROUND_HALF_UP`` does.
    """
    decimals = CURRENCY_DECIMALS.get(currency.upper(), DEFAULT_DECIMALS)
    step = 10 ** (6 - decimals)
    half = step // 2
    scale = 10**decimals

    def show(micros: int) -> str:
        whole = (abs(micros) + half) // step  # in units of 10^-decimals
        sign = "-" if micros < 0 and whole else ""
        if not decimals:
            return f"{sign}{whole}"
        units, fraction = divmod(whole, scale)
        return f"{sign}{units}.{fraction:0{decimals}d}"

    return show


def display(micros: int, currency: str) -> str:
    """The amount as shown to customers: the currency's decimals, half up."""
    return formatter(currency)(micros)


def plain(micros: int) -> str:
    """The exact amount with trailing zeros dropped (for operators and JSON)."""
    text = format(from_micros(micros), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
