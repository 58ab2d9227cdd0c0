"""``Simulator``: an in-memory upstream panel speaking API v2 in one profile's dialect.

The core is ``respond(method, path, query, content_type, body) -> Reply``:
pure request-in, reply-out, with injected faults expressed in the ``Reply``
(``outcome`` "drop"/"hang", ``delay_s``). ``handle`` is the same without
timing (``(status, body)``, raising ``SimulatedDisconnect`` for a drop or a
hang), ``mock_transport`` serves it to ``httpx`` in-process, and
``SimulatorServer`` (``smmpanel.simulator.server``) over a real socket.

Every public method is thread-safe: a test drives the panel from its own
thread while a ``SimulatorServer`` serves it from another.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable

import anyio
import httpx

from ..domain.status import Status
from . import render, texts
from .faults import BEFORE_EXECUTION, Fault, FaultQueue, PlannedFault
from .hostile import (
    ABOVE_QUANTITY_FACTOR,
    BAD_SERVICE_FIRST_ID,
    COMPLETED_CODE,
    HUGE_MAX,
    HUGE_NUMBER,
    HUGE_RATE,
    NEGATIVE_RATE,
    NEGATIVE_REMAINS,
    OVER_DELIVERY_REMAINS,
    OVERFLOW_REMAINS,
    OVERFLOW_START_COUNT,
    PARTIAL_HUGE_REMAINS,
    TINY_RATE,
    HostileModes,
    Mode,
    ModeSetting,
    RawNumber,
    is_number_text,
)
from .profiles import PROFILES, Profile, SimService
from .requests import Params, Unreadable, read_params
from .state import (
    ACTIVE_REFILL_WORDS,
    Counters,
    CreatedOrder,
    OrderView,
    SimOrder,
    SimRefill,
    canonical,
)

DEFAULT_KEY = "sim-key"
DEFAULT_HANG_S = 60.0  # longer than any sane client timeout
DEFAULT_SLOW_S = 2.0
API_PATH = "/api/v2"
CONTROL_PATH = "/control"
# Auto-progress: the start count an order shows once it is under way.
AUTO_START_COUNT = 1000
MAX_IDS = 100
MAX_LINKS = 100
MAX_LINK_CHARS = 2048
MIN_RUNS = 2
INTERVAL_MINUTES = (1, 1440)
UNITS_PER_RATE = 1000

_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)
_HANDLE = re.compile(r"@?[\w.\-]{1,100}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_ID_SEPARATORS = re.compile(r"[,\s]+")
_FLAT_TYPES = frozenset({"Package", "Custom Comments Package"})
_LINE_TYPES = {"Custom Comments": "comments", "Mentions Custom List": "usernames"}


@dataclass(frozen=True)
class Reply:
    """What the panel does with one request.

    ``outcome``: "reply" (send ``status``/``body`` after ``delay_s``), "drop"
    (close the connection without a reply after ``delay_s``) or "hang" (say
    nothing for ``delay_s``, then close). ``drip_s``: the body goes out a few
    bytes at a time over that many seconds (after the headers).
    """

    status: int
    body: bytes
    content_type: str = render.JSON_CONTENT_TYPE
    delay_s: float = 0.0
    outcome: str = "reply"
    drip_s: float = 0.0


class SimulatedDisconnect(Exception):
    """``handle`` cannot express a drop or a hang as ``(status, body)``."""

    def __init__(self, hang: bool) -> None:
        super().__init__("no reply (hang)" if hang else "connection dropped")
        self.hang = hang


class _Refusal(Exception):
    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _first(raw: object) -> object:
    return raw[-1] if isinstance(raw, list) and raw else raw


def _int(raw: object) -> int | None:
    raw = _first(raw)
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        return int(raw.strip())
    return None


def _present(params: Params, name: str) -> bool:
    raw = _first(params.get(name))
    return raw is not None and str(raw).strip() != ""


def _lines(raw: object) -> list[str]:
    raw = _first(raw)
    if not isinstance(raw, str):
        return []
    return [line.strip() for line in raw.replace("\r\n", "\n").split("\n") if line.strip()]


def _link_ok(link: str) -> bool:
    return len(link) <= MAX_LINK_CHARS and bool(_URL.fullmatch(link) or _HANDLE.fullmatch(link))


class Simulator:
    """A simulated upstream panel (see the module docstring and ``profiles``)."""

    def __init__(
        self,
        profile: Profile,
        *,
        key: str = DEFAULT_KEY,
        balance: Decimal | int | str | None = None,
        hang_s: float = DEFAULT_HANG_S,
        slow_s: float = DEFAULT_SLOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self.key = key
        self.hang_s = hang_s
        self.slow_s = slow_s
        self._clock = clock
        self._auto_progress_s: float | None = None
        self._modes = HostileModes()
        self._lies: dict[Mode, ModeSetting] = {}  # the modes acting on the request being answered
        self._lock = threading.RLock()
        self._balance = Decimal(str(balance)) if balance is not None else profile.balance
        self._services: dict[int, SimService] = {s.id: s for s in profile.services}
        self._orders: dict[int, SimOrder] = {}
        self._refills: dict[int, SimRefill] = {}
        self._next_order = profile.first_order_id
        self._next_refill = 1
        self._faults = FaultQueue()
        self._counters = Counters()
        self._actions: dict[str, Callable[[Params], Any]] = {
            "services": self._do_services,
            "balance": self._do_balance,
            "add": self._do_add,
            "addBulk": self._do_add_bulk,
            "status": self._do_status,
            "orders": self._do_orders,
            "refill": self._do_refill,
            "refill_status": self._do_refill_status,
            "cancel": self._do_cancel,
        }

    def __repr__(self) -> str:
        return f"Simulator({self.profile.name!r})"

    # ================================================================== test control

    def set_order(
        self,
        order_id: int | str,
        *,
        status: Status | str | int | None = None,
        remains: int | str | None = None,
        start_count: int | str | None = None,
        charge: Decimal | int | str | None = None,
    ) -> None:
        """Change an order as the upstream would. ``status`` may be any raw value
        (``"Cancelled"``, ``"Fail"``, ``4``...): it is reported as given. Moving
        into Canceled or Partial refunds our balance there, once.

        ``remains``/``start_count`` may be text, reported as given in the
        profile's number style (``"1e99999999"``, ``"-2"``); ``RawNumber``
        forces a bare JSON number. The panel's own refund uses them only when
        they are plain whole numbers."""
        with self._lock:
            order = self._order(order_id)
            for name, value in (("remains", remains), ("start_count", start_count)):
                if value is None:
                    continue
                whole = value if isinstance(value, int) else _int(value)
                if whole is not None and not isinstance(value, RawNumber):
                    setattr(order, name, whole)
                    order.reported.pop(name, None)
                else:
                    order.reported[name] = value
            if charge is not None:
                order.charge = Decimal(str(charge))
            if status is not None:
                order.status = status.value if isinstance(status, Status) else status  # type: ignore[assignment]
                self._settle(order)
            order.changed_at_s = self._clock()

    def set_refill(self, refill_id: int | str, status: str) -> None:
        with self._lock:
            refill = self._refills.get(int(refill_id))
            if refill is None:
                raise KeyError(f"no refill {refill_id}")
            refill.status = status

    def set_balance(self, amount: Decimal | int | str) -> None:
        with self._lock:
            self._balance = Decimal(str(amount))

    def inject(self, action: str, fault: Fault | str, count: int = 1, *, delay_s: float | None = None) -> None:
        """Make the next ``count`` requests of ``action`` (``"*"``: any) fail with ``fault``."""
        self._faults.add(action, fault, count, delay_s)

    def clear_faults(self) -> None:
        self._faults.clear()

    def enable(self, mode: Mode | str, *, orders: Iterable[int | str] | None = None, **options: Any) -> ModeSetting:
        """Switch a hostile mode on (see ``hostile``): until ``disable``, or for
        ``count`` requests it acts on; ``orders`` limits a status lie to those
        orders, ``action`` a timing mode to that action (``delay_s``: how long)."""
        return self._modes.enable(mode, orders=None if orders is None else [int(o) for o in orders], **options)

    def disable(self, mode: Mode | str) -> bool:
        """Switch a hostile mode off; False when it was not on."""
        return self._modes.disable(mode)

    def clear_modes(self) -> None:
        self._modes.clear()

    @property
    def modes(self) -> list[ModeSetting]:
        """The hostile modes switched on."""
        return self._modes.active()

    def auto_progress(self, interval_s: float | None) -> None:
        """Move every unfinished order one step each ``interval_s`` (None: stop):
        Pending -> In progress -> half delivered -> Completed."""
        if interval_s is not None and interval_s <= 0:
            raise ValueError("interval_s must be positive")
        with self._lock:
            self._progress()  # what is due under the old cadence happens first
            now = self._clock()
            for order in self._orders.values():  # the new cadence counts from now
                order.changed_at_s = now
            self._auto_progress_s = interval_s

    @property
    def auto_progress_s(self) -> float | None:
        return self._auto_progress_s

    @property
    def pending_faults(self) -> int:
        return self._faults.pending()

    # ================================================================== observation

    @property
    def balance(self) -> Decimal:
        with self._lock:
            return self._balance

    @property
    def add_requests(self) -> int:
        """How many ``add`` requests arrived (faulted or refused ones included)."""
        return self.request_count("add")

    def request_count(self, action: str) -> int:
        with self._lock:
            return self._counters.requests[action]

    @property
    def requests(self) -> dict[str, int]:
        """Requests per action (``"?"``: no readable action)."""
        with self._lock:
            return dict(self._counters.requests)

    @property
    def created_orders(self) -> list[CreatedOrder]:
        """Every order created (``add`` and ``addBulk``), in order, with the parameters received."""
        with self._lock:
            return list(self._counters.created)

    def order(self, order_id: int | str) -> OrderView:
        with self._lock:
            o = self._order(order_id)
            self._progress()
            return OrderView(o.id, o.service, o.link, o.quantity, o.charge, str(o.status), o.remains,
                             o.start_count, o.refunded, dict(o.params), dict(o.reported))

    def orders(self) -> list[OrderView]:
        with self._lock:
            return [self.order(i) for i in self._orders]

    def refills(self) -> list[SimRefill]:
        with self._lock:
            return [replace(r) for r in self._refills.values()]

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.requests.clear()

    # ================================================================== the core

    def respond(self, method: str, path: str, query: str, content_type: str, body: bytes) -> Reply:
        """One request -> what the panel does (faults and hostile modes included)."""
        route = path.rstrip("/")
        if route == CONTROL_PATH or route.startswith(CONTROL_PATH + "/"):
            from .control import handle_control  # the control side needs the panel, not the reverse

            status, data = handle_control(self, method, route[len(CONTROL_PATH):], query, body)
            return Reply(status, json.dumps(data).encode())
        if route != API_PATH:
            return Reply(404, render.NOT_FOUND_PAGE, render.HTML_CONTENT_TYPE)
        with self._lock:
            self._progress()
            params = read_params(self.profile, method, query, content_type, body)
            action = "" if isinstance(params, Unreadable) else str(_first(params.get("action")) or "")
            self._counters.requests[action or "?"] += 1
            planned = self._faults.take(action)
            if planned is not None and planned.fault in BEFORE_EXECUTION:
                return self._faulted(planned, None)
            multi = not isinstance(params, Unreadable) and self._is_multi_status(action, params)
            self._lies = self._modes.take(action, multi) if action in self.profile.actions else {}
            try:
                reply = self._hostile_reply(self._execute(params))
            finally:
                self._lies = {}
            return reply if planned is None else self._faulted(planned, reply)

    def _is_multi_status(self, action: str, params: Params) -> bool:
        return action == "orders" or (action == "status" and self.profile.status_takes_orders and "orders" in params)

    def _hostile_reply(self, reply: Reply) -> Reply:
        """The timing and HTTP lies of the modes acting on this request."""
        if Mode.CREATED_THEN_429 in self._lies and reply.status == 200:
            reply = Reply(429, render.TOO_MANY_REQUESTS_BODY)
        slow = self._lies.get(Mode.SLOW)
        if slow is not None:
            reply = replace(reply, delay_s=slow.delay_s if slow.delay_s is not None else self.slow_s)
        drip = self._lies.get(Mode.DRIP)
        if drip is not None:
            reply = replace(reply, drip_s=drip.delay_s if drip.delay_s is not None else self.slow_s)
        return reply

    def _progress(self) -> None:
        """Auto-progress: apply every step that is due by now."""
        interval = self._auto_progress_s
        if interval is None:
            return
        now = self._clock()
        for order in self._orders.values():
            while now - order.changed_at_s >= interval and self._step(order):
                order.changed_at_s += interval

    @staticmethod
    def _step(order: SimOrder) -> bool:
        """One auto-progress step; False when the order is finished (nothing moves it)."""
        status = canonical(str(order.status))
        if status in (Status.PENDING, Status.PROCESSING):
            order.status = Status.IN_PROGRESS.value
            order.start_count = AUTO_START_COUNT
        elif status is Status.IN_PROGRESS and order.remains > order.quantity // 2:
            order.remains = order.quantity // 2
        elif status is Status.IN_PROGRESS:
            order.status, order.remains = Status.COMPLETED.value, 0
        else:
            return False
        order.reported.clear()
        return True

    def handle(self, method: str, path: str, query: str, content_type: str, body: bytes) -> tuple[int, bytes]:
        """``respond`` without timing; a drop or hang raises ``SimulatedDisconnect``."""
        reply = self.respond(method, path, query, content_type, body)
        if reply.outcome != "reply":
            raise SimulatedDisconnect(hang=reply.outcome == "hang")
        return reply.status, reply.body

    def mock_transport(self) -> httpx.MockTransport:
        """This panel as an in-process ``httpx`` transport.

        A hang raises ``httpx.ReadTimeout`` at once, a drop
        ``httpx.RemoteProtocolError``; ``slow`` really waits.
        """

        async def serve(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            reply = self.respond(
                request.method, request.url.path, request.url.query.decode(),
                request.headers.get("content-type", ""), body,
            )
            if reply.outcome == "hang":
                raise httpx.ReadTimeout("simulated: no reply in time", request=request)
            if reply.delay_s:
                await anyio.sleep(reply.delay_s)
            if reply.outcome == "drop":
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            headers = {"Content-Type": reply.content_type}
            if reply.drip_s:
                return httpx.Response(reply.status, content=_dripped(reply), headers=headers)
            return httpx.Response(reply.status, content=reply.body, headers=headers)

        return httpx.MockTransport(serve)

    # ================================================================== plumbing

    def _faulted(self, planned: PlannedFault, executed: Reply | None) -> Reply:
        fault = planned.fault
        if fault in (Fault.TIMEOUT_BEFORE_CREATE, Fault.TIMEOUT_AFTER_CREATE):
            return Reply(0, b"", delay_s=planned.delay_s if planned.delay_s is not None else self.hang_s,
                         outcome="hang")
        if fault in (Fault.DROP_BEFORE_CREATE, Fault.DROP_AFTER_CREATE):
            return Reply(0, b"", delay_s=planned.delay_s or 0.0, outcome="drop")
        if fault in (Fault.HTTP_500, Fault.HTTP_500_AFTER_CREATE):
            return Reply(500, render.SERVER_ERROR_PAGE, render.HTML_CONTENT_TYPE, delay_s=planned.delay_s or 0.0)
        if fault is Fault.GARBLED:
            return Reply(200, render.GARBLED_BODY, render.HTML_CONTENT_TYPE, delay_s=planned.delay_s or 0.0)
        assert executed is not None
        return replace(executed, delay_s=planned.delay_s if planned.delay_s is not None else self.slow_s)

    def _text(self, code: str, **params: object) -> str:
        return texts.text(code, self.profile.language, self.profile.text_overrides, **params)

    def _error(self, code: str, **params: object) -> Reply:
        return Reply(200, render.dumps({"error": self._text(code, **params)}))

    def _execute(self, params: Params | Unreadable) -> Reply:
        if isinstance(params, Unreadable):
            if self.profile.garbage_on_bad_body:
                return Reply(200, render.BAD_BODY_PAGE, render.HTML_CONTENT_TYPE)
            return self._error("incorrect_request")
        key, action = _first(params.get("key")), _first(params.get("action"))
        if not key or not action:
            return self._error("incorrect_request")
        if key != self.key:
            return self._error("invalid_key")
        if action not in self.profile.actions:
            return self._error("invalid_action")
        try:
            data = self._actions[str(action)](params)
        except _Refusal as refusal:
            return self._error(refusal.code, **refusal.params)
        return Reply(200, render.dumps(data))

    def _num(self, value: Decimal | int | str) -> object:
        """Money and counts in the profile's style (text: a hostile value, written as given)."""
        if isinstance(value, RawNumber):
            return value
        if isinstance(value, str):
            if self.profile.numbers_as_strings or not is_number_text(value):
                return value
            return RawNumber(value)
        if self.profile.numbers_as_strings:
            return render.plain(value) if isinstance(value, Decimal) else str(value)
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        return value

    def _money(self, value: Decimal) -> Decimal:
        return value.quantize(Decimal(1).scaleb(-self.profile.money_places), rounding=ROUND_HALF_UP)

    def _order(self, order_id: int | str) -> SimOrder:
        order = self._orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _settle(self, order: SimOrder) -> None:
        """Refund what the order's status calls for, minus what was already refunded."""
        status = canonical(str(order.status))
        if status is Status.CANCELED:
            target = order.charge
        elif status is Status.PARTIAL and order.quantity > 0:
            left = min(max(order.remains, 0), order.quantity)
            target = self._money(order.charge * left / order.quantity)
        else:
            return
        due = target - order.refunded
        if due > 0:
            order.refunded += due
            self._balance += due

    def _ids(self, raw: object, field: str) -> list[str]:
        if isinstance(raw, list):
            tokens = [str(t).strip() for t in raw]
        elif isinstance(raw, (str, int)) and not isinstance(raw, bool):
            tokens = _ID_SEPARATORS.split(str(raw).strip())
        else:
            raise _Refusal("bad_id_list", field=field)
        tokens = [t for t in tokens if t]
        if not tokens or not all(_DIGITS.fullmatch(t) for t in tokens):
            raise _Refusal("bad_id_list", field=field)
        unique = list(dict.fromkeys(tokens))
        if len(unique) > MAX_IDS:
            raise _Refusal("too_many_ids", field=field, max=MAX_IDS)
        return unique

    # ================================================================== actions

    def _do_services(self, params: Params) -> list[dict[str, object]]:
        entries = [self._service_entry(s.id, s.name, s.rate, s.min, s.max, s) for s in self._services.values()]
        return entries + self._bad_catalog_entries()

    def _service_entry(self, ident: int, name: str, rate: Decimal | int | str, low: int | str, high: int | str,
                       like: SimService) -> dict[str, object]:
        full: dict[str, object] = {
            "service": ident, "name": name, "type": like.type, "category": like.category,
            "rate": self._num(rate), "min": self._num(low), "max": self._num(high),
            "refill": like.refill, "cancel": like.cancel, "dripfeed": like.dripfeed,
        }
        return {field: full[field] for field in self.profile.service_fields}

    def _bad_catalog_entries(self) -> list[dict[str, object]]:
        """The entries the catalog modes on add to the list (ids from ``BAD_SERVICE_FIRST_ID``)."""
        first = next(iter(self._services.values()))
        bad: list[tuple[str, Decimal | int | str, int | str, int | str]] = []  # name, rate, min, max
        if Mode.CATALOG_NEGATIVE_RATE in self._lies:
            bad.append(("Bad: negative rate", NEGATIVE_RATE, first.min, first.max))
        if Mode.CATALOG_HUGE_RATE in self._lies:
            bad.append(("Bad: rate 1e30", HUGE_RATE, first.min, first.max))
        if Mode.CATALOG_HUGE_MAX in self._lies:
            bad.append(("Bad: max 10^20", first.rate, first.min, HUGE_MAX))
        if Mode.CATALOG_TINY_RATE in self._lies:
            bad.append(("Bad: tiny rate", TINY_RATE, first.min, first.max))
        if Mode.CATALOG_ABSURD_NUMBERS in self._lies:
            bad.append(("Bad: absurd rate", HUGE_NUMBER, first.min, first.max))
            bad.append(("Bad: absurd min", first.rate, HUGE_NUMBER, first.max))
            bad.append(("Bad: absurd max", first.rate, first.min, HUGE_NUMBER))
        entries = [self._service_entry(BAD_SERVICE_FIRST_ID + n, name, rate, low, high, first)
                   for n, (name, rate, low, high) in enumerate(bad)]
        if Mode.CATALOG_DUPLICATE_ID in self._lies:
            entries.append(self._service_entry(first.id, first.name + " (duplicate)", first.rate * 2, first.min,
                                               first.max, first))
        return entries

    def _do_balance(self, params: Params) -> dict[str, object]:
        return {"balance": self._num(self._balance), "currency": self.profile.currency}

    def _do_add(self, params: Params) -> dict[str, object]:
        order_id = self._place(params)
        if Mode.HUGE_ORDER_ID in self._lies:
            return {"order": RawNumber(HUGE_NUMBER)}
        return {"order": order_id}

    def _do_add_bulk(self, params: Params) -> dict[str, object]:
        raw = params.get("links")
        if isinstance(raw, list):
            links = [str(link).strip() for link in raw if str(link).strip()]
        elif isinstance(raw, str):
            links = [link.strip() for link in re.split(r"[,\r\n]+", raw) if link.strip()]
        else:
            links = []
        if not links:
            raise _Refusal("missing_add_fields")
        if len(links) > MAX_LINKS:
            raise _Refusal("too_many_ids", field="links", max=MAX_LINKS)
        created, failed = [], []
        for link in links:
            try:
                created.append({"order": self._place({**params, "link": link}), "link": link})
            except _Refusal as refusal:
                failed.append({"link": link, "error": self._text(refusal.code, **refusal.params)})
        return {"created": created, "failed": failed}

    def _place(self, params: Params) -> int:
        if not _present(params, "service"):
            raise _Refusal("missing_add_fields")
        service = self._services.get(_int(params.get("service")) or -1)
        if service is None:
            raise _Refusal("incorrect_service")
        if not _present(params, "link"):
            raise _Refusal("missing_add_fields")
        link = str(_first(params["link"])).strip()
        if not _link_ok(link):
            raise _Refusal("bad_link")
        if service.type in _FLAT_TYPES:
            units, charge = 1, service.rate
        else:
            units = self._units(service, params)
            charge = self._money(service.rate * units / UNITS_PER_RATE)
        if charge > self._balance:
            raise _Refusal("funds")
        self._balance -= charge
        order_id = self._next_order
        self._next_order += 1
        received = {k: v for k, v in params.items() if k not in ("key", "action")}
        self._orders[order_id] = SimOrder(order_id, service.id, link, units, charge, received,
                                          changed_at_s=self._clock())
        self._counters.created.append(CreatedOrder(order_id, received))
        return order_id

    def _units(self, service: SimService, params: Params) -> int:
        lines_field = _LINE_TYPES.get(service.type)
        if lines_field is not None:
            units = len(_lines(params.get(lines_field)))
            if units == 0:
                raise _Refusal("missing_field", field=lines_field)
            runs = 1
        else:
            if not _present(params, "quantity"):
                raise _Refusal("missing_add_fields")
            units = _int(params.get("quantity")) or 0
            runs = self._runs(params)
        if units < service.min:
            raise _Refusal("quantity_min", min=service.min)
        if units > service.max:
            raise _Refusal("quantity_max", max=service.max)
        return units * runs

    def _runs(self, params: Params) -> int:
        if not self.profile.dripfeed or not (_present(params, "runs") or _present(params, "interval")):
            return 1
        runs, interval = _int(params.get("runs")), _int(params.get("interval"))
        low, high = INTERVAL_MINUTES
        if runs is None or interval is None or runs < MIN_RUNS or not low <= interval <= high:
            raise _Refusal("bad_dripfeed")
        return runs

    def _status_entry(self, order: SimOrder, full: bool = True) -> dict[str, object]:
        status, remains, start_count = self._reported(order)
        if not full:
            return {"status": status}
        entry: dict[str, object] = {
            "charge": self._num(order.charge - order.refunded),
            "start_count": self._num(start_count),
            "status": status,
            "remains": self._num(remains),
        }
        if self.profile.status_has_currency:
            entry["currency"] = self.profile.currency
        return entry

    def _reported(self, order: SimOrder) -> tuple[object, int | str, int | str]:
        """Status, remains and start count as this reply tells them (the status lies applied)."""
        status: object = order.status
        remains: int | str = order.reported.get("remains", order.remains)  # type: ignore[assignment]
        start_count: int | str = order.reported.get("start_count", order.start_count)  # type: ignore[assignment]
        lies = {mode for mode, setting in self._lies.items() if setting.covers(order.id)}
        undelivered = order.remains if order.remains > 0 else max(order.quantity // 2, 1)
        if Mode.COMPLETED_WITH_REMAINS in lies:
            status, remains = Status.COMPLETED.value, undelivered
        if Mode.CODE_COMPLETED_WITH_REMAINS in lies:
            status, remains = COMPLETED_CODE, undelivered
        if Mode.PARTIAL_NEGATIVE_REMAINS in lies:
            status, remains = Status.PARTIAL.value, NEGATIVE_REMAINS
        if Mode.PARTIAL_REMAINS_ABOVE_QUANTITY in lies:
            status, remains = Status.PARTIAL.value, order.quantity * ABOVE_QUANTITY_FACTOR
        if Mode.PARTIAL_HUGE_REMAINS in lies:
            status, remains = Status.PARTIAL.value, PARTIAL_HUGE_REMAINS
        if Mode.OVER_DELIVERY in lies:
            status, remains = Status.COMPLETED.value, OVER_DELIVERY_REMAINS
        if Mode.HUGE_REMAINS in lies:
            remains = HUGE_NUMBER
        if Mode.OVERFLOW_REMAINS in lies:
            remains = OVERFLOW_REMAINS
        if Mode.HUGE_START_COUNT in lies:
            start_count = HUGE_NUMBER
        if Mode.OVERFLOW_START_COUNT in lies:
            start_count = OVERFLOW_START_COUNT
        return status, remains, start_count

    def _multi_status(self, raw: object) -> dict[str, object]:
        if Mode.EMPTY_MULTI_STATUS in self._lies:
            return {}
        result: dict[str, object] = {}
        for token in self._ids(raw, "orders"):
            order = self._orders.get(int(token))
            result[token] = (
                {"error": self._text("incorrect_order")}
                if order is None
                else self._status_entry(order, self.profile.multi_status_entries_full)
            )
        return result

    def _do_status(self, params: Params) -> dict[str, object]:
        if self.profile.status_takes_orders and "orders" in params:
            return self._multi_status(params["orders"])
        order = self._orders.get(_int(params.get("order")) or -1)
        if order is None:
            raise _Refusal("incorrect_order")
        return self._status_entry(order)

    def _do_orders(self, params: Params) -> dict[str, object]:
        if "orders" not in params:
            raise _Refusal("bad_id_list", field="orders")
        return self._multi_status(params["orders"])

    def _make_refill(self, order_id: int) -> SimRefill:
        order = self._orders.get(order_id)
        if order is None:
            raise _Refusal("incorrect_order")
        if canonical(str(order.status)) not in (Status.COMPLETED, Status.PARTIAL):
            raise _Refusal("refill_status")
        if not self._services[order.service].refill:
            raise _Refusal("refill_service")
        if any(r.order_id == order_id and r.status.lower() in ACTIVE_REFILL_WORDS for r in self._refills.values()):
            raise _Refusal("refill_active")
        refill = SimRefill(self._next_refill, order_id)
        self._next_refill += 1
        self._refills[refill.id] = refill
        return refill

    def _do_refill(self, params: Params) -> object:
        if "orders" not in params:
            refill = self._make_refill(_int(params.get("order")) or -1)
            return {"refill": str(refill.id) if self.profile.refill_id_as_string else refill.id}
        outcomes: list[tuple[int, SimRefill | _Refusal]] = []
        for token in self._ids(params["orders"], "orders"):
            try:
                outcomes.append((int(token), self._make_refill(int(token))))
            except _Refusal as refusal:
                outcomes.append((int(token), refusal))
        if self.profile.multi_refill_list:
            return [
                {"order": order_id, "refill": o.id if isinstance(o, SimRefill) else self._refusal_obj(o)}
                for order_id, o in outcomes
            ]
        made = [o for _, o in outcomes if isinstance(o, SimRefill)]
        if made:
            return {"refill": str(made[0].id)}
        first = outcomes[0][1]
        assert isinstance(first, _Refusal)
        raise first

    def _refusal_obj(self, refusal: _Refusal) -> dict[str, str]:
        return {"error": self._text(refusal.code, **refusal.params)}

    def _do_refill_status(self, params: Params) -> object:
        if "refills" in params:
            result = []
            for token in self._ids(params["refills"], "refills"):
                refill = self._refills.get(int(token))
                status: object = refill.status if refill else {"error": self._text("refill_not_found")}
                result.append({"refill": int(token), "status": status})
            return result
        refill = self._refills.get(_int(params.get("refill")) or -1)
        if refill is None:
            raise _Refusal("refill_not_found")
        return {"status": refill.status}

    def _do_cancel(self, params: Params) -> list[dict[str, object]]:
        raw = params.get("orders", params.get("order"))
        result: list[dict[str, object]] = []
        for token in self._ids(raw, "orders"):
            order = self._orders.get(int(token))
            try:
                if order is None:
                    raise _Refusal("incorrect_order")
                if not self._services[order.service].cancel:
                    raise _Refusal("cancel_service")
                if canonical(str(order.status)) in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED):
                    raise _Refusal("cancel_final")
            except _Refusal as refusal:
                result.append({"order": int(token), "cancel": self._refusal_obj(refusal)})
                continue
            order.status = Status.CANCELED.value
            self._settle(order)
            result.append({"order": int(token), "cancel": 1})
        return result


