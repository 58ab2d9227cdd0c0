"""The in-memory state of a simulated panel: orders, refills, balance, counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from ..domain.status import Status

FINAL_WORDS = frozenset({"partial", "canceled", "cancelled", "completed"})
REFILLABLE_WORDS = frozenset({"completed", "partial"})
ACTIVE_REFILL_WORDS = frozenset({"pending", "in progress"})


def canonical(status: str) -> Status | None:
    """Our status for a stored raw value (a test may store any text, even ``"Fail"`` or ``"4"``)."""
    word = status.strip().lower().replace("_", " ")
    if word == "cancelled":
        word = "canceled"
    for member in Status:
        if member.value.lower() == word:
            return member
    return None


@dataclass
class SimOrder:
    id: int
    service: int
    link: str
    quantity: int  # units charged (quantity x runs, comment lines, 1 for a package)
    charge: Decimal
    params: Mapping[str, object]
    status: str = Status.PENDING.value
    remains: int = 0
    start_count: int = 0
    refunded: Decimal = Decimal(0)
    changed_at_s: float = 0.0  # the simulator's clock at the last change (auto-progress counts from it)
    # Values reported verbatim instead of the fields above (``"1e99999999"``...), by field name.
    reported: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.remains = self.quantity


@dataclass
class SimRefill:
    id: int
    order_id: int
    status: str = "Pending"


@dataclass(frozen=True)
class CreatedOrder:
    """An order the panel created, with the parameters it received (key and action removed)."""

    order_id: int
    params: Mapping[str, object]


@dataclass(frozen=True)
class OrderView:
    """A copy of an order's state, safe to read from another thread."""

    id: int
    service: int
    link: str
    quantity: int
    charge: Decimal
    status: str
    remains: int
    start_count: int
    refunded: Decimal
    params: Mapping[str, object]
    reported: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Counters:
    requests: Counter[str] = field(default_factory=Counter)
    created: list[CreatedOrder] = field(default_factory=list)
