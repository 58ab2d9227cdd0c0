"""Orders: placing them (single and bulk), reading them, cancelling them,
and applying a status (from the operator or from an upstream)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Sequence

from ..client.values import to_id
from ..domain import fields as f
from ..domain.errors import (
    CancelNotAllowed,
    DatabaseBusy,
    IncorrectOrder,
    IncorrectService,
    InvalidField,
    MissingAddFields,
    NotEnoughFunds,
    NotFound,
    PanelError,
)
from ..domain.ordertypes import OrderDraft, ServiceTerms, ServiceType, build_order
from ..domain.status import Status, decide_move
from ..domain.upstream_state import NOT_SENT, POLLABLE, RESOLVABLE, UNSETTLED, UpstreamState, check_move
from ..store import accounts as accounts_store, catalog as catalog_store, linksearch, orders as orders_store, sql
from ..store.db import Conn, IntegrityError
from ..store.orders import Claimed, CustomerOrder, KeyClaim, OrderEvent, OrderRow
from .paging import DEFAULT_PAGE_ITEMS, Page, check_before_id, check_limit, page_of
from .panel import Panel
from .principal import ACTOR_CUSTOMER, Customer, account, check_actor



async def _terms(panel: Panel, customer: Customer, raw_service: object):
    service_id = f.parse_int(raw_service, "service")
    row = await catalog_store.terms_for(panel.db, customer, service_id)
    if row is None:
        raise customer.refusal()
    if row["service_id"] is None:
        raise IncorrectService()
    terms = ServiceTerms(
        id=row["service_id"],
        type=ServiceType(row["type"]),
        rate_micros=row["rate_micros"],
        min=row["min"],
        max=row["max"],
        dripfeed=bool(row["dripfeed"]),
        subscription_posts=row["subscription_posts"],
    )
    return row, terms


async def _place(panel: Panel, row, draft: OrderDraft, claim: KeyClaim | None = None) -> int | Claimed:
    placed = await orders_store.place_order(
        panel.db,
        row["user_id"],
        draft,
        panel.clock(),
        provider_id=row["provider_id"],
        provider_service=row["provider_service"],
        guard_link=bool(row["deny_duplicate_link"]),
        claim=claim,
    )
    if placed is None:
        raise NotEnoughFunds()
    return placed


async def place_order(panel: Panel, customer: Customer, params: Mapping[str, Any], *,
                      claim: KeyClaim | None = None) -> int | Claimed:
    """The new order's id; under an idempotency key (``services.idempotency``)
    the key's earlier claim instead, if it had one."""
    if params.get("service") in (None, ""):
        # Check the key first: a bad key must say so whatever else is missing.
        await account(panel, customer)
        raise MissingAddFields()
    row, terms = await _terms(panel, customer, params["service"])
    return await _place(panel, row, build_order(terms, params), claim)


async def quote(panel: Panel, customer: Customer, params: Mapping[str, Any]) -> int:
    """What ``place_order`` would charge for these parameters (micros), placing
    nothing: the order form's charge before submitting. Same checks, same errors."""
    if params.get("service") in (None, ""):
        raise MissingAddFields()
    _row, terms = await _terms(panel, customer, params["service"])
    return build_order(terms, params).charge_micros


FINAL = (Status.COMPLETED.value, Status.PARTIAL.value, Status.CANCELED.value)


def may_cancel(order: CustomerOrder, service: Any) -> bool:
    """Whether offering Cancel makes sense from what the customer sees; ``cancel``
    has the last word (an order already started here is refused there)."""
    return bool(service["cancel"]) and order.status not in FINAL and not order.cancel_requested


@dataclass
class BulkResult:
    created: list[tuple[int, str]]
    failed: list[tuple[object, PanelError]]  # the item as sent (a JSON value that is not text stays one)


