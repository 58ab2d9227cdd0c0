"""What the client returns: plain frozen values, money as exact ``Decimal``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..domain.status import Status


@dataclass(frozen=True)
class UpstreamService:
    """One entry of an upstream's ``services`` list.

    ``rate`` is the price per 1000 units in the upstream's currency, exact.
    Fields a panel leaves out get neutral defaults: ``type`` "Default",
    ``category`` "", flags ``False``.
    """

    service: str
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool | None  # None: the upstream's list doesn't say
    cancel: bool | None
    dripfeed: bool | None


@dataclass(frozen=True)
class RejectedService:
    """A catalog entry the client could not read: ``service`` quotes its id
    (possibly empty or garbage), ``reason`` says why."""

    service: str
    reason: str


@dataclass(frozen=True)
class Catalog:
    """An upstream's ``services`` list: the readable entries and the rejected ones."""

    services: list[UpstreamService]
    rejected: list[RejectedService]


@dataclass(frozen=True)
class UpstreamStatus:
    """An upstream order's state.

    ``status`` is ``None`` when the upstream's value is not one we can map
    without guessing (``raw_status`` keeps it, for the log and the operator):
    it must never be turned into a refund. ``charge``, ``start_count`` and
    ``remains`` are ``None`` when missing or not a number; ``remains`` may be
    negative (over-delivery), as upstreams report it.
    """

    status: Status | None
    raw_status: str
    charge: Decimal | None
    start_count: int | None
    remains: int | None


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    currency: str | None
