"""Spec section 5: how replies look in each dialect.

``standard``: money and counts as JSON strings, ids as integers.
``like3s``: money and counts as JSON numbers (exact: the decimal text is
inserted as a raw JSON number, never through a float).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..domain.money import display, plain


class Dialect:
    def __init__(self, name: str, currency: str) -> None:
        self.name = name
        self.currency = currency
        self.numbers = name == "like3s"
        self.lang = "vi" if name == "like3s" else "en"

    def money(self, micros: int) -> Any:
        text = display(micros, self.currency)
        return orjson.Fragment(text.encode()) if self.numbers else text

    def rate(self, micros: int) -> Any:
        text = plain(micros)
        return orjson.Fragment(text.encode()) if self.numbers else text

    def count(self, value: int | None) -> Any:
        value = 0 if value is None else int(value)
        return value if self.numbers else str(value)

    def id_text(self, value: int) -> Any:
        """A single refill id: a string in standard (the Perfect Panel page), a number in like3s."""
        return value if self.numbers else str(value)

    def status(self, row) -> dict[str, Any]:
        return {
            "charge": self.money(row["net_micros"]),
            "start_count": self.count(row["start_count"]),
            "status": row["status"],
            "remains": self.count(row["remains"]),
            "currency": self.currency,
        }

    def service(self, row) -> dict[str, Any]:
        entry = {
            "service": row["id"],
            "name": row["name"],
            "type": row["type"],
            "category": row["category"],
            "rate": self.rate(row["rate_micros"]),
            "min": self.count(row["min"]),
            "max": self.count(row["max"]),
            "refill": bool(row["refill"]),
            "cancel": bool(row["cancel"]),
            "dripfeed": bool(row["dripfeed"]),
        }
        if row["description"]:
            entry["description"] = row["description"]
        return entry
