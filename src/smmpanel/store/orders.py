"""Orders: placing one (charge, order row and ledger entry, atomically),
reading them (the customer's, the operator's), their history of status
changes, and the operator's and worker's updates.

The worker's claims on orders (the outbox) are in ``store.upstream``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Callable, NamedTuple, Sequence, TypedDict, Union, cast

import orjson

from ..domain.errors import ActiveOrderWithLink
from ..domain.ordertypes import OrderDraft
from ..domain.status import ACTIVE
from ..domain.upstream_state import UpstreamState
from . import idempotency as idempotency_store, linksearch
from .db import Conn, Database, Row
from .groupcommit import lane
from .sql import (
    Args,
    UserRef,
    admitted,
    admitted_rows,
    ids_arg,
    ids_clause,
    ids_param,
    ids_sql,
    key_columns,
    MAX_DB_ID,
    storable_id,
    update_stamped,
    user_match,
)


class StatusRow(TypedDict):
    """The API's ``status`` of one order."""

    id: int
    net_micros: int  # the charge net of its refund
    status: str
    start_count: int | None
    remains: int | None


class OrderRow(TypedDict):
    """An order with everything the operator, the services and the worker read."""

    id: int
    user_id: int
    user_name: str
    service_id: int
    type: str
    link: str
    quantity: int
    runs: int | None
    interval_min: int | None
    units: int
    params: str  # JSON of the type's own values
    charge_micros: int
    refund_micros: int
    status: str
    start_count: int | None
    remains: int | None
    created_at_s: int
    updated_at_s: int
    provider_id: int | None
    provider: str | None
    provider_service: str | None
    provider_order: str | None
    upstream_state: str | None
    upstream_status: str | None
    upstream_error: str | None
    attempts: int
    refused_sends: int  # sends answered with proof that no order was made
    due_at_s: int | None
    cancel_requested: bool


# What ``update_order`` may write (``updated_at_s`` always is).
ORDER_UPDATE_COLUMNS = frozenset({
    "status", "remains", "start_count", "cancel_requested", "provider_order", "upstream_state", "upstream_status",
    "upstream_error", "due_at_s", "lease_until_s", "attempts", "refused_sends", "provider_id", "provider_service",
})

_ACTIVE_STATUSES = "(" + ", ".join(f"'{s.value}'" for s in ACTIVE) + ")"

# $1 user, $2 charge, $3.. the order's own values (see _order_args)
_ORDER_COLUMNS = (
    "user_id, charge_micros, service_id, type, link, quantity, runs, interval_min, units, params, status, remains, "
    "created_at_s, updated_at_s, provider_id, provider_service, upstream_state, due_at_s"
)
_ORDER_VALUES = (
    "$1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS INTEGER), $10, 'Pending', CAST($9 AS INTEGER), $11, $11, $12, $13, "
    "$14, $15"
)


def _order_insert(id_sql: str | None = None, *, values: bool = False) -> str:
    """The order's INSERT, its id ``id_sql`` when drawn before it (a keyed
    order's), else the table's next; ``values``: one VALUES row (SQLite),
    else a SELECT that a PostgreSQL statement gives its FROM."""
    columns, row = (_ORDER_COLUMNS, _ORDER_VALUES) if id_sql is None else \
        (f"id, {_ORDER_COLUMNS}", f"{id_sql}, {_ORDER_VALUES}")
    return f"INSERT INTO orders ({columns}) " + (f"VALUES ({row})" if values else f"SELECT {row}")


_ORDER_INSERT = _order_insert()
# What the customer spent moves with the balance, in the same statement (no extra work per order).
_DEBIT = (
    "UPDATE users SET balance_micros = balance_micros - $2, spent_micros = spent_micros + $2 "
    "WHERE id = $1 AND active AND balance_micros >= $2"
)
_CHARGE_DEBIT = f"{_DEBIT} RETURNING balance_micros"
_CHARGE_ENTRY = "INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, created_at_s)"

PG_PLACE_ORDER = (
    f"WITH debit AS ({_CHARGE_DEBIT}), "
    f"o AS ({_ORDER_INSERT} FROM debit RETURNING id) "
    f"{_CHARGE_ENTRY} SELECT $1, 'charge', -$2, debit.balance_micros, o.id, $11 FROM debit, o RETURNING order_id"
)


