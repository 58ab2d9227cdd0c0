"""Tolerant reading of upstream values (spec section 6).

Upstreams send numbers as JSON numbers or as strings, booleans as ``true``,
``"1"`` or ``1``, ids as integers or numeric strings. Each reader here returns
a clean value or ``None`` ("not usable"); none of them ever goes through a
float: replies are parsed with ``parse_float=Decimal``, so ``0.1`` arrives as
``Decimal("0.1")`` exactly.

Every number is bounded before anything is computed with it (``limits``):
a JSON number token longer than ``MAX_NUMBER_CHARS`` is never converted (an
``OversizedNumber``), an integer token past ``MAX_NUMBER_DIGITS`` digits is
kept as a ``Decimal`` (never ``int``), and ``to_decimal``/``to_int`` raise
``NumberOutOfBounds`` for a number whose text is too long or whose size is
past ``10^MAX_NUMBER_DIGITS`` (or a non-zero one below ``10^-MAX_FRACTION_DIGITS``).
The caller makes that a protocol error of the one item. ``to_id`` answers
``None`` for an id past ``MAX_ID_DIGITS`` digits (no usable id).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import NumberOutOfBounds
from .limits import MAX_FRACTION_DIGITS, MAX_ID_DIGITS, MAX_NUMBER_CHARS, MAX_NUMBER_DIGITS

_ID_TEXT = re.compile(r"[0-9]{1,%d}" % MAX_ID_DIGITS)
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_QUOTE_CHARS = 24  # how much of an absurd number an error quotes
_TRUE_TEXTS = frozenset({"1", "true", "yes", "on"})
_FALSE_TEXTS = frozenset({"0", "false", "no", "off", ""})


class NotJson(ValueError):
    """The body is not a JSON document (or holds NaN/Infinity)."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"non-finite number {name}")


class OversizedNumber(str):
    """A JSON number token longer than ``MAX_NUMBER_CHARS``, never converted: it reads as its
    first characters and its length, and every number reader refuses it as past the bound."""

    def __new__(cls, token: str) -> "OversizedNumber":
        return super().__new__(cls, f"{token[:_QUOTE_CHARS]}…({len(token)} characters)")


def _json_int(text: str) -> int | Decimal | OversizedNumber:
    """A JSON integer token: ``int`` only within the bound (``int()`` of a long one is slow, and
    refused past Python's digit limit; a big one breaks 64-bit encoders); a longer one an exact
    ``Decimal`` for the bound check; an oversized one is not converted at all."""
    if len(text) > MAX_NUMBER_CHARS:
        return OversizedNumber(text)
    return int(text) if len(text.lstrip("-")) <= MAX_NUMBER_DIGITS else Decimal(text)


def _json_float(text: str) -> Decimal | OversizedNumber:
    return OversizedNumber(text) if len(text) > MAX_NUMBER_CHARS else Decimal(text)


def loads(text: str) -> Any:
    """Parse JSON keeping every non-integer number an exact ``Decimal`` (an oversized one an
    ``OversizedNumber``)."""
    try:
        return json.loads(text, parse_float=_json_float, parse_int=_json_int, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotJson(str(exc)) from None


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"


def _bounded(value: Decimal) -> Decimal | None:
    """``value`` when finite and within the bounds (constant time: only the exponent is read)."""
    if not value.is_finite():
        return None
    if value.is_zero():
        return Decimal(0)
    if not -MAX_FRACTION_DIGITS <= value.adjusted() < MAX_NUMBER_DIGITS:
        raise NumberOutOfBounds(_quote(str(value)))
    return value


def _bounded_int(value: int) -> int:
    if abs(value) >= 10**MAX_NUMBER_DIGITS:
        digits = value.bit_length() * 30103 // 100000 + 1  # about log10(2) digits per bit; str() may be refused
        raise NumberOutOfBounds(_quote(str(value)) if digits <= MAX_NUMBER_CHARS else f"an integer of ~{digits} digits")
    return value


def to_decimal(raw: object) -> Decimal | None:
    """An exact amount from a JSON number or numeric string; never via float.

    Raises ``NumberOutOfBounds`` for a number past the bounds."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, float):  # only reachable for values not parsed by ``loads``
        return None
    if isinstance(raw, int):
        return Decimal(_bounded_int(raw))
    if isinstance(raw, Decimal):
        return _bounded(raw)
    if isinstance(raw, OversizedNumber):
        raise NumberOutOfBounds(str(raw))
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if len(text) > MAX_NUMBER_CHARS:
            if _NUMBER_TEXT.fullmatch(text):
                raise NumberOutOfBounds(_quote(text))
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
        return _bounded(value)
    return None


def to_int(raw: object) -> int | None:
    """A whole number from ``157``, ``"157"``, ``"-2"``, ``157.0``; else ``None``.

    Raises ``NumberOutOfBounds`` for a number past the bounds."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return _bounded_int(raw)
    value = to_decimal(raw)  # bounded: the conversions below are cheap
    if value is not None and value == value.to_integral_value():
        return int(value)
    return None


def to_bool(raw: object) -> bool | None:
    """``true``/``1``/``"1"``/``"true"`` -> True; the false spellings -> False; else None."""
    if raw is True or raw is False:
        return raw
    if raw is None:
        return False
    if isinstance(raw, int):
        return raw != 0
    if isinstance(raw, Decimal):
        return raw != 0
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE_TEXTS:
            return True
        if text in _FALSE_TEXTS:
            return False
    return None


def to_id(raw: object) -> str | None:
    """An upstream id (order, refill, service) as a canonical decimal string.

    Accepts a positive integer, a numeric string (surrounding spaces and
    leading zeros dropped) or an integral JSON number; anything else is not an
    id we can trust.
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return str(raw) if 0 < raw < 10**MAX_ID_DIGITS else None
    if isinstance(raw, str):
        text = raw.strip()
        if _ID_TEXT.fullmatch(text) and int(text) > 0:
            return str(int(text))
        return None
    if isinstance(raw, Decimal):
        # Bounded by the exponent first: the int() below is then cheap.
        if raw.is_finite() and 0 <= raw.adjusted() < MAX_ID_DIGITS and raw > 0 and raw == raw.to_integral_value():
            return str(int(raw))
        return None
    return None


def to_text(raw: object) -> str:
    """A display string for any JSON value (names, categories, raw statuses)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, Decimal)):
        return str(raw)
    return json.dumps(raw, default=str, ensure_ascii=False)