DRIP_PIECES = 20  # a dripped body goes out in this many pieces, evenly spread over ``drip_s``


def drip_pieces(body: bytes) -> list[bytes]:
    size = max(1, -(-len(body) // DRIP_PIECES))
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


async def _dripped(reply: Reply):  # type: ignore[no-untyped-def]
    pieces = drip_pieces(reply.body)
    for piece in pieces:
        await anyio.sleep(reply.drip_s / len(pieces))
        yield piece


def create_simulator(
    profile: str,
    *,
    key: str = DEFAULT_KEY,
    balance: Decimal | int | str | None = None,
    hang_s: float = DEFAULT_HANG_S,
    slow_s: float = DEFAULT_SLOW_S,
    clock: Callable[[], float] = time.monotonic,
) -> Simulator:
    """A fresh simulated panel: ``profile`` is one of ``PROFILES`` (like3s, shopvn,
    baostar, subpro, 68smm, standard)."""
    try:
        chosen = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown simulator profile {profile!r}; choose one of: {', '.join(PROFILES)}") from None
    return Simulator(chosen, key=key, balance=balance, hang_s=hang_s, slow_s=slow_s, clock=clock)


__all__ = [
    "DEFAULT_KEY",
    "Reply",
    "SimulatedDisconnect",
    "Simulator",
    "create_simulator",
]