# The same with an idempotency key's claim first ($16 key, $17 fingerprint,
# $18 expired before; $19 and $20 the reply's text before and after the new
# order's id): nothing is debited unless the claim is ours. The order's id
# is drawn first, so the claim is written once, its reply with it: one
# statement, one round trip, as without a key.
# The sequence is named as a constant ('orders_id_seq', SERIAL's own name for
# orders.id): resolved once when the statement is prepared, where
# pg_get_serial_sequence() looked it up again on every order.
_ORDER_INSERT_WITH_ID = _order_insert("next.id")
# The debit of a keyed order: only once its key's claim is ours.
_CLAIMED_DEBIT = f"{_DEBIT} AND EXISTS (SELECT 1 FROM claim) RETURNING balance_micros"
PG_PLACE_KEYED_ORDER = (
    "WITH next AS (SELECT nextval('orders_id_seq'::regclass) AS id), "
    f"claim AS ({idempotency_store.claim_sql('$1', '$16', '$17', '$19 || next.id || $20', '$11', '$18', ' FROM next')}), "
    f"debit AS ({_CLAIMED_DEBIT}), "
    f"o AS ({_ORDER_INSERT_WITH_ID} FROM debit, next RETURNING id), "
    f"charge AS ({_CHARGE_ENTRY} SELECT $1, 'charge', -$2, debit.balance_micros, o.id, $11 FROM debit, o "
    "RETURNING order_id) "
    "SELECT EXISTS (SELECT 1 FROM claim) AS claimed, (SELECT order_id FROM charge) AS order_id"
)
# A batch on PostgreSQL (``_place_pipelined``): the orders' ids are drawn
# first, in one round trip; each account is debited once for all its orders
# of the batch ($1 accounts, $2 their totals), then the orders and their
# charges are written, each given its id ($16) and the balance after it
# ($17), all sent at once.
_PG_DRAW_ORDER_IDS = "SELECT nextval('orders_id_seq'::regclass) FROM generate_series(1, $1)"
_PG_DEBIT_ACCOUNTS = (
    "UPDATE users SET balance_micros = balance_micros - t.total, spent_micros = spent_micros + t.total "
    "FROM unnest($1::int[], $2::bigint[]) AS t(id, total) "
    "WHERE users.id = t.id AND users.active AND users.balance_micros >= t.total "
    "RETURNING users.id, users.balance_micros"
)
_PG_RECORD_ORDER = (
    f"WITH o AS ({_order_insert('$16')} RETURNING id) "
    f"{_CHARGE_ENTRY} SELECT $1, 'charge', -$2, $17, o.id, $11 FROM o"
)
# An account that cannot pay for all its orders of the batch: each order
# debited on its own, in the batch's order, as if it came alone.
PG_PLACE_ORDER_WITH_ID = (
    f"WITH debit AS ({_CHARGE_DEBIT}), "
    f"o AS ({_order_insert('$16')} FROM debit RETURNING id) "
    f"{_CHARGE_ENTRY} SELECT $1, 'charge', -$2, debit.balance_micros, o.id, $11 FROM debit, o"
)
_PG_PLACED_IDS = f"SELECT id FROM orders WHERE {ids_sql('postgresql', 'id', 1)}"
# SQLite's own forms of an order's three statements: VALUES and no
# RETURNING (for each of those SQLite builds a temporary table or a
# subroutine per statement: 215k instructions per order before, 138k now).
# The debit (_DEBIT) succeeds if it changed a row; the balance after it is
# read by the ledger entry; the order's id is the connection's last rowid.
_SQLITE_ORDER_INSERT = _order_insert(values=True)
_SQLITE_ORDER_INSERT_WITH_ID = _order_insert("$16", values=True)  # $16: after the 15 of _order_args
_SQLITE_CHARGE_ENTRY = (
    f"{_CHARGE_ENTRY} VALUES ($1, 'charge', $2, (SELECT balance_micros FROM users WHERE id = $1), $3, $4)"
)
_SQLITE_NEXT_ORDER_ID = "SELECT COALESCE(MAX(id), 0) + 1 FROM orders"
_PROBE_ID = 9_007_199_254_740_993  # an id no reply holds otherwise


@lru_cache(maxsize=8)  # one reply_of per kind of keyed write: split once
def _reply_around_id(reply_of: Callable[[int], str]) -> tuple[str, str]:
    """The reply's text before and after the order's id, for SQL to join."""
    before, found, after = reply_of(_PROBE_ID).partition(str(_PROBE_ID))
    if not found or str(_PROBE_ID) in after:
        raise ValueError("an idempotent reply must hold the new order's id once")
    return before, after


def keyed_reply(reply_of: Callable[[int], str], order_id: int) -> str:
    """The reply kept for an order placed under a key, joined from the pieces
    PostgreSQL joins (``PG_PLACE_KEYED_ORDER``): ``reply_of`` renders once per
    process, and the first answer and every replay are the same bytes."""
    before, after = _reply_around_id(reply_of)
    return f"{before}{order_id}{after}"