async def place_bulk(panel: Panel, customer: Customer, params: Mapping[str, Any]) -> BulkResult:
    """One order per link, each charged on its own: a link that fails (bad
    link, funds run out) does not stop the others."""
    if params.get("service") in (None, "") or params.get("links") in (None, "", []):
        await account(panel, customer)
        raise MissingAddFields()
    row, terms = await _terms(panel, customer, params["service"])
    links = f.bulk_items(params["links"])
    if len(links) > f.MAX_LINKS_PER_BULK:
        raise InvalidField("links", "too_many", max=f.MAX_LINKS_PER_BULK)
    result = BulkResult([], [])
    for link in links:
        try:
            if not isinstance(link, str):
                raise InvalidField("links", "text")
            draft = build_order(terms, {**params, "link": link})
            result.created.append((await _place(panel, row, draft), link))
        except PanelError as exc:
            result.failed.append((link, exc))
    return result


async def statuses(panel: Panel, customer: Customer, ids: Sequence[int]) -> dict[int, Any]:
    """Status rows by id; ids the customer doesn't own are simply absent."""
    rows = await orders_store.statuses_for(panel.db, customer, ids)
    if not rows:
        await account(panel, customer)  # tell a bad key from unknown orders
    return {row["id"]: row for row in rows}


MAX_SEARCH_CHARS = 200


async def customer_orders(
    panel: Panel,
    customer: Customer,
    *,
    status: str | None = None,
    search: str | None = None,
    before_id: int | None = None,
    limit: int = DEFAULT_PAGE_ITEMS,
) -> Page[CustomerOrder]:
    """The customer's orders, newest first: all, or those in ``status``, or
    those ``search`` finds (an order id, or a piece of the link, any case)."""
    limit, before_id = check_limit(limit), check_before_id(before_id)
    status_value = None if status in (None, "") else Status.parse(status).value
    order_id = link_part = None
    if search is not None and search.strip():
        link_part = f.parse_text(search, "search", max_chars=MAX_SEARCH_CHARS).strip()
        if link_part.isdigit() and len(link_part) <= len(str(sql.MAX_DB_ID)):
            order_id = int(link_part)
        await index_new_links(panel)
    rows = await orders_store.customer_orders(panel.db, customer, status=status_value, order_id=order_id,
                                      link_part=link_part, before_id=before_id, limit=limit + 1)
    if not rows:
        await account(panel, customer)  # nothing found, or no such account?
    return page_of(rows, limit)


async def index_new_links(panel: Panel) -> None:
    """Before a link search: index a few new orders' links (SQLite). When
    the database is busy, the search reads those orders directly instead."""
    try:
        await linksearch.index_new_links(panel.db)
    except DatabaseBusy:
        pass


async def customer_order(panel: Panel, customer: Customer, order_id: int) -> CustomerOrder:
    """One of the customer's orders; ``IncorrectOrder`` for anybody else's."""
    order_id = f.parse_int(order_id, "order")
    rows = await orders_store.customer_orders(panel.db, customer, order_id=order_id, limit=1)
    if not rows:
        await account(panel, customer)
        raise IncorrectOrder()
    return rows[0]


async def cancel(panel: Panel, customer: Customer, ids: Sequence[int]) -> dict[int, PanelError | None]:
    """Per id: None when accepted. An order not yet sent upstream is canceled
    at once and fully refunded; one that has gone up is flagged for the worker
    to forward."""
    user = await account(panel, customer)
    now = panel.clock()
    out: dict[int, PanelError | None] = {}
    async with panel.db.transaction() as tx:
        rows = {r["id"]: r for r in await orders_store.orders_of_user(tx, user["id"], ids, for_update=True)}
        services = {}
        for order_id in dict.fromkeys(ids):  # a repeated id is answered once, never refunded twice
            row = rows.get(order_id)
            if row is None:
                out[order_id] = IncorrectOrder()
                continue
            if row["service_id"] not in services:
                services[row["service_id"]] = await catalog_store.service_by_id(tx, row["service_id"])
            out[order_id] = await _cancel_one(tx, row, services[row["service_id"]], now)
    return out


