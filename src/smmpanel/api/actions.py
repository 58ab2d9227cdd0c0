"""Spec section 2: one function per action, from parameters to a reply body.

Each function only translates: it parses the action's parameters, calls one
use case and renders the result. Errors are raised, and translated to the
``{"error": ...}`` body in one place (``app.py``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..domain import fields as f
from ..domain.errors import IncorrectOrder, InvalidField, RefillNotFound
from ..services import accounts, catalog, orders, refills
from ..services.panel import Panel
from ..services.principal import Customer
from .messages import message
from .render import Dialect

Params = dict[str, Any]
Handler = Callable[[Panel, Dialect, Customer, Params], Awaitable[Any]]


def _one_id(params: Params, name: str) -> int:
    if params.get(name) in (None, ""):
        raise InvalidField(name, "required")
    return f.parse_int(params[name], name)


async def act_services(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    return [d.service(row) for row in await catalog.customer_services(panel, customer)]


async def act_balance(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    return {"balance": d.money(await accounts.balance(panel, customer)), "currency": d.currency}


async def act_add(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    return {"order": await orders.place_order(panel, customer, params)}


async def act_add_bulk(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    result = await orders.place_bulk(panel, customer, params)
    return {
        "created": [{"order": order_id, "link": link} for order_id, link in result.created],
        "failed": [{"link": link, "error": message(err, d.lang)} for link, err in result.failed],
    }


async def act_status(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    if params.get("orders") not in (None, "", []):
        return await _multi_status(panel, d, customer, params)
    order_id = _one_id(params, "order")
    rows = await orders.statuses(panel, customer, [order_id])
    if order_id not in rows:
        raise IncorrectOrder()
    return d.status(rows[order_id])


async def act_orders(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    if params.get("orders") in (None, "", []):
        raise InvalidField("orders", "required")
    return await _multi_status(panel, d, customer, params)


async def _multi_status(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    pairs = f.parse_id_list(params["orders"], "orders")
    rows = await orders.statuses(panel, customer, [value for _, value in pairs])
    missing = {"error": message(IncorrectOrder(), d.lang)}
    return {sent: (d.status(rows[value]) if value in rows else missing) for sent, value in pairs}


def _per_id_error(d: Dialect, result: Any) -> Any:
    return {"error": message(result, d.lang)}


async def act_refill(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    if params.get("orders") not in (None, "", []):
        pairs = f.parse_id_list(params["orders"], "orders")
        results = await refills.request(panel, customer, [v for _, v in pairs])
        return [
            {"order": v, "refill": r if isinstance(r, int) else _per_id_error(d, r)}
            for v, r in ((v, results[v]) for _, v in pairs)
        ]
    order_id = _one_id(params, "order")
    result = (await refills.request(panel, customer, [order_id]))[order_id]
    if not isinstance(result, int):
        raise result
    return {"refill": d.id_text(result)}


async def act_refill_status(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    if params.get("refills") not in (None, "", []):
        pairs = f.parse_id_list(params["refills"], "refills")
        rows = await refills.statuses(panel, customer, [v for _, v in pairs])
        missing = {"error": message(RefillNotFound(), d.lang)}
        return [{"refill": v, "status": rows[v]["status"] if v in rows else missing} for _, v in pairs]
    refill_id = _one_id(params, "refill")
    rows = await refills.statuses(panel, customer, [refill_id])
    if refill_id not in rows:
        raise RefillNotFound()
    return {"status": rows[refill_id]["status"]}


async def act_cancel(panel: Panel, d: Dialect, customer: Customer, params: Params) -> Any:
    raw = params.get("orders")
    if raw in (None, "", []):
        raw = params.get("order")
    if raw in (None, "", []):
        raise InvalidField("orders", "required")
    pairs = f.parse_id_list(raw, "orders")
    results = await orders.cancel(panel, customer, [v for _, v in pairs])
    return [{"order": v, "cancel": 1 if results[v] is None else _per_id_error(d, results[v])} for _, v in pairs]


ACTIONS: dict[str, Handler] = {
    "services": act_services,
    "balance": act_balance,
    "add": act_add,
    "addBulk": act_add_bulk,
    "status": act_status,
    "orders": act_orders,
    "refill": act_refill,
    "refill_status": act_refill_status,
    "cancel": act_cancel,
}