def _order_args(user_id: int, draft: OrderDraft, now_s: int, provider_id: int | None, provider_service: str | None):
    queued = provider_id is not None
    return (
        user_id,
        draft.charge_micros,
        draft.service_id,
        draft.type.value,
        draft.link,
        draft.quantity,
        draft.runs,
        draft.interval,
        draft.units,
        orjson.dumps(draft.params).decode(),
        now_s,
        provider_id,
        provider_service,
        UpstreamState.QUEUED.value if queued else None,
        now_s if queued else None,
    )


class KeyClaim(NamedTuple):
    """An order placed under an idempotency key: the key is claimed in the
    transaction (and the group-commit batch) of the order it guards, its reply
    saved there too; refused for funds, the claim is given back."""

    key: str
    fingerprint: str
    expired_before_s: int  # a claim older than this no longer counts
    reply_of: Callable[[int], str]  # the reply to keep, from the new order's id


class Claimed(NamedTuple):
    """The key was claimed before: what that request was, and its reply."""

    fingerprint: str
    reply: str


Placed = Union[int, None, Claimed]  # the order's id; None: not enough funds; or the key's earlier claim


async def place_order(
    db: Database,
    user_id: int,
    draft: OrderDraft,
    now_s: int,
    *,
    provider_id: int | None = None,
    provider_service: str | None = None,
    guard_link: bool = False,
    claim: KeyClaim | None = None,
) -> Placed:
    """Charge the customer and record the order, atomically. None: not enough funds.

    The debit is conditional (``balance >= charge`` in the UPDATE itself), so
    concurrent orders can never overspend. Orders arriving together share one
    commit (``groupcommit``), keyed ones included; each order is one
    statement on PostgreSQL, and a batch's statements are sent at once
    (``_place_pipelined``).
    """
    args = _order_args(user_id, draft, now_s, provider_id, provider_service)
    if guard_link:
        return await _place_guarded(db, draft, args, claim)
    return await lane(db, "orders", partial(_place_batch, db)).submit((args, claim))


async def _place_batch(db: Database, batch: Sequence[tuple[tuple, KeyClaim | None]]) -> list[Placed]:
    async with db.transaction() as tx:
        if len(batch) > 1 and _keys_distinct(batch):
            if tx.dialect == "postgresql":
                return await _place_pipelined(tx, batch)
            if sum(claim is not None for _, claim in batch) > 1:
                return await _place_claims_first(tx, batch)
        ids = _SqliteOrderIds()
        return [await _place_in(tx, args, claim, ids) for args, claim in batch]


class _SqliteOrderIds:
    """The id the next order of one SQLite write transaction gets.

    A keyed order's id goes into its key's claim before the order is written.
    Inside a write transaction (BEGIN IMMEDIATE) nobody else writes orders,
    and SQLite gives a new row the table's largest id + 1: so the id is read
    once per transaction (MAX(id) + 1), then follows from each order placed,
    where reading it for every keyed order was one more statement each. Were
    it ever taken, the order's insert would break the primary key, and the
    batch would go again one order at a time (``groupcommit``)."""

    def __init__(self) -> None:
        self._next: int | None = None

    async def next(self, tx: Conn) -> int:
        if self._next is None:
            self._next = await tx.fetchval(_SQLITE_NEXT_ORDER_ID)
        return self._next

    def placed(self, order_id: int | None) -> int | None:
        if order_id is not None:
            self._next = order_id + 1
        return order_id


def _keys_distinct(batch: Sequence[tuple[tuple, KeyClaim | None]]) -> bool:
    """No key twice in the batch. (A retry arriving with its first request:
    the second must see what became of the first's claim, so that batch goes
    one order after the other.)"""
    keys = [(args[0], claim.key) for args, claim in batch if claim is not None]
    return len(keys) == len(set(keys))