async def _cancel_one(tx: Conn, row, service, now: int) -> PanelError | None:
    status = Status(row["status"])
    if not service["cancel"]:
        return CancelNotAllowed(reason="service")
    if status in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED):
        return CancelNotAllowed(reason="final")
    state = row["upstream_state"]
    if state is None or state in NOT_SENT:  # not sent (or fulfilled by hand): nobody else's consent needed
        if status is not Status.PENDING:
            return CancelNotAllowed(reason="started")
        await apply_status(tx, row, Status.CANCELED, now, actor=ACTOR_CUSTOMER, note="canceled by customer",
                           upstream_state=None if state is None else check_move(state, UpstreamState.CANCELED).value)
        return None
    if state not in POLLABLE:
        return CancelNotAllowed(reason="sending")
    if row["cancel_requested"]:
        return CancelNotAllowed(reason="requested")
    await orders_store.update_order(tx, row["id"], now, cancel_requested=True, due_at_s=now)
    return None


class _Unset(Enum):
    UNSET = "unset"


UNSET = _Unset.UNSET  # leave the column as it is (None writes NULL)


async def apply_status(
    tx: Conn,
    row: OrderRow,
    new: Status,
    now: int,
    *,
    actor: str,
    remains: int | None = None,
    start_count: int | None = None,
    note: str | None = None,
    upstream_state: str | None | _Unset = UNSET,
    upstream_status: str | None | _Unset = UNSET,
    upstream_error: str | None | _Unset = UNSET,
    due_at_s: int | None | _Unset = UNSET,
    lease_until_s: int | None | _Unset = UNSET,
) -> bool:
    """Move an order (locked by the caller) to ``new``; post its refund once;
    record the change and who made it (``actor``) in the order's history.
    The ``upstream_*``, ``due_at_s`` and ``lease_until_s`` given are written
    in the same update (the worker's and the operator's bookkeeping).

    Returns whether anything changed. A repeat of a final status changes
    nothing; a contradicting move raises ``StatusMoveRefused``. The refund's
    uniqueness is the database's (a unique index), so even a bug here could
    not pay twice.
    """
    current = Status(row["status"])
    if new is Status.PARTIAL and remains is None:
        remains = row["remains"]
    move = decide_move(current, new, charge=row["charge_micros"], units=row["units"], remains=remains)
    if not move.changed:
        return False
    upstream = {"upstream_state": upstream_state, "upstream_status": upstream_status,
                "upstream_error": upstream_error, "due_at_s": due_at_s, "lease_until_s": lease_until_s}
    values: dict[str, Any] = {"status": new.value, **{k: v for k, v in upstream.items() if v is not UNSET}}
    if remains is not None:
        values["remains"] = remains
    elif new is Status.COMPLETED:
        values["remains"] = 0
    elif new is Status.CANCELED:
        values["remains"] = row["units"]
    if start_count is not None:
        values["start_count"] = start_count
    await orders_store.update_order(tx, row["id"], now, **values)
    note = note or f"order {row['id']} {new.value}"
    await orders_store.insert_order_event(tx, row["id"], now, status=new.value,
                                          remains=values.get("remains", row["remains"]),
                                          start_count=values.get("start_count", row["start_count"]), actor=actor,
                                          note=note)
    if move.refund_micros:
        await accounts_store.post_entry(tx, row["user_id"], "refund", move.refund_micros, now, order_id=row["id"],
                                        note=note, actor=actor)
    return True


async def operator_set_status(
    panel: Panel, order_id: int, status: str, *, actor: str, remains: int | None = None,
    start_count: int | None = None,
) -> bool:
    """Manual fulfilment: the operator (``actor``) records progress."""
    actor = check_actor(actor)
    new = Status.parse(status)
    async with panel.db.transaction() as tx:
        row = await orders_store.order_by_id(tx, order_id, for_update=True)
        if row is None:
            raise NotFound(what="order", name=str(order_id))
        if new is Status.PARTIAL and remains is None and row["status"] != Status.PARTIAL.value:
            # Without it the refund would be guessed from the last known remains (the whole order).
            raise InvalidField("remains", "required")
        for name, value in (("remains", remains), ("start_count", start_count)):
            if value is not None and value < 0:
                raise InvalidField(name, "not_negative")
        if remains is not None and remains > row["units"]:
            raise InvalidField("remains", "at_most", max=row["units"])
        extra: dict[str, Any] = {}
        if row["upstream_state"] in UNSETTLED and new in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED):
            # The operator settled it: the worker has nothing left to do here.
            extra = {"upstream_state": check_move(row["upstream_state"], UpstreamState.DONE).value, "due_at_s": None}
        return await apply_status(tx, row, new, panel.clock(), actor=actor, remains=remains, start_count=start_count,
                                  note=f"order {order_id} {new.value} (operator)", **extra)


