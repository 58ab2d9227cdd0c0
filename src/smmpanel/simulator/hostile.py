"""Hostile modes: a simulated upstream that lies, stalls and contradicts itself (issue 7).

A mode stays on until turned off (or for ``count`` requests it applies to),
and may be limited to some orders (``orders``) or, for the timing modes, to
one action (``action``). Switch them in-process (``sim.enable(mode, ...)``,
``sim.disable(mode)``), over HTTP (``POST /control/mode``, see ``control``)
or from the CLI (``smmpanel simulate mode NAME``).

==================================== ============= ==============================================================
mode                                 requests      what the client gets
==================================== ============= ==============================================================
huge_remains                         status        ``remains`` = ``1e99999999`` (a short text, an absurd number)
huge_start_count                     status        ``start_count`` = ``1e99999999``
overflow_remains                     status        ``remains`` = ``1e20`` (past any 64-bit column)
overflow_start_count                 status        ``start_count`` = ``1e30``
completed_with_remains               status        ``Completed`` while ``remains`` is still above 0
code_completed_with_remains          status        numeric code ``2`` (Completed) with ``remains`` above 0
partial_negative_remains             status        ``Partial`` with ``remains`` -50
partial_remains_above_quantity       status        ``Partial`` with ``remains`` 5 x the quantity
partial_huge_remains                 status        ``Partial`` with ``remains`` ``1e9``
over_delivery                        status        ``Completed`` with ``remains`` ``-2`` (as the seed pages show)
empty_multi_status                   multi status  ``{}`` (default once: then the panel recovers)
huge_order_id                        add           the order is created; the reply is ``{"order": 1e99999999}``
created_then_429                     add           the order is created; the reply is HTTP 429 "Too many requests"
slow                                 any/action    the correct reply after ``delay_s`` (default ``slow_s``)
drip                                 any/action    the correct reply, its body dripped out over ``delay_s``
catalog_negative_rate                services      an extra entry with rate ``-1``
catalog_duplicate_id                 services      the first service listed twice (the copy with another rate)
catalog_huge_rate                    services      an extra entry with rate ``1e30``
catalog_huge_max                     services      an extra entry with max 10^20
catalog_tiny_rate                    services      an extra entry with rate ``0.0000001``
catalog_absurd_numbers               services      three extra entries: ``1e99999999`` as rate, as min, as max
==================================== ============= ==============================================================

Numbers are written in the profile's style: a string (``"1e99999999"``) on a
panel that sends strings, a bare JSON number (``1e99999999``) on one that
sends numbers (Like3s). The lies are in the replies only: the simulated
panel's own books (balance, refunds) stay as they were.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Iterable

from .faults import ANY_ACTION

HUGE_NUMBER = "1e99999999"
OVERFLOW_REMAINS = "1e20"
OVERFLOW_START_COUNT = "1e30"
NEGATIVE_REMAINS = -50
ABOVE_QUANTITY_FACTOR = 5
PARTIAL_HUGE_REMAINS = "1e9"
OVER_DELIVERY_REMAINS = "-2"
COMPLETED_CODE = 2
# Bad catalog entries get ids from here up, so they never collide with a profile's own.
BAD_SERVICE_FIRST_ID = 9001
NEGATIVE_RATE = "-1"
HUGE_RATE = "1e30"
HUGE_MAX = 10**20
TINY_RATE = "0.0000001"

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class RawNumber(str):
    """A number written into a reply verbatim as a JSON number token (``1e99999999``)."""

    def __new__(cls, text: str) -> "RawNumber":
        if not _JSON_NUMBER.fullmatch(text):
            raise ValueError(f"not a JSON number: {text!r}")
        return super().__new__(cls, text)


def is_number_text(text: str) -> bool:
    return bool(_JSON_NUMBER.fullmatch(text))


class Mode(str, Enum):
    HUGE_REMAINS = "huge_remains"
    HUGE_START_COUNT = "huge_start_count"
    OVERFLOW_REMAINS = "overflow_remains"
    OVERFLOW_START_COUNT = "overflow_start_count"
    COMPLETED_WITH_REMAINS = "completed_with_remains"
    CODE_COMPLETED_WITH_REMAINS = "code_completed_with_remains"
    PARTIAL_NEGATIVE_REMAINS = "partial_negative_remains"
    PARTIAL_REMAINS_ABOVE_QUANTITY = "partial_remains_above_quantity"
    PARTIAL_HUGE_REMAINS = "partial_huge_remains"
    OVER_DELIVERY = "over_delivery"
    EMPTY_MULTI_STATUS = "empty_multi_status"
    HUGE_ORDER_ID = "huge_order_id"
    CREATED_THEN_429 = "created_then_429"
    SLOW = "slow"
    DRIP = "drip"
    CATALOG_NEGATIVE_RATE = "catalog_negative_rate"
    CATALOG_DUPLICATE_ID = "catalog_duplicate_id"
    CATALOG_HUGE_RATE = "catalog_huge_rate"
    CATALOG_HUGE_MAX = "catalog_huge_max"
    CATALOG_TINY_RATE = "catalog_tiny_rate"
    CATALOG_ABSURD_NUMBERS = "catalog_absurd_numbers"


STATUS_LIES = frozenset(
    {
        Mode.HUGE_REMAINS, Mode.HUGE_START_COUNT, Mode.OVERFLOW_REMAINS, Mode.OVERFLOW_START_COUNT,
        Mode.COMPLETED_WITH_REMAINS, Mode.CODE_COMPLETED_WITH_REMAINS, Mode.PARTIAL_NEGATIVE_REMAINS,
        Mode.PARTIAL_REMAINS_ABOVE_QUANTITY, Mode.PARTIAL_HUGE_REMAINS, Mode.OVER_DELIVERY,
    }
)
CATALOG_LIES = frozenset(
    {
        Mode.CATALOG_NEGATIVE_RATE, Mode.CATALOG_DUPLICATE_ID, Mode.CATALOG_HUGE_RATE, Mode.CATALOG_HUGE_MAX,
        Mode.CATALOG_TINY_RATE, Mode.CATALOG_ABSURD_NUMBERS,
    }
)
ADD_LIES = frozenset({Mode.HUGE_ORDER_ID, Mode.CREATED_THEN_429})
TIMING_MODES = frozenset({Mode.SLOW, Mode.DRIP})
# Modes that are naturally a one-off: the panel misbehaves once, then recovers.
ONCE_BY_DEFAULT = frozenset({Mode.EMPTY_MULTI_STATUS})

MODE_HELP = {
    Mode.HUGE_REMAINS: "status: remains 1e99999999",
    Mode.HUGE_START_COUNT: "status: start_count 1e99999999",
    Mode.OVERFLOW_REMAINS: "status: remains 1e20",
    Mode.OVERFLOW_START_COUNT: "status: start_count 1e30",
    Mode.COMPLETED_WITH_REMAINS: "status: Completed while remains > 0",
    Mode.CODE_COMPLETED_WITH_REMAINS: "status: code 2 (Completed) while remains > 0",
    Mode.PARTIAL_NEGATIVE_REMAINS: "status: Partial with remains -50",
    Mode.PARTIAL_REMAINS_ABOVE_QUANTITY: "status: Partial with remains 5 x quantity",
    Mode.PARTIAL_HUGE_REMAINS: "status: Partial with remains 1e9",
    Mode.OVER_DELIVERY: "status: Completed with remains -2",
    Mode.EMPTY_MULTI_STATUS: "multi-status: {} (once by default, then recovery)",
    Mode.HUGE_ORDER_ID: "add: order created, reply {\"order\": 1e99999999}",
    Mode.CREATED_THEN_429: "add: order created, reply HTTP 429",
    Mode.SLOW: "any action (or --action): reply after delay_s",
    Mode.DRIP: "any action (or --action): body dripped out over delay_s",
    Mode.CATALOG_NEGATIVE_RATE: "services: an entry with rate -1",
    Mode.CATALOG_DUPLICATE_ID: "services: the first service listed twice",
    Mode.CATALOG_HUGE_RATE: "services: an entry with rate 1e30",
    Mode.CATALOG_HUGE_MAX: "services: an entry with max 10^20",
    Mode.CATALOG_TINY_RATE: "services: an entry with rate 0.0000001",
    Mode.CATALOG_ABSURD_NUMBERS: "services: 1e99999999 as rate, min and max",
}


def parse_mode(name: str) -> Mode:
    try:
        return Mode(name.strip().lower().replace("-", "_"))
    except ValueError:
        raise ValueError(f"unknown mode {name!r}; choose one of: {', '.join(m.value for m in Mode)}") from None


def applies_to(mode: Mode, action: str, multi_status: bool) -> bool:
    """Whether ``mode`` acts on a request of ``action`` (``multi_status``: a many-orders status request)."""
    if mode in STATUS_LIES:
        return action in ("status", "orders")
    if mode is Mode.EMPTY_MULTI_STATUS:
        return multi_status
    if mode in CATALOG_LIES:
        return action == "services"
    if mode in ADD_LIES:
        return action == "add"
    return True  # timing modes: their own ``action`` filter decides


@dataclass(frozen=True)
class ModeSetting:
    mode: Mode
    count: int | None = None  # requests left; None: until turned off
    action: str = ANY_ACTION  # timing modes only
    delay_s: float | None = None  # timing modes only
    orders: frozenset[int] | None = None  # status lies only: these orders (None: every order)

    def covers(self, order_id: int) -> bool:
        return self.orders is None or order_id in self.orders

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["mode"] = self.mode.value
        data["orders"] = None if self.orders is None else sorted(self.orders)
        return data


class HostileModes:
    """The modes switched on, thread-safe (a test or the control endpoint switches, the server reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on: dict[Mode, ModeSetting] = {}

    def enable(
        self,
        mode: Mode | str,
        *,
        count: int | None = None,
        action: str | None = None,
        delay_s: float | None = None,
        orders: Iterable[int] | None = None,
    ) -> ModeSetting:
        chosen = mode if isinstance(mode, Mode) else parse_mode(mode)
        if count is None and chosen in ONCE_BY_DEFAULT:
            count = 1
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        if delay_s is not None and delay_s < 0:
            raise ValueError("delay_s must not be negative")
        if action not in (None, ANY_ACTION) and chosen not in TIMING_MODES:
            raise ValueError(f"action applies to the timing modes only ({', '.join(m.value for m in TIMING_MODES)})")
        if orders is not None and chosen not in STATUS_LIES:
            raise ValueError("orders applies to the status modes only")
        setting = ModeSetting(chosen, count, action or ANY_ACTION, delay_s,
                              None if orders is None else frozenset(int(o) for o in orders))
        with self._lock:
            self._on[chosen] = setting
        return setting

    def disable(self, mode: Mode | str) -> bool:
        chosen = mode if isinstance(mode, Mode) else parse_mode(mode)
        with self._lock:
            return self._on.pop(chosen, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._on.clear()

    def active(self) -> list[ModeSetting]:
        with self._lock:
            return list(self._on.values())

    def take(self, action: str, multi_status: bool) -> dict[Mode, ModeSetting]:
        """The modes acting on this request; each one's ``count`` is used up by one."""
        taken: dict[Mode, ModeSetting] = {}
        with self._lock:
            for mode, setting in list(self._on.items()):
                if not applies_to(mode, action, multi_status):
                    continue
                if setting.action not in (ANY_ACTION, action):
                    continue
                taken[mode] = setting
                if setting.count is not None:
                    if setting.count <= 1:
                        del self._on[mode]
                    else:
                        self._on[mode] = ModeSetting(mode, setting.count - 1, setting.action, setting.delay_s,
                                                     setting.orders)
        return taken