async def _place_pipelined(tx: Conn, batch: Sequence[tuple[tuple, KeyClaim | None]]) -> list[Placed]:
    """PostgreSQL: the batch in a handful of round trips whatever its size,
    and each account's row updated once per batch, not once per order.

    Why once: every UPDATE of a row leaves a new version of it, and the
    versions one transaction makes cannot be pruned before it ends. A
    reseller's 64 orders in one batch overflowed their account's page: the
    row moved pages and the table grew (1 page to 241 in 15,000 orders,
    each order's PostgreSQL time 88 -> 229 us; docs/benchmark-log.md).

    The keys of keyed orders are claimed first, in one statement
    (``_claim_keys``, as on SQLite); an order whose key was claimed before
    is not placed and gets that claim's reply.
    Each account is then debited the total of its orders in one statement:
    when the total fits the balance, so does every order (in any order, a
    charge being positive), and each one's ledger entry gets the running
    balance. An account the total does not fit has its orders debited one
    by one in the batch's order, as if each came alone: some may be refused
    for funds (a keyed one gives its claim back). Any error fails the whole
    batch (``groupcommit`` then runs its orders one by one).
    """
    ids = [row[0] for row in await tx.fetch(_PG_DRAW_ORDER_IDS, len(batch))]
    earlier = await _claim_keys(tx, batch, ids)
    to_place = [(args, order_id) for at, ((args, _), order_id) in enumerate(zip(batch, ids)) if at not in earlier]
    totals: dict[int, int] = {}
    for args, _ in to_place:
        totals[args[0]] = totals.get(args[0], 0) + args[1]
    balances = {row[0]: row[1] + totals[row[0]]  # each debited account's balance before the batch
                for row in await tx.fetch(_PG_DEBIT_ACCOUNTS, list(totals), list(totals.values()))}
    recorded, one_by_one, placed = [], [], set()
    for args, order_id in to_place:
        user_id, charge = args[0], args[1]
        if user_id in balances:
            balances[user_id] -= charge
            recorded.append((*args, order_id, balances[user_id]))
            placed.add(order_id)
        else:
            one_by_one.append((*args, order_id))
    if recorded:
        await tx.executemany(_PG_RECORD_ORDER, recorded)
    if one_by_one:
        await tx.executemany(PG_PLACE_ORDER_WITH_ID, one_by_one)
        unpaid_ids = [row[-1] for row in one_by_one]
        placed.update(row[0] for row in await tx.fetch(_PG_PLACED_IDS, ids_arg(tx, unpaid_ids)))
    results: list[Placed] = []
    for at, ((args, claim), order_id) in enumerate(zip(batch, ids)):
        if order_id in placed:
            results.append(order_id)
        elif at in earlier:
            results.append(earlier[at])
        else:  # not enough funds: a keyed order's key stays free for a retry
            if claim is not None:
                await idempotency_store.release(tx, args[0], claim.key)
            results.append(None)
    return results


async def _place_claims_first(tx: Conn, batch: Sequence[tuple[tuple, KeyClaim | None]]) -> list[Placed]:
    """SQLite, several keyed orders in a batch: their keys claimed in one
    statement, then the orders one after the other.

    Why: through the sqlite3 module a statement costs ~25k instructions
    before it writes anything, and a claim per keyed order was one more
    statement each (docs/benchmark-log.md, 2026-12-07 (b)). Every order of
    the batch gets its id first (the table's next ones, in the batch's order:
    nobody else writes inside this transaction), so each claim is written
    with its reply. An order refused for funds gives its claim back and leaves
    a gap in the ids. When not every claim was new, a key whose stored reply
    is not the one written here was claimed before (a retry): that order is
    answered with the earlier reply and not placed.
    """
    first_id = await tx.fetchval(_SQLITE_NEXT_ORDER_ID)
    ids = range(first_id, first_id + len(batch))
    earlier = await _claim_keys(tx, batch, ids)
    results: list[Placed] = []
    for at, ((args, claim), order_id) in enumerate(zip(batch, ids)):
        if at in earlier:
            results.append(earlier[at])
            continue
        placed = await _place_sqlite(tx, args, order_id)
        if placed is None and claim is not None:  # not enough funds: the key stays free for a retry
            await idempotency_store.release(tx, args[0], claim.key)
        results.append(placed)
    return results


async def _claim_keys(tx: Conn, batch: Sequence[tuple[tuple, KeyClaim | None]],
                      ids: Sequence[int]) -> dict[int, Claimed]:
    """Claim the keys of a batch's keyed orders in one statement, each with
    its reply (which holds the id drawn for its order): the orders whose key
    was claimed before, by place in the batch, with that earlier claim."""
    replies = [None if claim is None else keyed_reply(claim.reply_of, order_id)
               for (_, claim), order_id in zip(batch, ids)]
    claims = [(args[0], claim.key, claim.fingerprint, reply, args[10])
              for (args, claim), reply in zip(batch, replies) if claim is not None]
    earlier: dict[int, Claimed] = {}
    if not claims:
        return earlier
    expired_before_s = max(claim.expired_before_s for _, claim in batch if claim is not None)
    if not await idempotency_store.claim_many(tx, claims, expired_before_s):
        for at, ((args, claim), reply) in enumerate(zip(batch, replies)):
            if claim is not None and (found := await _earlier_claim(tx, args[0], claim, reply)) is not None:
                earlier[at] = found
    return earlier