async def resolve(panel: Panel, order_id: int, *, actor: str, provider_order: str | None = None,
                  requeue: bool = False, cancel: bool = False) -> Any:
    """Settle an order whose upstream outcome is unknown, on the operator's word:
    it exists upstream as ``provider_order``; or it provably does not
    (``requeue``: it will be sent again); or give up (``cancel``: full refund)."""
    if sum((provider_order is not None, requeue, cancel)) != 1:
        raise InvalidField("resolve", "one_of", allowed="--provider-order X, --requeue, --cancel")
    actor = check_actor(actor)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        row = await orders_store.order_by_id(tx, order_id, for_update=True)
        if row is None:
            raise NotFound(what="order", name=str(order_id))
        if row["upstream_state"] not in RESOLVABLE:
            raise InvalidField("order", "not_resolvable", order=order_id,
                               state=row["upstream_state"] or "none, fulfilled by hand",
                               allowed=", ".join(sorted(state.value for state in RESOLVABLE)))
        if provider_order is not None:
            # The worker stores upstream ids canonically (``to_id``): so must the operator's word,
            # or a typo ("12,13", "") would poison every status batch and "023501" would slip
            # past the one-order-per-upstream-id rule.
            upstream_id = to_id(provider_order)
            if upstream_id is None:
                raise InvalidField("provider_order", "one_of", allowed="the upstream's order id, a positive number")
            try:
                await orders_store.update_order(
                    tx, order_id, now, upstream_state=check_move(row["upstream_state"], UpstreamState.PLACED).value,
                    provider_order=upstream_id,
                                        upstream_error="resolved by operator", due_at_s=now)
            except IntegrityError:
                raise InvalidField("provider_order", "one_of",
                                   allowed=f"an upstream id no other order has ({upstream_id} is taken)") from None
        elif requeue:
            if row["provider_order"] is not None:
                # It provably exists upstream: sending it again would buy it twice.
                raise InvalidField("requeue", "exists_upstream", provider_order=row["provider_order"])
            await orders_store.update_order(tx, order_id, now,
                                            upstream_state=check_move(row["upstream_state"], UpstreamState.QUEUED).value,
                                            upstream_error="requeued by operator", due_at_s=now)
        else:
            await apply_status(tx, row, Status.CANCELED, now, actor=actor,
                               note=f"order {order_id} canceled by operator",
                               upstream_state=check_move(row["upstream_state"], UpstreamState.CANCELED).value,
                               due_at_s=None, upstream_error="canceled by operator")
        if not cancel:  # the status stays as it is; the history still says who decided what
            note = "requeued by operator" if requeue else f"resolved by operator: upstream order {upstream_id}"
            await orders_store.insert_order_event(tx, order_id, now, status=row["status"], remains=row["remains"],
                                                  start_count=row["start_count"], actor=actor, note=note)
    return await orders_store.order_by_id(panel.db, order_id)


async def history(panel: Panel, order_id: int) -> list[OrderEvent]:
    """An order's status changes and operator decisions, oldest first."""
    await order(panel, order_id)  # NotFound for an unknown order
    return await orders_store.order_events(panel.db, order_id)


async def order(panel: Panel, order_id: int):
    row = await orders_store.order_by_id(panel.db, order_id)
    if row is None:
        raise NotFound(what="order", name=str(order_id))
    return row


async def list_orders(panel: Panel, *, status: str | None = None, user: str | None = None,
                      upstream_state: str | None = None, limit: int = 100) -> list:
    if status is not None:
        status = Status.parse(status).value
    if upstream_state is not None:
        upstream_state = UpstreamState.parse(upstream_state).value
    return await orders_store.list_orders(panel.db, status=status, user_name=user, upstream_state=upstream_state,
                                          limit=limit)
