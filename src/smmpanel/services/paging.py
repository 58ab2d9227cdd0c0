"""Keyset pagination of a customer's lists (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from ..domain import fields as f

DEFAULT_PAGE_ITEMS = 50
MAX_PAGE_ITEMS = 200

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_before_id: int | None  # pass as ``before_id`` for the next (older) page; None: this was the last


def check_limit(limit: object) -> int:
    return f.parse_int(limit, "limit", lo=1, hi=MAX_PAGE_ITEMS)


def check_before_id(before_id: object | None) -> int | None:
    return None if before_id is None else f.parse_int(before_id, "before_id", lo=1)


def page_of(rows: Sequence[T], limit: int) -> Page[T]:
    """``rows``: up to ``limit + 1`` items newest first, each with an ``id``
    (the extra one only says that more exist)."""
    items = list(rows[:limit])
    return Page(items, items[-1].id if len(rows) > limit else None)  # type: ignore[attr-defined]