async def _earlier_claim(tx: Conn, user_id: int, claim: KeyClaim, our_reply: str | None) -> Claimed | None:
    """After claiming a batch's keys at once: the earlier claim of this key,
    or None if the claim is ours (its reply holds the id drawn for this order)."""
    first = await idempotency_store.claimed(tx, user_id, claim.key, claim.expired_before_s)
    if first is None:  # cannot happen: a claim refused is a live one
        raise RuntimeError("an idempotency key was neither claimed nor free")
    if first["reply"] != our_reply:
        return Claimed(first["fingerprint"], first["reply"])
    return None


async def _place_in(tx: Conn, args: tuple, claim: KeyClaim | None, ids: _SqliteOrderIds) -> Placed:
    if claim is None:
        if tx.dialect == "postgresql":
            return await tx.fetchval(PG_PLACE_ORDER, *args)
        return ids.placed(await _place_sqlite(tx, args))
    user_id, now_s = args[0], args[10]
    if tx.dialect == "postgresql":
        row = await tx.fetchrow(PG_PLACE_KEYED_ORDER, *args, claim.key, claim.fingerprint, claim.expired_before_s,
                                *_reply_around_id(claim.reply_of))
        ours, order_id = row["claimed"], row["order_id"]
    else:
        # As on PostgreSQL the order's id is drawn first, so the claim is
        # written once, its reply with it.
        next_id = await ids.next(tx)
        ours = await idempotency_store.claim(tx, user_id, claim.key, claim.fingerprint, now_s,
                                             claim.expired_before_s, keyed_reply(claim.reply_of, next_id))
        order_id = ids.placed(await _place_sqlite(tx, args, next_id)) if ours else None
    if not ours:  # claimed before (by an earlier request, or earlier in this batch)
        first = await idempotency_store.claimed(tx, user_id, claim.key, claim.expired_before_s)
        return Claimed(first["fingerprint"], first["reply"])
    if order_id is None:  # not enough funds: the key stays free for a retry
        await idempotency_store.release(tx, user_id, claim.key)
    return order_id


async def _place_sqlite(tx: Conn, args: tuple, order_id: int | None = None) -> int | None:
    """``order_id``: the id drawn for a keyed order (else the table's next)."""
    user_id, charge, now_s = args[0], args[1], args[10]
    if not await tx.execute(_DEBIT, user_id, charge):
        return None
    if order_id is None:
        order_id = await tx.insert(_SQLITE_ORDER_INSERT, *args)
    else:
        await tx.execute(_SQLITE_ORDER_INSERT_WITH_ID, *args, order_id)
    await tx.execute(_SQLITE_CHARGE_ENTRY, user_id, -charge, order_id, now_s)
    return order_id


async def _place_guarded(db: Database, draft: OrderDraft, args: tuple, claim: KeyClaim | None) -> Placed:
    """A service that refuses a link with an active order: check and place in one transaction."""
    async with db.transaction() as tx:
        if tx.dialect == "postgresql":
            # Serialise orders for one link so two can't both pass the check.
            await tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", draft.link)
        if claim is not None:
            first = await idempotency_store.claimed(tx, args[0], claim.key, claim.expired_before_s)
            if first is not None:  # a retry: its order is the active one with this link
                return Claimed(first["fingerprint"], first["reply"])
        if await active_link_exists(tx, draft.service_id, draft.link):
            raise ActiveOrderWithLink()
        return await _place_in(tx, args, claim, _SqliteOrderIds())


async def active_link_exists(conn: Conn, service_id: int, link: str) -> bool:
    found = await conn.fetchval(
        f"SELECT 1 FROM orders WHERE service_id = $1 AND link = $2 AND status IN {_ACTIVE_STATUSES} LIMIT 1",
        service_id,
        link,
    )
    return found is not None


# A StatusRow's fields and the SQL of each: selected as columns, or (SQLite,
# several orders) as the members of one JSON object per order.
_STATUS_FIELDS = {
    "id": "o.id",
    "net_micros": "o.charge_micros - COALESCE(r.amount_micros, 0)",
    "status": "o.status",
    "start_count": "o.start_count",
    "remains": "o.remains",
}
_STATUS_COLUMNS = "SELECT " + ", ".join(f"{sql} AS {name}" for name, sql in _STATUS_FIELDS.items())
_STATUS_JSON = "json_object(" + ", ".join(f"'{name}', {sql}" for name, sql in _STATUS_FIELDS.items()) + ")"
_STATUS_FROM = " FROM orders o LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "


