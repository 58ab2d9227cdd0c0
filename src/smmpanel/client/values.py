"""Tolerant reading of upstream values (spec section 6).

Upstreams send numbers as JSON numbers or as strings, booleans as ``true``,
``"1"`` or ``1``, ids as integers or numeric strings. Each reader here returns
a clean value or ``None`` ("not usable"); none of them ever goes through a
float: replies are parsed with ``parse_float=Decimal``, so ``0.1`` arrives as
``Decimal("0.1")`` exactly.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_ID_TEXT = re.compile(r"[0-9]{1,30}")
_TRUE_TEXTS = frozenset({"1", "true", "yes", "on"})
_FALSE_TEXTS = frozenset({"0", "false", "no", "off", ""})


class NotJson(ValueError):
    """The body is not a JSON document (or holds NaN/Infinity)."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"non-finite number {name}")


def loads(text: str) -> Any:
    """Parse JSON keeping every non-integer number an exact ``Decimal``."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotJson(str(exc)) from None


def to_decimal(raw: object) -> Decimal | None:
    """An exact amount from a JSON number or numeric string; never via float."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, float):  # only reachable for values not parsed by ``loads``
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
        return value if value.is_finite() else None
    return None


def to_int(raw: object) -> int | None:
    """A whole number from ``157``, ``"157"``, ``"-2"``, ``157.0``; else ``None``."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INT_TEXT.fullmatch(raw.strip()):
        return int(raw.strip())
    value = to_decimal(raw)
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
        return str(raw) if raw > 0 else None
    if isinstance(raw, str):
        text = raw.strip()
        if _ID_TEXT.fullmatch(text) and int(text) > 0:
            return str(int(text))
        return None
    if isinstance(raw, Decimal):
        value = to_int(raw)
        return str(value) if value is not None and value > 0 else None
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
