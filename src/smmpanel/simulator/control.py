"""The control endpoint of a running simulator, and a small client for it.

Every simulator (in-process or served) answers, beside ``/api/v2``:

=========================== ==================================================================
request                     effect (JSON body; ``key`` is the simulator's API key)
=========================== ==================================================================
``GET /control?key=K``      the state: profile, balance, modes on, auto-progress, the last
                            orders (``POST /control`` with ``{"key": K}`` does the same)
``POST /control/order``     ``{"key", "order", "status"?, "remains"?, "start_count"?}``: the
                            order now reports these (text such as ``"1e99999999"`` is reported
                            as given); Partial/Canceled refund the simulated balance once
``POST /control/mode``      ``{"key", "mode", "on"?: true, "count"?, "action"?, "delay_s"?,
                            "orders"?}``: a hostile mode on or off (``hostile`` lists them)
``POST /control/reset``     ``{"key"}``: every mode and injected fault off (orders stay)
``POST /control/auto-progress`` ``{"key", "interval_s": 30 | null}``: orders move one step
                            every ``interval_s`` (Pending -> In progress -> half -> Completed)
``POST /control/balance``   ``{"key", "balance": "12.5"}``
=========================== ==================================================================

Replies are JSON: the new state (or ``{"error": "..."}`` with HTTP 400, 403
for a wrong key, 404 for an unknown order or path). Control requests are not
counted as API requests and never meet an injected fault.

From a shell: ``smmpanel simulate set 23501 --status Partial --remains 250``,
``smmpanel simulate mode completed_with_remains``, ``smmpanel simulate show``.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from .hostile import MODE_HELP, Mode

if TYPE_CHECKING:
    from .panel import Simulator

ORDERS_SHOWN = 50  # the state lists this many of the newest orders
CONTROL_TIMEOUT_S = 10.0
_MAX_ID_DIGITS = 18


class ControlError(Exception):
    """The control endpoint refused a request, or could not be reached."""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def state(sim: "Simulator") -> dict[str, Any]:
    orders = sim.orders()[-ORDERS_SHOWN:]
    return {
        "profile": sim.profile.name,
        "balance": str(sim.balance),
        "currency": sim.profile.currency,
        "auto_progress_s": sim.auto_progress_s,
        "modes": [m.to_json() for m in sim.modes],
        "available_modes": {m.value: MODE_HELP[m] for m in Mode},
        "orders": [
            {"order": o.id, "service": o.service, "quantity": o.quantity, "status": o.status, "remains": o.remains,
             "start_count": o.start_count, "charge": str(o.charge), "refunded": str(o.refunded),
             "reported": {k: str(v) for k, v in o.reported.items()}}
            for o in orders
        ],
    }


def handle_control(sim: "Simulator", method: str, route: str, query: str, body: bytes) -> tuple[int, Any]:
    """One control request -> (HTTP status, JSON data)."""
    try:
        fields = _fields(method, query, body)
        if fields.get("key") != sim.key:
            raise _Refused(403, "wrong or missing key")
        _ACTIONS.get(route, _unknown)(sim, fields)
        return 200, state(sim)
    except _Refused as refusal:
        return refusal.status, {"error": str(refusal)}
    except ValueError as exc:  # a mode, count or value the simulator refused
        return 400, {"error": str(exc)}


def _fields(method: str, query: str, body: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = dict(parse_qsl(query))
    if method.upper() == "POST" and body.strip():
        try:
            decoded = json.loads(body)
        except ValueError:
            raise _Refused(400, "the body must be a JSON object") from None
        if not isinstance(decoded, dict):
            raise _Refused(400, "the body must be a JSON object")
        fields.update(decoded)
    return fields


def _order_id(raw: Any) -> int:
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or len(text) > _MAX_ID_DIGITS:
        raise _Refused(400, f"order must be an order id, not {raw!r}")
    return int(text)


def _reported_value(raw: Any, name: str) -> int | str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise _Refused(400, f"{name} must be a number or a text")
    return raw


def _set_order(sim: "Simulator", fields: dict[str, Any]) -> None:
    status = fields.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, (int, str))):
        raise _Refused(400, "status must be a text or a numeric code")
    try:
        sim.set_order(_order_id(fields.get("order")), status=status,
                      remains=_reported_value(fields.get("remains"), "remains"),
                      start_count=_reported_value(fields.get("start_count"), "start_count"))
    except KeyError as exc:
        raise _Refused(404, str(exc.args[0])) from None


def _mode(sim: "Simulator", fields: dict[str, Any]) -> None:
    name = str(fields.get("mode") or "")
    if fields.get("on", True) in (False, "false", "0", 0):
        sim.disable(name)
        return
    count, delay_s, orders = fields.get("count"), fields.get("delay_s"), fields.get("orders")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise _Refused(400, "count must be a whole number")
    if delay_s is not None and (isinstance(delay_s, bool) or not isinstance(delay_s, (int, float))):
        raise _Refused(400, "delay_s must be a number of seconds")
    if orders is not None and not isinstance(orders, list):
        raise _Refused(400, "orders must be a list of order ids")
    sim.enable(name, count=count, action=fields.get("action"), delay_s=delay_s,
               orders=None if orders is None else [_order_id(o) for o in orders])


def _reset(sim: "Simulator", fields: dict[str, Any]) -> None:
    sim.clear_modes()
    sim.clear_faults()


def _auto_progress(sim: "Simulator", fields: dict[str, Any]) -> None:
    interval = fields.get("interval_s")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, (int, float))):
        raise _Refused(400, "interval_s must be a number of seconds, or null to stop")
    sim.auto_progress(interval)


def _balance(sim: "Simulator", fields: dict[str, Any]) -> None:
    try:
        amount = Decimal(str(fields.get("balance")))
    except InvalidOperation:
        raise _Refused(400, "balance must be a decimal amount") from None
    if not amount.is_finite() or abs(amount.adjusted()) > _MAX_ID_DIGITS:
        raise _Refused(400, "balance must be a decimal amount")
    sim.set_balance(amount)


def _unknown(sim: "Simulator", fields: dict[str, Any]) -> None:
    raise _Refused(404, "unknown control request; see smmpanel.simulator.control")


_ACTIONS = {
    "": lambda sim, fields: None,
    "/order": _set_order,
    "/mode": _mode,
    "/reset": _reset,
    "/auto-progress": _auto_progress,
    "/balance": _balance,
}


class ControlClient:
    """Drives a running simulator: ``ControlClient("http://127.0.0.1:9100", "sim-key")``.

    ``url`` may be the simulator's base URL or its API URL (``.../api/v2``).
    Every method returns the simulator's state after the change; a refusal
    or a network failure raises ``ControlError``.
    """

    def __init__(self, url: str, key: str, *, timeout_s: float = CONTROL_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme, parts.netloc, "/control", "", ""))
        self.key = key
        self.timeout_s = timeout_s

    def _post(self, route: str, **fields: Any) -> dict[str, Any]:
        try:
            response = httpx.post(self.url + route, json={"key": self.key, **fields}, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ControlError(f"simulator not reachable at {self.url}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise ControlError(f"not a simulator at {self.url} (HTTP {response.status_code})") from None
        if response.status_code != 200:
            raise ControlError(str(data.get("error") if isinstance(data, dict) else data))
        return data  # type: ignore[no-any-return]

    def state(self) -> dict[str, Any]:
        return self._post("")

    def set_order(self, order: int | str, *, status: str | int | None = None, remains: int | str | None = None,
                  start_count: int | str | None = None) -> dict[str, Any]:
        fields = {"status": status, "remains": remains, "start_count": start_count}
        return self._post("/order", order=order, **{k: v for k, v in fields.items() if v is not None})

    def mode(self, mode: str, *, on: bool = True, count: int | None = None, action: str | None = None,
             delay_s: float | None = None, orders: list[int] | None = None) -> dict[str, Any]:
        fields = {"count": count, "action": action, "delay_s": delay_s, "orders": orders}
        return self._post("/mode", mode=mode, on=on, **{k: v for k, v in fields.items() if v is not None})

    def reset(self) -> dict[str, Any]:
        return self._post("/reset")

    def auto_progress(self, interval_s: float | None) -> dict[str, Any]:
        return self._post("/auto-progress", interval_s=interval_s)

    def set_balance(self, balance: str) -> dict[str, Any]:
        return self._post("/balance", balance=balance)