async def statuses_for(conn: Conn, who: UserRef, ids: Sequence[int]) -> list[StatusRow]:
    """The hot ``status`` read: the user lookup joined in, one statement."""
    if conn.dialect == "sqlite" and len(ids) > 1:
        return await _sqlite_statuses(conn, who, ids)
    rows = await conn.fetch(_statuses_sql(who.column, conn.dialect, len(ids) == 1), who.value, ids_param(conn, ids))
    return cast("list[StatusRow]", admitted_rows(who, rows))


async def _sqlite_statuses(conn: Conn, who: UserRef, ids: Sequence[int]) -> list[StatusRow]:
    # Several orders come back as one row: the account's key columns once and
    # the orders as a JSON array of objects (orjson makes the dicts). Python's
    # sqlite3 module (3.11) lets go of the GIL and takes it back for every
    # column of every row it fetches: 100 orders as rows of 7 columns were
    # 3.78M instructions a request, as one row 3.50M (scripts/bench-instructions).
    row = await conn.fetchrow(_sqlite_statuses_sql(who.column), who.value, ids_param(conn, ids))
    if not admitted(who, row):
        return []
    return cast("list[StatusRow]", orjson.loads(row["orders"]))


@lru_cache(maxsize=None)
def _sqlite_statuses_sql(column: str) -> str:
    return (
        f"SELECT u.id{key_columns(column)}, (SELECT json_group_array({_STATUS_JSON})"
        f"{_STATUS_FROM}WHERE {ids_sql('sqlite', 'o.id', 2)} AND +o.user_id = u.id) AS orders "
        f"FROM users u WHERE {user_match(column, 1)}"
    )


@lru_cache(maxsize=None)
def _statuses_sql(column: str, dialect: str, one_id: bool) -> str:
    # "+o.user_id": SQLite then finds each order by its primary key (one
    # B-tree search) instead of through ix_orders_user and then the table.
    return (
        _STATUS_COLUMNS + key_columns(column) + _STATUS_FROM + "JOIN users u ON u.id = +o.user_id "
        f"WHERE {user_match(column, 1)} AND {ids_sql(dialect, 'o.id', 2, one_id)}"
    )


ORDER_COLUMNS = (
    "o.id, o.user_id, u.name AS user_name, o.service_id, o.type, o.link, o.quantity, o.runs, o.interval_min, "
    "o.units, o.params, o.charge_micros, COALESCE(r.amount_micros, 0) AS refund_micros, o.status, "
    "o.start_count, o.remains, o.created_at_s, o.updated_at_s, o.provider_id, p.name AS provider, "
    "o.provider_service, o.provider_order, o.upstream_state, o.upstream_status, o.upstream_error, "
    "o.attempts, o.refused_sends, o.due_at_s, o.cancel_requested"
)
ORDER_FROM = (
    "orders o JOIN users u ON u.id = o.user_id "
    "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
    "LEFT JOIN providers p ON p.id = o.provider_id"
)


def _lock(conn: Conn, for_update: bool) -> str:
    """Lock the order rows read (PostgreSQL; SQLite's transaction holds the whole database)."""
    return " FOR UPDATE OF o" if for_update and conn.dialect == "postgresql" else ""


