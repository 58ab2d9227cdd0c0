"""The service catalog: what customers see, and the operator's edits."""

from __future__ import annotations

import logging
from typing import Any, Literal, Mapping

from ..domain import fields as f
from ..domain.errors import InvalidField, NotFound
from ..domain.money import parse_amount, to_micros
from ..domain.ordertypes import ServiceType
from ..store import catalog as catalog_store
from .panel import Panel
from .principal import Customer, account, check_actor

log = logging.getLogger("smmpanel.catalog")

# What `services set ID FIELD=VALUE` may change, and how each value is read.
EDITABLE = {
    "name": "text",
    "category": "text",
    "type": "type",
    "rate": "money",
    "min": "int",
    "max": "int",
    "refill": "flag",
    "cancel": "flag",
    "dripfeed": "flag",
    "enabled": "flag",
    "refill_days": "int",
    "deny_duplicate_link": "flag",
    "subscription_posts": "int",
    "description": "text",
}


async def customer_services(panel: Panel, customer: Customer) -> list:
    """The enabled services at the customer's own rates."""
    rows = await catalog_store.services_for(panel.db, customer)
    if not rows:
        await account(panel, customer)  # an empty catalog, or no such account?
    return rows


async def _column_values(tx, changes: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in changes.items():
        kind = EDITABLE.get(name)
        if kind is None:
            raise InvalidField(name, "editable", allowed=", ".join(EDITABLE))
        if kind == "money":
            values["rate_micros"] = to_micros(parse_amount(raw, name))
        elif kind == "int":
            values[name] = f.parse_int(raw, name, lo=0 if name == "refill_days" else 1)
        elif kind == "flag":
            values[name] = f.parse_flag(raw, name)
        elif kind == "type":
            values[name] = ServiceType.parse(str(raw)).value
        elif name == "category":
            values["category_id"] = await catalog_store.ensure_category(tx, f.parse_text(raw, name) or "Other")
        else:
            values[name] = f.parse_text(raw, name, max_chars=f.MAX_TEXT_CHARS if name == "description" else 200)
    return values


def _check_min_max(values: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> None:
    lo = values.get("min", current["min"] if current else None)
    hi = values.get("max", current["max"] if current else None)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidField("min", "not_above", other="max")


async def add_service(panel: Panel, **changes: Any) -> int:
    for required in ("name", "category", "type", "rate", "min", "max"):
        if changes.get(required) in (None, ""):
            raise InvalidField(required, "required")
    async with panel.db.transaction() as tx:
        values = await _column_values(tx, changes)
        _check_min_max(values)
        return await catalog_store.insert_service(tx, values, panel.clock())


async def set_service(panel: Panel, service_id: int, changes: Mapping[str, Any]) -> None:
    current = await catalog_store.service_by_id(panel.db, service_id)
    if current is None:
        raise NotFound(what="service", name=str(service_id))
    async with panel.db.transaction() as tx:
        values = await _column_values(tx, changes)
        _check_min_max(values, current)
        await catalog_store.update_service(tx, service_id, values)


async def service(panel: Panel, service_id: int):
    row = await catalog_store.service_by_id(panel.db, service_id)
    if row is None:
        raise NotFound(what="service", name=str(service_id))
    return row


async def all_services(panel: Panel) -> list:
    return await catalog_store.list_services(panel.db, enabled_only=False)


async def public_services(panel: Panel) -> list:
    """The enabled catalog at list prices (the API documentation, readable signed out)."""
    return await catalog_store.list_services(panel.db, enabled_only=True)


# ------------------------------------------------------------------ order

MOVES = ("up", "down")


def moved(ids: list[int], item_id: int, to: str | int) -> list[int]:
    """``ids`` with ``item_id`` one step up or down, or at 1-based ``to``
    (past the end: last). The first can't go up nor the last down: unchanged."""
    rest = [i for i in ids if i != item_id]
    here = ids.index(item_id)
    if to == "up":
        where = max(0, here - 1)
    elif to == "down":
        where = min(len(rest), here + 1)
    else:
        where = min(len(rest), int(to) - 1)
    return rest[:where] + [item_id] + rest[where:]


def check_move_to(up: bool = False, down: bool = False, position: Any = None) -> str | int:
    """One of ``--up``, ``--down``, ``--position N`` (N from 1)."""
    if sum((bool(up), bool(down), position not in (None, ""))) != 1:
        raise InvalidField("move", "one_of", allowed="up, down, position N")
    if up or down:
        return "up" if up else "down"
    return f.parse_int(position, "position", lo=1)


async def move(panel: Panel, what: Literal["service", "category"], item_id: int, to: str | int, *,
               actor: str) -> int:
    """Move a service within its category, or a category among categories, one
    step (``"up"``, ``"down"``) or to a 1-based position. Every list the
    customers and the operator see follows. Returns the new position (from 1)."""
    actor = check_actor(actor)
    if to not in MOVES:
        to = f.parse_int(to, "position", lo=1)
    if what not in ("service", "category"):
        raise InvalidField("what", "one_of", allowed="service, category")
    item_id = f.parse_int(item_id, what)
    async with panel.db.transaction() as tx:
        await catalog_store.lock_catalog_order(tx)
        if what == "service":
            category_id = await catalog_store.category_of(tx, item_id)
            if category_id is None:
                raise NotFound(what="service", name=str(item_id))
            ids = await catalog_store.service_ids_in_order(tx, category_id)
        else:
            ids = await catalog_store.category_ids_in_order(tx)
            if item_id not in ids:
                raise NotFound(what="category", name=str(item_id))
        order = moved(ids, item_id, to)
        await catalog_store.renumber(tx, "services" if what == "service" else "categories", order)
    position = order.index(item_id) + 1
    log.info("%s %s moved to position %s by %s", what, item_id, position, actor)
    return position


async def categories(panel: Panel) -> list:
    """Every category with its position and how many services it holds, in order."""
    return await catalog_store.categories_in_order(panel.db)
