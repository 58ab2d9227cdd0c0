"""Parsing of request values: the rules of spec section 1, nothing else.

Values arrive as JSON numbers, strings, lists (repeated form fields) or JSON
arrays. Each parser either returns a clean Python value or raises
``InvalidField`` naming the field and the rule it broke.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from .errors import InvalidField, InvalidIdList

MAX_IDS_PER_CALL = 100
MAX_LINKS_PER_BULK = 100
MAX_TEXT_CHARS = 100_000  # comments, usernames lists
MAX_LINES = 10_000  # lines in a comments / usernames list
MAX_SHORT_TEXT_CHARS = 500  # username, hashtag, keywords...

_DIGITS = re.compile(r"[0-9]{1,18}")
_TRUE = {"1", "true"}
_FALSE = {"0", "false"}
# Control characters (C0, DEL and C1, e.g. the terminal escape U+009B) other
# than newline, carriage return and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def first(raw: object) -> object:
    """A repeated field used where one value is expected: the last one wins."""
    if isinstance(raw, list):
        return raw[-1] if raw else ""
    return raw


def parse_int(raw: object, field: str, *, lo: int | None = None, hi: int | None = None) -> int:
    raw = first(raw)
    if isinstance(raw, bool):
        raise InvalidField(field, "integer")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        raise InvalidField(field, "integer")
    if value < 0:
        raise InvalidField(field, "integer")
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise InvalidField(field, "range", min=lo, max=hi)
    if lo is not None and value < lo:
        raise InvalidField(field, "at_least", min=lo)
    if hi is not None and value > hi:
        raise InvalidField(field, "at_most", max=hi)
    return value


def parse_flag(raw: object, field: str) -> bool:
    raw = first(raw)
    if raw is True or raw is False:
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise InvalidField(field, "flag")


def parse_text(raw: object, field: str, *, max_chars: int = MAX_SHORT_TEXT_CHARS, multiline: bool = False) -> str:
    if type(raw) is str and len(raw) <= max_chars and raw.isascii() and raw.isprintable():
        # The usual value: printable ASCII has no control character and no
        # line break, so the rules below would only strip it; told without
        # their per-character search.
        return raw.strip()
    return text_by_rules(raw, field, max_chars=max_chars, multiline=multiline)


def text_by_rules(raw: object, field: str, *, max_chars: int = MAX_SHORT_TEXT_CHARS, multiline: bool = False) -> str:
    """``parse_text``'s rules, each checked (what its short cut must agree with)."""
    raw = first(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise InvalidField(field, "text")
    text = str(raw)
    if len(text) > max_chars:
        raise InvalidField(field, "too_long", max=max_chars)
    if _CONTROL.search(text) or (not multiline and ("\n" in text or "\r" in text)):
        raise InvalidField(field, "control_chars")
    return text.strip()


def parse_lines(raw: object, field: str) -> list[str]:
    """One entry per non-empty line (``\\n`` or ``\\r\\n``); a JSON array works too."""
    if isinstance(raw, list) and len(raw) > 1:
        items: Iterable[object] = raw
    else:
        items = parse_text(raw, field, max_chars=MAX_TEXT_CHARS, multiline=True).splitlines()
    lines = [parse_text(item, field, max_chars=MAX_TEXT_CHARS) for item in items]
    lines = [line for line in lines if line]
    if len(lines) > MAX_LINES:
        raise InvalidField(field, "too_many", max=MAX_LINES)
    return lines


_LIST_SEPARATORS = re.compile(r"[,\r\n]+")


def _split_text(text: str) -> list[str]:
    # str.split when there is no newline: the common case, and twice as fast as the regex.
    parts = text.split(",") if "\n" not in text and "\r" not in text else _LIST_SEPARATORS.split(text)
    return [part for part in map(str.strip, parts) if part]  # map: no generator frame per part


def split_list(raw: object, field: str) -> list[str]:
    """An id list given as a JSON array, repeated fields, or a comma/newline string.

    JSON numbers are taken as their digits; any other non-text item (null,
    true, an object) makes the whole list invalid."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.extend(_split_text(item))
        elif isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise InvalidIdList(field=field)
    return out


def bulk_items(raw: object) -> list[object]:
    """The links of ``addBulk``: only a single string is split (on commas and
    newlines). A JSON array or repeated ``links[]`` fields are already a list:
    each item is one link as given, never split (a URL may hold commas), and a
    non-text item is passed on as it is for the caller to refuse by itself."""
    if isinstance(raw, str):
        return list(_split_text(raw))
    items = raw if isinstance(raw, list) else [raw]
    out: list[object] = []
    for item in items:
        if isinstance(item, str):
            item = item.strip()
            if not item:
                continue
        out.append(item)
    return out


def parse_id_list(raw: object, field: str, *, limit: int = MAX_IDS_PER_CALL) -> list[tuple[str, int]]:
    """Ids as sent (for keying replies) with their value; duplicates answered once."""
    tokens = split_list(raw, field)
    if not tokens:
        raise InvalidIdList(field=field)
    seen: dict[str, int] = {}
    for token in tokens:
        if token not in seen:
            if not (token.isascii() and token.isdigit() and len(token) <= 18):  # _DIGITS, without a regex
                raise InvalidIdList(field=field)
            seen[token] = int(token)
    if len(seen) > limit:
        raise InvalidField(field, "too_many", max=limit)
    return list(seen.items())


def has_hidden_chars(text: str) -> bool:
    """Control characters, or invisible format characters (Unicode category
    Cf: bidi overrides and isolates, zero-width spaces and joiners, the BOM,
    soft hyphen, tag characters).

    Meant for links: there such a character makes one target look like
    another. Texts such as comments keep them (emoji need the zero-width
    joiner)."""
    if _CONTROL.search(text) is not None:
        return True
    return not text.isascii() and any(unicodedata.category(c) == "Cf" for c in text)


DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")


def parse_duration_s(raw: object, field: str, *, max_s: int) -> int:
    """A span like ``30m``, ``1h`` or ``2d`` (a whole number and one unit:
    s, m, h, d), in seconds, more than zero and at most ``max_s``."""
    found = _DURATION.fullmatch(first(raw).strip().lower()) if isinstance(first(raw), str) else None
    seconds = int(found.group(1)) * DURATION_UNITS_S[found.group(2)] if found else 0
    if not 0 < seconds <= max_s:
        raise InvalidField(field, "duration", max=format_duration(max_s))
    return seconds


def format_duration(seconds: int) -> str:
    """``seconds`` in the largest unit that divides it: 2592000 -> ``30d``."""
    for unit, size in sorted(DURATION_UNITS_S.items(), key=lambda item: -item[1]):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
