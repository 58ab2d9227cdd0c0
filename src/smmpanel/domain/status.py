"""The order status machine and the refund rule (spec sections 2 and 3).

Rules:
* A new order is Pending.
* Partial and Canceled are final: repeating one changes nothing, any other
  move is refused.
* Completed may still become Partial or Canceled (the refund is posted then);
  no other move leaves Completed.
* Pending, Processing and In progress may move anywhere.
* Refund: Canceled -> the whole charge; Partial -> charge x remains / units,
  with remains clamped to 0..units so a refund never exceeds the charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import InvalidField, StatusMoveRefused
from .pricing import _round_div


def _parse(cls, text: str, field: str):
    """An operator's spelling (any case, ``_`` for a space) of a member's value."""
    key = text.strip().lower().replace("_", " ")
    for member in cls:
        if member.value.lower() == key:
            return member
    raise InvalidField(field, "one_of", allowed=", ".join(m.value for m in cls))


class Status(str, Enum):
    PENDING = "Pending"
    PROCESSING = "Processing"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"

    @classmethod
    def parse(cls, text: str, field: str = "status") -> "Status":
        return _parse(cls, text, field)


FINAL = frozenset({Status.PARTIAL, Status.CANCELED})
REFUNDING = FINAL
ACTIVE = frozenset({Status.PENDING, Status.PROCESSING, Status.IN_PROGRESS})


class RefillStatus(str, Enum):
    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"

    @classmethod
    def parse(cls, text: str, field: str = "status") -> "RefillStatus":
        return _parse(cls, text, field)


REFILL_ACTIVE = frozenset({RefillStatus.PENDING, RefillStatus.IN_PROGRESS})


@dataclass(frozen=True)
class Move:
    """What applying a new status to an order does."""

    status: Status
    changed: bool  # False: a repeat of a final status, nothing is written
    refund_micros: int  # > 0 only on the move into Partial or Canceled


def refund_micros(status: Status, charge: int, units: int, remains: int | None) -> int:
    if status is Status.CANCELED:
        return charge
    if status is Status.PARTIAL:
        if units <= 0:
            return 0
        left = min(max(remains or 0, 0), units)
        return min(charge, _round_div(charge * left, units))
    return 0


def decide_move(current: Status, new: Status, *, charge: int, units: int, remains: int | None) -> Move:
    if current in FINAL:
        if new is current:
            return Move(current, changed=False, refund_micros=0)
        raise StatusMoveRefused(current=current.value, new=new.value)
    if current is Status.COMPLETED and new not in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED):
        raise StatusMoveRefused(current=current.value, new=new.value)
    refund = refund_micros(new, charge, units, remains) if new in REFUNDING else 0
    return Move(new, changed=True, refund_micros=refund)
