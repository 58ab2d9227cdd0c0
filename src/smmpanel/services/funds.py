"""Funds requests: the manual payment method.

A customer asks for funds ("I sent 500,000 VND, reference FT123"); an
operator checks the money arrived and approves, which posts exactly one
deposit (``ledger.method = 'manual'``, linked by ``funds_requests.ledger_id``),
or rejects with a note. Each use case is one transaction.

"""

from __future__ import annotations

from decimal import Decimal

from ..domain.errors import AlreadyDecided, InvalidField, NotFound
from ..domain.fields import parse_text
from ..domain.money import parse_amount, to_micros
from ..store import payments as store
from .panel import Panel
from .principal import Customer, account, check_actor

METHOD = "manual"
MAX_REFERENCE_CHARS = 200
MAX_NOTE_CHARS = 500
# A customer can't flood the operators' queue: further requests wait until
# some of these are decided.
MAX_PENDING_PER_CUSTOMER = 5
MAX_LIST = 500


def optional_text(value: object, field: str, max_chars: int) -> str | None:
    """One line of free text, trimmed; None when absent or blank."""
    if value is None:
        return None
    return parse_text(value, field, max_chars=max_chars) or None


async def request_funds(panel: Panel, customer: Customer, amount: Decimal, reference: str | None) -> int:
    """A pending request for ``amount`` in the panel currency; returns its id."""
    value = parse_amount(amount, "amount")
    if value <= 0:
        raise InvalidField("amount", "positive")
    reference = optional_text(reference, "reference", MAX_REFERENCE_CHARS)
    user_id = (await account(panel, customer))["id"]
    async with panel.db.transaction() as tx:
        # The count and the insert under the customer's row lock: two
        # requests racing can't both pass the limit.
        await store.lock_user(tx, user_id)
        if await store.pending_request_count(tx, user_id) >= MAX_PENDING_PER_CUSTOMER:
            raise InvalidField("amount", "pending_limit", max=MAX_PENDING_PER_CUSTOMER)
        return await store.insert_funds_request(tx, user_id, to_micros(value), reference, panel.clock())


async def customer_requests(panel: Panel, customer: Customer, *, limit: int = 50) -> list:
    """The customer's own requests, newest first."""
    user_id = (await account(panel, customer))["id"]
    return await store.funds_requests_of(panel.db, user_id, min(max(limit, 1), MAX_LIST))


async def pending_requests(panel: Panel, *, limit: int = MAX_LIST) -> list:
    """Requests waiting for an operator, oldest first (each with ``user_name``)."""
    return await store.pending_funds_requests(panel.db, min(max(limit, 1), MAX_LIST))


async def _refuse_decided(tx, request_id: int):
    row = await store.funds_request(tx, request_id)
    if row is None:
        raise NotFound(what="funds request", name=str(request_id))
    raise AlreadyDecided(what="funds request", id=request_id, status=row["status"])


async def approve(panel: Panel, request_id: int, actor: str) -> int:
    """Credit the request's amount, once: returns the customer's new balance.

    A second approval (a double click, two operators) finds the request no
    longer pending and raises ``AlreadyDecided``; nothing is credited twice.
    """
    actor = check_actor(actor)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        decided = await store.decide_funds_request(tx, request_id, "approved", now, actor, None)
        if decided is None:
            await _refuse_decided(tx, request_id)
        ledger_id, balance = await store.credit(
            tx, decided["user_id"], decided["amount_micros"], now, method=METHOD,
            note=f"funds request {request_id}", actor=actor,
        )
        await store.link_funds_request(tx, request_id, ledger_id)
    return balance


async def reject(panel: Panel, request_id: int, actor: str, note: str | None) -> None:
    """Refuse a pending request, saying why (the customer sees the note)."""
    actor = check_actor(actor)
    note = optional_text(note, "note", MAX_NOTE_CHARS)
    async with panel.db.transaction() as tx:
        if await store.decide_funds_request(tx, request_id, "rejected", panel.clock(), actor, note) is None:
            await _refuse_decided(tx, request_id)
