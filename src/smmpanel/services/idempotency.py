"""A customer write under an Idempotency-Key: done once, its reply kept.

The key is claimed, the write done and its reply recorded in one
transaction: a crash in between leaves none of them, and a retry then does
the write afresh. A write refused by a rule (not enough funds, a bad field)
is rolled back with its claim, so the same key may be tried again once the
reason is gone. Keys are the account's own and live 24 hours.

``add``, the hot one, claims its key inside the group-commit batch of its
order (``store.orders.KeyClaim``), so keyed orders share commits like the
others; ``addBulk``, ``refill`` and ``cancel`` run in a transaction of their
own (``once``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Awaitable, Callable, Mapping

import orjson

from ..domain.errors import IdempotencyKeyReused, PanelError
from ..domain.idempotency import KEY_LIFETIME_S, fingerprint, parse_key
from ..store import idempotency as store
from ..store.db import InTransaction
from ..store.orders import Claimed, KeyClaim, keyed_reply
from . import orders
from .panel import Panel
from .principal import Customer, account


def _replay(first: Any, fingerprint: str) -> str:
    """The first reply under a key (a ``Claimed`` or a stored row), if this request is the same."""
    if first[0] != fingerprint:
        raise IdempotencyKeyReused()
    return first[1]


async def once(panel: Panel, customer: Customer, key: str, fingerprint: str,
               write: Callable[[Panel], Awaitable[str]]) -> str:
    """``write`` runs on a panel whose database is this transaction and
    returns the reply's text; a retry of the same request gets that text back
    without running ``write``. ``IdempotencyKeyReused`` for another request."""
    user = await account(panel, customer)
    now = panel.clock()
    expired_before = now - KEY_LIFETIME_S
    async with panel.db.transaction() as tx:
        if not await store.claim(tx, user["id"], key, fingerprint, now, expired_before):
            return _replay(await store.claimed(tx, user["id"], key, expired_before), fingerprint)
        reply = await write(replace(panel, db=InTransaction(tx)))
        await store.save_reply(tx, user["id"], key, reply)
    return reply


def add_reply(order_id: int) -> str:
    """The API's ``add`` reply, the one kept for a key (both dialects)."""
    return orjson.dumps({"order": order_id}).decode()


async def add(panel: Panel, customer: Customer, raw_key: object, params: Mapping[str, Any]) -> str:
    """``add`` under a key: the reply's text, the first one's on a retry."""
    key, print_ = parse_key(raw_key), fingerprint("add", params)
    expired_before = panel.clock() - KEY_LIFETIME_S
    try:
        placed = await orders.place_order(panel, customer, params,
                                          claim=KeyClaim(key, print_, expired_before, add_reply))
    except PanelError:
        # A retry whose order was placed still gets its reply, even if the
        # same request would be refused now (the service was disabled since,
        # the balance spent): look for the key before giving the refusal.
        first = await _claim_of(panel, customer, key, expired_before)
        if first is None:
            raise
        return _replay(first, print_)
    if isinstance(placed, Claimed):
        return _replay(placed, print_)
    return keyed_reply(add_reply, placed)  # joined as the kept one was: not rendered again


async def _claim_of(panel: Panel, customer: Customer, key: str, expired_before: int) -> Any:
    try:
        user = await account(panel, customer)
    except PanelError:
        return None
    return await store.claimed(panel.db, user["id"], key, expired_before)


async def place_order(panel: Panel, customer: Customer, key: object, params: Mapping[str, Any]) -> int:
    """``add`` under a key, for the website's order form (it sends one per
    form shown, so a double-clicked Place order makes one order). The reply
    kept is the API's, so the same key answers the same over the API."""
    return int(orjson.loads(await add(panel, customer, key, params))["order"])


async def forget_expired(panel: Panel) -> int:
    """Reclaim the space of expired keys (they no longer count either way)."""
    async with panel.db.transaction() as tx:
        return await store.forget_expired(tx, panel.clock() - KEY_LIFETIME_S)
