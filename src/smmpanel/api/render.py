"""Spec section 5: how replies look in each dialect.

``standard``: money and counts as JSON strings, ids as integers.
``like3s``: money and counts as JSON numbers (exact: the decimal text is
inserted as a raw JSON number, never through a float).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..domain.money import formatter, plain


class Dialect:
    def __init__(self, name: str, currency: str) -> None:
        self.name = name
        self.currency = currency
        self.numbers = name == "like3s"
        self.lang = "vi" if name == "like3s" else "en"
        self.display = formatter(currency)

    def money(self, micros: int) -> Any:
        text = self.display(micros)
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
        # Spelled out per dialect (not via money()/count()): 100 of these make a multi-status reply.
        start, remains = row["start_count"], row["remains"]
        if self.numbers:
            return {"charge": self.money(row["net_micros"]), "start_count": int(start or 0), "status": row["status"],
                    "remains": int(remains or 0), "currency": self.currency}
        return {"charge": self.display(row["net_micros"]), "start_count": "0" if start is None else str(start),
                "status": row["status"], "remains": "0" if remains is None else str(remains),
                "currency": self.currency}

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