async def order_by_id(conn: Conn, order_id: int, *, for_update: bool = False) -> OrderRow | None:
    return cast("OrderRow | None", await conn.fetchrow(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.id = $1{_lock(conn, for_update)}", storable_id(order_id)))


async def orders_of_user(conn: Conn, user_id: int, ids: Sequence[int], *, for_update: bool = False) -> list[OrderRow]:
    return cast("list[OrderRow]", await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.user_id = $1 AND {ids_clause(conn, 'o.id', 2)} "
        f"ORDER BY o.id{_lock(conn, for_update)}",
        user_id,
        ids_arg(conn, ids),
    ))


@dataclass(frozen=True, slots=True)
class CustomerOrder:
    """An order as its customer sees it (no provider, no upstream state)."""

    id: int
    service_id: int
    service_name: str
    type: str
    link: str
    quantity: int
    runs: int | None
    interval_min: int | None
    units: int
    params: dict[str, Any]  # the type's own values: comments, usernames...
    charge_micros: int
    refund_micros: int
    status: str
    start_count: int | None
    remains: int | None
    created_at_s: int
    updated_at_s: int
    cancel_requested: bool

    @classmethod
    def from_row(cls, row: Row) -> "CustomerOrder":
        values = list(row)
        values[9] = orjson.loads(values[9])
        values[17] = bool(values[17])
        return cls(*values)


_CUSTOMER_ORDER_SELECT = (
    "SELECT o.id, o.service_id, s.name, o.type, o.link, o.quantity, o.runs, o.interval_min, o.units, o.params, "
    "o.charge_micros, COALESCE(r.amount_micros, 0), o.status, o.start_count, o.remains, o.created_at_s, "
    "o.updated_at_s, o.cancel_requested "
    "FROM orders o JOIN services s ON s.id = o.service_id "
    "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
)


class _UserId(NamedTuple):
    """A ``UserRef`` by id, for a user already found."""

    value: int
    column: str = "id"


async def customer_orders(
    conn: Conn,
    who: UserRef,
    *,
    status: str | None = None,
    order_id: int | None = None,
    link_part: str | None = None,
    before_id: int | None = None,
    limit: int,
) -> list[CustomerOrder]:
    """A customer's orders, newest first. ``order_id`` and ``link_part`` (a
    case-insensitive substring of the link) match either; ``before_id`` pages."""
    if who.column != "id":  # an API key: its account found and its key checked first
        user = await conn.fetchrow(f"SELECT u.id{key_columns(who.column)} FROM users u "
                                   f"WHERE {user_match(who.column, 1)}", who.value)
        if not admitted(who, user):
            return []
        who = _UserId(user["id"])
    args = Args(who.value)
    # The user as a value found first (not a join): PostgreSQL then reads the
    # user's own index (user_id, id) newest first, not every order backwards.
    where = f"o.user_id = (SELECT u.id FROM users u WHERE {user_match(who.column, 1)})"
    if status is not None:
        where += f" AND o.status = {args.add(status)}"
    if before_id is not None:
        where += f" AND o.id < {args.add(storable_id(before_id) or MAX_DB_ID)}"
    if link_part is not None:
        found = await linksearch.newest_matches(
            conn, f"FROM orders o WHERE {where}", args, piece=link_part,
            order_id=None if order_id is None else storable_id(order_id), limit=limit)
        if not found:
            return []
        where += f" AND {ids_sql(conn.dialect, 'o.id', len(args.values) + 1)}"
        args.add(ids_arg(conn, found))
    elif order_id is not None:
        where += f" AND o.id = {args.add(storable_id(order_id))}"
    rows = await conn.fetch(f"{_CUSTOMER_ORDER_SELECT}WHERE {where} ORDER BY o.id DESC LIMIT {args.add(limit)}",
                            *args.values)
    return [CustomerOrder.from_row(row) for row in rows]


async def list_orders(
    conn: Conn, *, status: str | None = None, user_name: str | None = None, upstream_state: str | None = None,
    limit: int = 100,
) -> list[OrderRow]:
    """The operator's list, newest first."""
    args = Args()
    clauses = [f"{column} = {args.add(value)}"
               for column, value in (("o.status", status), ("u.name", user_name), ("o.upstream_state", upstream_state))
               if value is not None]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return cast("list[OrderRow]", await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM}{where} ORDER BY o.id DESC LIMIT {args.add(limit)}", *args.values))


async def update_order(conn: Conn, order_id: int, now_s: int, **values: Any) -> None:
    """Write ``values`` (columns of ``ORDER_UPDATE_COLUMNS``) to the order."""
    await update_stamped(conn, "orders", ORDER_UPDATE_COLUMNS, order_id, now_s, values)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    id: int
    status: str
    remains: int | None
    start_count: int | None
    actor: str
    note: str | None
    created_at_s: int


async def insert_order_event(conn: Conn, order_id: int, now_s: int, *, status: str, remains: int | None,
                             start_count: int | None, actor: str, note: str | None) -> None:
    await conn.execute(
        "INSERT INTO order_events (order_id, status, remains, start_count, actor, note, created_at_s) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        order_id, status, remains, start_count, actor, note, now_s,
    )


async def order_events(conn: Conn, order_id: int) -> list[OrderEvent]:
    rows = await conn.fetch(
        "SELECT id, status, remains, start_count, actor, note, created_at_s FROM order_events "
        "WHERE order_id = $1 ORDER BY id",
        storable_id(order_id),
    )
    return [OrderEvent(*row) for row in rows]

# ------------------------------------------------------ operator's reads (/admin)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """The admin orders list's filters; None means any."""

    status: str | None = None
    upstream_state: str | None = None
    user: str | None = None
    service_id: int | None = None
    provider: str | None = None
    since_s: int | None = None  # created at or after
    until_s: int | None = None  # created before
    search: str | None = None  # an order id, a substring of the link, or a provider order id


async def orders_page(conn: Conn, wanted: OrderFilter, *, before_id: int | None, limit: int) -> list[Row]:
    """Orders matching ``wanted``, newest first, older than ``before_id``."""
    args = Args()
    arg = args.add
    where: list[str] = []
    for column, value in (("o.status", wanted.status), ("o.upstream_state", wanted.upstream_state),
                          ("o.service_id", wanted.service_id)):
        if value is not None:
            where.append(f"{column} = {arg(value)}")
    # By id, so the user's own index (user_id, id) serves the page.
    if wanted.user is not None:
        where.append(f"o.user_id = (SELECT id FROM users WHERE name = {arg(wanted.user)})")
    if wanted.provider is not None:
        where.append(f"o.provider_id = (SELECT id FROM providers WHERE name = {arg(wanted.provider)})")
    if wanted.since_s is not None:
        where.append(f"o.created_at_s >= {arg(wanted.since_s)}")
    if wanted.until_s is not None:
        where.append(f"o.created_at_s < {arg(wanted.until_s)}")
    if before_id is not None:
        where.append(f"o.id < {arg(storable_id(before_id) or MAX_DB_ID)}")
    if wanted.search:
        text = wanted.search.strip()
        if text.isdigit():  # an id: ours or the upstream's (both indexed), never a scan of every link
            # provider_order is indexed under its provider: name them all so the index serves.
            by_upstream = (f"SELECT x.id FROM orders x WHERE x.provider_id IN (SELECT id FROM providers) "
                           f"AND x.provider_order = {arg(text)}")
            ours = f"SELECT {arg(storable_id(int(text)) if len(text) <= 10 else 0)}"
            where.append(f"o.id IN ({ours} UNION ALL {by_upstream})")
        else:
            # A WHERE always, so that the search can add "AND …".
            others = " AND ".join(where) if where else "true"
            found = await linksearch.newest_matches(conn, f"FROM orders o WHERE {others}", args, piece=text,
                                                    order_id=None, limit=limit)
            if not found:
                return []
            where.append(ids_sql(conn.dialect, "o.id", len(args.values) + 1))
            args.add(ids_arg(conn, found))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS}, s.name AS service_name FROM {ORDER_FROM} JOIN services s ON s.id = o.service_id"
        f"{clause} ORDER BY o.id DESC LIMIT {arg(limit)}",
        *args.values,
    )


