"""A customer write under an Idempotency-Key: done once, its reply kept.

The key is claimed, the write done and its reply recorded in one
transaction: a crash in between leaves none of them, and a retry then does
the write afresh. A write refused by a rule (not enough funds, a bad field)
is rolled back with its claim, so the same key may be tried again once the
reason is gone. Keys are the account's own and live 24 hours.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Awaitable, Callable, Mapping

import orjson

from ..domain.errors import IdempotencyKeyReused
from ..domain.idempotency import KEY_LIFETIME_S, fingerprint, parse_key
from ..store import idempotency as store
from ..store.db import InTransaction
from . import orders
from .panel import Panel
from .principal import Customer, account


async def once(panel: Panel, customer: Customer, key: str, fingerprint: str,
               write: Callable[[Panel], Awaitable[str]]) -> str:
    """``write`` runs on a panel whose database is this transaction and
    returns the reply's text; a retry of the same request gets that text back
    without running ``write``. ``IdempotencyKeyReused`` for another request."""
    user = await account(panel, customer)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        await store.forget_expired(tx, user["id"], now - KEY_LIFETIME_S)
        if not await store.claim(tx, user["id"], key, fingerprint, now):
            first = await store.claimed(tx, user["id"], key)
            if first["fingerprint"] != fingerprint:
                raise IdempotencyKeyReused()
            return first["reply"]
        reply = await write(replace(panel, db=InTransaction(tx)))
        await store.save_reply(tx, user["id"], key, reply)
    return reply


async def place_order(panel: Panel, customer: Customer, key: object, params: Mapping[str, Any]) -> int:
    """``orders.place_order`` under a key (the website's order form sends one
    per form shown, so a double-clicked Place order makes one order). The
    reply kept is the API's, so the same key answers the same over the API."""

    async def write(inner: Panel) -> str:
        return orjson.dumps({"order": await orders.place_order(inner, customer, params)}).decode()

    reply = await once(panel, customer, parse_key(key), fingerprint("add", params), write)
    return int(orjson.loads(reply)["order"])
