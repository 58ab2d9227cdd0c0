"""Refills: customers ask, the operator (or an upstream) answers."""

from __future__ import annotations

from typing import Any, Sequence

from ..domain.errors import IncorrectOrder, NotFound, PanelError, RefillNotAllowed
from ..domain.status import RefillStatus, Status
from ..domain.upstream_state import UpstreamState
from ..store import catalog as catalog_store, orders as orders_store, refills as refills_store
from ..store.db import IntegrityError
from ..store.orders import CustomerOrder
from ..store.refills import CustomerRefill
from .paging import DEFAULT_PAGE_ITEMS, Page, check_before_id, check_limit, page_of
from .panel import Panel
from .principal import Customer, account

SECONDS_PER_DAY = 86_400


async def request(panel: Panel, customer: Customer, ids: Sequence[int]) -> dict[int, int | PanelError]:
    """Per order id: the new refill id, or the rule it broke."""
    user = await account(panel, customer)
    now = panel.clock()
    out: dict[int, int | PanelError] = {}
    async with panel.db.transaction() as tx:
        rows = {r["id"]: r for r in await orders_store.orders_of_user(tx, user["id"], ids, for_update=True)}
        for order_id in dict.fromkeys(ids):  # a repeated id is answered once
            row = rows.get(order_id)
            if row is None:
                out[order_id] = IncorrectOrder()
                continue
            service = await catalog_store.service_by_id(tx, row["service_id"])
            reason = _refusal(row, service, now)
            if reason:
                out[order_id] = RefillNotAllowed(reason=reason)
                continue
            if await refills_store.has_active_refill(tx, order_id):
                out[order_id] = RefillNotAllowed(reason="active")
                continue
            try:
                upstream = UpstreamState.QUEUED.value if row["provider_id"] is not None else None
                async with tx.savepoint():  # a refusal here must not undo the other ids' refills
                    out[order_id] = await refills_store.insert_refill(tx, order_id, user["id"], now,
                                                                      upstream_state=upstream)
            except IntegrityError:  # the unique index: an operator reopened an old refill meanwhile
                out[order_id] = RefillNotAllowed(reason="active")
    return out


def _refusal(row, service, now: int) -> str | None:
    return refusal(row["status"], row["created_at_s"], service, now)


def refusal(status: str, created_at_s: int, service, now: int) -> str | None:
    """The rule a refill of this order would break now (a key of the API's
    refill reasons), or None. The one-active-refill rule is checked on request."""
    if status not in (Status.COMPLETED.value, Status.PARTIAL.value):
        return "status"
    if not service["refill"]:
        return "service"
    if now - created_at_s > service["refill_days"] * SECONDS_PER_DAY:
        return "window"
    return None


async def statuses(panel: Panel, customer: Customer, ids: Sequence[int]) -> dict[int, Any]:
    """Refill rows by id; ids the customer doesn't own are simply absent."""
    rows = await refills_store.refills_for(panel.db, customer, ids)
    if not rows:
        await account(panel, customer)  # tell a bad key from unknown refills
    return {row["id"]: row for row in rows}


async def customer_refills(
    panel: Panel, customer: Customer, *, before_id: int | None = None, limit: int = DEFAULT_PAGE_ITEMS
) -> Page[CustomerRefill]:
    """The customer's refills, newest first."""
    limit, before_id = check_limit(limit), check_before_id(before_id)
    rows = await refills_store.customer_refills(panel.db, customer, before_id=before_id, limit=limit + 1)
    if not rows:
        await account(panel, customer)
    return page_of(rows, limit)


async def operator_set_status(panel: Panel, refill_id: int, status: str) -> Any:
    """The operator's answer to a refill; returns the refill as it is now."""
    new = RefillStatus.parse(status)
    async with panel.db.transaction() as tx:
        if await refills_store.refill_by_id(tx, refill_id) is None:
            raise NotFound(what="refill", name=str(refill_id))
        try:
            await refills_store.update_refill(tx, refill_id, panel.clock(), status=new.value)
        except IntegrityError:
            raise RefillNotAllowed(reason="active") from None
    return await refills_store.refill_by_id(panel.db, refill_id)


async def list_refills(panel: Panel, status: str | None = None) -> list:
    wanted = None if status is None else RefillStatus.parse(status).value
    return await refills_store.list_refills(panel.db, status=wanted)


async def has_active(panel: Panel, order: CustomerOrder) -> bool:
    """Whether a customer's order (as ``orders.customer_order`` gave it) has a refill Pending or In progress."""
    return await refills_store.has_active_refill(panel.db, order.id)