async def upstream_state_counts(conn: Conn) -> dict[str, int]:
    """How many orders are in each upstream state (manual orders have none)."""
    rows = await conn.fetch(
        "SELECT upstream_state, COUNT(*) AS n FROM orders WHERE upstream_state IS NOT NULL GROUP BY upstream_state"
    )
    return {row["upstream_state"]: row["n"] for row in rows}


async def orders_in_states(conn: Conn, states: Sequence[str], limit: int) -> list[Row]:
    """The newest orders in one of ``states`` (the dashboard's needs-attention list)."""
    marks = ", ".join(f"${i}" for i in range(1, len(states) + 1))
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.upstream_state IN ({marks}) ORDER BY o.id DESC "
        f"LIMIT ${len(states) + 1}",
        *states,
        limit,
    )


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One group of the orders created on one day: one service, one status.
    What the dashboard's counts, revenue, cost and chart are computed from
    (``services.admin``)."""

    day: int  # days since the epoch (UTC)
    cost_micros: int | None  # the service's upstream cost per 1000 (flat types: per order); None: unknown
    type: str
    status: str
    orders: int
    units: int
    remains: int
    charged_micros: int
    refunded_micros: int


async def daily_figures(conn: Conn, since_s: int, day_s: int) -> list[DayFigures]:
    """The orders created since ``since_s``, grouped by day, service and
    status: one scan, whatever the number of orders."""
    rows = await conn.fetch(
        "SELECT o.created_at_s / $2 AS day, o.service_id, s.cost_micros, s.type, o.status, COUNT(*) AS n, "
        "SUM(o.units) AS units, SUM(COALESCE(o.remains, 0)) AS remains, SUM(o.charge_micros) AS charged, "
        "SUM(COALESCE(r.amount_micros, 0)) AS refunded "
        "FROM orders o JOIN services s ON s.id = o.service_id "
        "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
        "WHERE o.created_at_s >= $1 GROUP BY 1, o.service_id, s.cost_micros, s.type, o.status",
        since_s, day_s,
    )
    return [DayFigures(int(r["day"]), r["cost_micros"], r["type"], r["status"], int(r["n"]), int(r["units"] or 0),
                       int(r["remains"] or 0), int(r["charged"] or 0), int(r["refunded"] or 0)) for r in rows]
