"""Every SQL statement of the panel, as small async functions over a ``Conn``.

One text serves both databases (``$n`` placeholders); where the dialects
differ the function says so. Functions that write expect to run inside a
transaction opened by the service layer, except ``place_order``, which runs
its own (group-committed) transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Sequence

import orjson

from ..domain.errors import ActiveOrderWithLink
from ..domain.ordertypes import OrderDraft
from ..domain.status import ACTIVE, REFILL_ACTIVE
from .db import Conn, Database, Row
from .groupcommit import lane

# ----------------------------------------------------------------- id lists

# Ids are INTEGER columns: nothing stored lies beyond this, so a larger id a
# client sends is simply unknown (and must not reach PostgreSQL's int4 binding).
MAX_DB_ID = 2**31 - 1


def storable_id(value: int) -> int:
    """The id itself, or 0 (never a row id) when no row could carry it."""
    return value if 0 < value <= MAX_DB_ID else 0


def _ids_clause(conn: Conn, column: str, n: int) -> str:
    return ids_sql(conn.dialect, column, n)


def ids_sql(dialect: str, column: str, n: int) -> str:
    """``column`` is one of the ids in parameter $n (a list)."""
    if dialect == "postgresql":
        return f"{column} = ANY(${n}::int[])"
    return f"{column} IN (SELECT value FROM json_each(${n}))"


def _ids_arg(conn: Conn, ids: Sequence[int]) -> Any:
    ids = [i for i in ids if 0 < i <= MAX_DB_ID]
    return ids if conn.dialect == "postgresql" else orjson.dumps(ids).decode()


# ---------------------------------------------------------------- customers


@dataclass(frozen=True, slots=True)
class UserRef:
    """Which user a customer's statement is for, found inside the statement
    itself (so an API read stays one statement): by the API key's hash, or by
    id (a signed-in web session). Either way only an active user matches."""

    column: str  # "api_key_hash" or "id": a column name, never input
    value: str | int

    def __post_init__(self) -> None:
        if self.column not in USER_REF_COLUMNS:
            raise ValueError(f"a user is found by {' or '.join(USER_REF_COLUMNS)}, not {self.column!r}")

    @classmethod
    def by_key_hash(cls, key_hash: str) -> "UserRef":
        return cls("api_key_hash", key_hash)

    @classmethod
    def by_id(cls, user_id: int) -> "UserRef":
        return cls("id", storable_id(user_id))


USER_REF_COLUMNS = ("api_key_hash", "id")


def _user_match(column: str, n: int, alias: str = "u") -> str:
    """SQL: ``alias`` is the active user ``UserRef`` names, its value in $n."""
    return f"{alias}.{column} = ${n} AND {alias}.active"


# -------------------------------------------------------------------- users

USER_COLUMNS = "id, name, active, balance_micros, created_at_s"


async def insert_user(conn: Conn, name: str, key_hash: str, now_s: int, *, email: str | None = None,
                      password_hash: str | None = None, role: str = "customer") -> int:
    return await conn.fetchval(
        "INSERT INTO users (name, api_key_hash, active, balance_micros, created_at_s, email, password_hash, role) "
        "VALUES ($1, $2, true, 0, $3, $4, $5, $6) RETURNING id",
        name,
        key_hash,
        now_s,
        email,
        password_hash,
        role,
    )


async def user_by_name(conn: Conn, name: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE name = $1", name)


async def list_users(conn: Conn) -> list[Row]:
    return await conn.fetch(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")


async def set_user_active(conn: Conn, user_id: int, active: bool) -> None:
    await conn.execute("UPDATE users SET active = $2 WHERE id = $1", user_id, active)


async def set_user_key(conn: Conn, user_id: int, key_hash: str) -> None:
    await conn.execute("UPDATE users SET api_key_hash = $2 WHERE id = $1", user_id, key_hash)


async def user_by_ref(conn: Conn, who: UserRef) -> Row | None:
    """The active user ``who`` names, or None."""
    return await conn.fetchrow(_user_by_ref_sql(who.column), who.value)


@lru_cache(maxsize=None)
def _user_by_ref_sql(column: str) -> str:
    return f"SELECT {USER_COLUMNS} FROM users u WHERE {_user_match(column, 1)}"


async def balance_of(conn: Conn, who: UserRef) -> int | None:
    """The hot ``balance`` read: one statement, the user lookup included."""
    return await conn.fetchval(_balance_sql(who.column), who.value)


@lru_cache(maxsize=None)
def _balance_sql(column: str) -> str:
    return f"SELECT balance_micros FROM users u WHERE {_user_match(column, 1)}"


@dataclass(frozen=True, slots=True)
class AccountSummary:
    name: str
    balance_micros: int
    spent_micros: int  # charges net of refunds


async def account_summary(conn: Conn, who: UserRef) -> AccountSummary | None:
    row = await conn.fetchrow(
        "SELECT u.name, u.balance_micros, (SELECT COALESCE(-SUM(l.amount_micros), 0) FROM ledger l "
        f"WHERE l.user_id = u.id AND l.kind IN ('charge', 'refund')) AS spent FROM users u WHERE {_user_match(who.column, 1)}",
        who.value,
    )
    if row is None:
        return None
    return AccountSummary(row["name"], row["balance_micros"], int(row["spent"]))


# ------------------------------------------------------------------- ledger


async def post_entry(
    conn: Conn,
    user_id: int,
    kind: str,
    amount_micros: int,
    now_s: int,
    *,
    order_id: int | None = None,
    note: str | None = None,
    actor: str | None = None,
) -> int | None:
    """Move a balance and record why (and who: ``actor``), in the caller's transaction.

    Returns the new balance, or None when it would go below zero (nothing is
    written then). A second refund of one order raises ``IntegrityError``
    from the unique index: the database, not a status read, says no.
    """
    balance = await conn.fetchval(
        "UPDATE users SET balance_micros = balance_micros + $2 "
        "WHERE id = $1 AND balance_micros + $2 >= 0 RETURNING balance_micros",
        user_id,
        amount_micros,
    )
    if balance is None:
        return None
    await conn.execute(
        "INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, note, created_at_s, actor) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        user_id,
        kind,
        amount_micros,
        balance,
        order_id,
        note,
        now_s,
        actor,
    )
    return balance


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    kind: str  # deposit | charge | refund | adjustment
    amount_micros: int  # signed: + credits, - debits
    balance_after_micros: int
    order_id: int | None
    note: str | None
    created_at_s: int
    actor: str | None  # who moved the money by hand (an operator, "cli"), or whose status change refunded it


async def ledger_page(conn: Conn, who: UserRef, *, before_id: int | None, limit: int) -> list[LedgerEntry]:
    """A customer's ledger entries, newest first, older than ``before_id``."""
    args: list[Any] = [who.value]
    older = ""
    if before_id is not None:
        args.append(storable_id(before_id) or MAX_DB_ID)
        older = f" AND l.id < ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        "SELECT l.id, l.kind, l.amount_micros, l.balance_after_micros, l.order_id, l.note, l.created_at_s, l.actor "
        f"FROM ledger l JOIN users u ON u.id = l.user_id WHERE {_user_match(who.column, 1)}{older} "
        f"ORDER BY l.id DESC LIMIT ${len(args)}",
        *args,
    )
    return [LedgerEntry(*row) for row in rows]


# ------------------------------------------------------------------ catalog

SERVICE_COLUMNS = (
    "s.id, s.name, s.type, c.name AS category, s.rate_micros, s.min, s.max, s.refill, s.cancel, "
    "s.dripfeed, s.enabled, s.refill_days, s.deny_duplicate_link, s.subscription_posts, s.description, "
    "s.provider_id, s.provider_service, s.cost_micros, s.markup_percent"
)
SERVICE_FROM = "services s JOIN categories c ON c.id = s.category_id"
SERVICE_FIELDS = (
    "name type category_id rate_micros min max refill cancel dripfeed enabled refill_days "
    "deny_duplicate_link subscription_posts description provider_id provider_service cost_micros markup_percent"
).split()


async def ensure_category(conn: Conn, name: str) -> int:
    found = await conn.fetchval("SELECT id FROM categories WHERE name = $1", name)
    if found is not None:
        return found
    return await conn.fetchval("INSERT INTO categories (name) VALUES ($1) RETURNING id", name)


async def insert_service(conn: Conn, values: dict[str, Any], now_s: int) -> int:
    names = [k for k in SERVICE_FIELDS if k in values]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 2))
    return await conn.fetchval(
        f"INSERT INTO services ({', '.join(names)}, created_at_s) VALUES ({placeholders}) RETURNING id",
        *[values[k] for k in names],
        now_s,
    )


async def update_service(conn: Conn, service_id: int, values: dict[str, Any]) -> int:
    names = [k for k in SERVICE_FIELDS if k in values]
    if not names:
        return 0
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(names, start=2))
    return await conn.execute(f"UPDATE services SET {sets} WHERE id = $1", service_id, *[values[k] for k in names])


async def service_by_id(conn: Conn, service_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {SERVICE_COLUMNS} FROM {SERVICE_FROM} WHERE s.id = $1", storable_id(service_id))


async def list_services(conn: Conn, *, enabled_only: bool) -> list[Row]:
    """The catalog at list prices (the operator's view)."""
    where = " WHERE s.enabled" if enabled_only else ""
    return await conn.fetch(f"SELECT {SERVICE_COLUMNS} FROM {SERVICE_FROM}{where} ORDER BY s.id")


async def services_for(conn: Conn, who: UserRef) -> list[Row]:
    """The enabled services at the customer's own rates, user lookup included.
    No rows: no enabled service, or no such (active) customer."""
    return await conn.fetch(_services_for_sql(who.column), who.value)


@lru_cache(maxsize=None)
def _services_for_sql(column: str) -> str:
    rate = "COALESCE(cr.rate_micros, s.rate_micros) AS rate_micros"
    return (
        f"SELECT {SERVICE_COLUMNS.replace('s.rate_micros', rate)} FROM {SERVICE_FROM} "
        f"JOIN users u ON {_user_match(column, 1)} "
        "LEFT JOIN custom_rates cr ON cr.service_id = s.id AND cr.user_id = u.id WHERE s.enabled ORDER BY s.id"
    )


async def terms_for(conn: Conn, who: UserRef, service_id: int) -> Row | None:
    """Who is ordering and what they order, in one statement (the ``add`` hot path).

    A row with ``service_id`` NULL means the key is good but the service is
    unknown or disabled; no row means the customer is unknown (or disabled).
    """
    return await conn.fetchrow(_terms_sql(who.column), who.value, storable_id(service_id))


@lru_cache(maxsize=None)
def _terms_sql(column: str) -> str:
    return (
        "SELECT u.id AS user_id, s.id AS service_id, s.type, s.min, s.max, s.dripfeed, s.cancel, "
        "s.subscription_posts, s.deny_duplicate_link, s.provider_id, s.provider_service, "
        "COALESCE(cr.rate_micros, s.rate_micros) AS rate_micros "
        "FROM users u "
        "LEFT JOIN services s ON s.id = $2 AND s.enabled "
        "LEFT JOIN custom_rates cr ON cr.user_id = u.id AND cr.service_id = s.id "
        f"WHERE {_user_match(column, 1)}"
    )


async def set_custom_rate(conn: Conn, user_id: int, service_id: int, rate_micros: int | None) -> None:
    await conn.execute("DELETE FROM custom_rates WHERE user_id = $1 AND service_id = $2", user_id, service_id)
    if rate_micros is not None:
        await conn.execute(
            "INSERT INTO custom_rates (user_id, service_id, rate_micros) VALUES ($1, $2, $3)",
            user_id,
            service_id,
            rate_micros,
        )


# ------------------------------------------------------------------- orders

_ACTIVE_STATUSES = "(" + ", ".join(f"'{s.value}'" for s in ACTIVE) + ")"

# $1 user, $2 charge, $3.. the order's own values (see _order_args)
_ORDER_INSERT = (
    "INSERT INTO orders (user_id, charge_micros, service_id, type, link, quantity, runs, interval_min, units, "
    "params, status, remains, created_at_s, updated_at_s, provider_id, provider_service, upstream_state, due_at_s) "
    "SELECT $1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS INTEGER), $10, 'Pending', CAST($9 AS INTEGER), "
    "$11, $11, $12, $13, $14, $15"
)
_CHARGE_DEBIT = (
    "UPDATE users SET balance_micros = balance_micros - $2 "
    "WHERE id = $1 AND active AND balance_micros >= $2 RETURNING balance_micros"
)
_CHARGE_ENTRY = "INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, created_at_s)"

PG_PLACE_ORDER = (
    f"WITH debit AS ({_CHARGE_DEBIT}), "
    f"o AS ({_ORDER_INSERT} FROM debit RETURNING id) "
    f"{_CHARGE_ENTRY} SELECT $1, 'charge', -$2, debit.balance_micros, o.id, $11 FROM debit, o RETURNING order_id"
)


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
        "queued" if queued else None,
        now_s if queued else None,
    )


async def place_order(
    db: Database,
    user_id: int,
    draft: OrderDraft,
    now_s: int,
    *,
    provider_id: int | None = None,
    provider_service: str | None = None,
    guard_link: bool = False,
) -> int | None:
    """Charge the customer and record the order, atomically. None: not enough funds.

    The debit is conditional (``balance >= charge`` in the UPDATE itself), so
    concurrent orders can never overspend. Orders arriving together share one
    commit (``groupcommit``); on PostgreSQL each order is one statement.
    """
    args = _order_args(user_id, draft, now_s, provider_id, provider_service)
    if guard_link:
        return await _place_guarded(db, draft, args)
    return await lane(db, "orders", partial(_place_batch, db)).submit(args)


async def _place_batch(db: Database, batch: Sequence[tuple]) -> list[int | None]:
    async with db.transaction() as tx:
        if tx.dialect == "postgresql":
            return [await tx.fetchval(PG_PLACE_ORDER, *args) for args in batch]
        return [await _place_in(tx, args) for args in batch]


async def _place_in(tx: Conn, args: tuple) -> int | None:
    user_id, charge, now_s = args[0], args[1], args[10]
    balance = await tx.fetchval(_CHARGE_DEBIT, user_id, charge)
    if balance is None:
        return None
    order_id = await tx.fetchval(_ORDER_INSERT + " RETURNING id", *args)
    await tx.execute(_CHARGE_ENTRY + " VALUES ($1, 'charge', $2, $3, $4, $5)", user_id, -charge, balance, order_id,
                     now_s)
    return order_id


async def _place_guarded(db: Database, draft: OrderDraft, args: tuple) -> int | None:
    """A service that refuses a link with an active order: check and place in one transaction."""
    async with db.transaction() as tx:
        if tx.dialect == "postgresql":
            # Serialise orders for one link so two can't both pass the check.
            await tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", draft.link)
        if await active_link_exists(tx, draft.service_id, draft.link):
            raise ActiveOrderWithLink()
        return await _place_in(tx, args)


async def active_link_exists(conn: Conn, service_id: int, link: str) -> bool:
    found = await conn.fetchval(
        f"SELECT 1 FROM orders WHERE service_id = $1 AND link = $2 AND status IN {_ACTIVE_STATUSES} LIMIT 1",
        service_id,
        link,
    )
    return found is not None


_STATUS_SELECT = (
    "SELECT o.id, o.charge_micros - COALESCE(r.amount_micros, 0) AS net_micros, o.status, o.start_count, o.remains "
    "FROM orders o LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
)


async def statuses_for(conn: Conn, who: UserRef, ids: Sequence[int]) -> list[Row]:
    """The hot ``status`` read: the user lookup joined in, one statement."""
    return await conn.fetch(_statuses_sql(who.column, conn.dialect), who.value, _ids_arg(conn, ids))


@lru_cache(maxsize=None)
def _statuses_sql(column: str, dialect: str) -> str:
    # "+o.user_id": SQLite then finds each order by its primary key (one
    # B-tree search) instead of through ix_orders_user and then the table.
    return (
        _STATUS_SELECT + "JOIN users u ON u.id = +o.user_id "
        f"WHERE {_user_match(column, 1)} AND {ids_sql(dialect, 'o.id', 2)}"
    )


ORDER_COLUMNS = (
    "o.id, o.user_id, u.name AS user_name, o.service_id, o.type, o.link, o.quantity, o.runs, o.interval_min, "
    "o.units, o.params, o.charge_micros, COALESCE(r.amount_micros, 0) AS refund_micros, o.status, "
    "o.start_count, o.remains, o.created_at_s, o.updated_at_s, o.provider_id, p.name AS provider, "
    "o.provider_service, o.provider_order, o.upstream_state, o.upstream_status, o.upstream_error, "
    "o.attempts, o.due_at_s, o.cancel_requested"
)
ORDER_FROM = (
    "orders o JOIN users u ON u.id = o.user_id "
    "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
    "LEFT JOIN providers p ON p.id = o.provider_id"
)


async def order_by_id(conn: Conn, order_id: int, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE OF o" if for_update and conn.dialect == "postgresql" else ""
    return await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.id = $1{lock}", storable_id(order_id))


async def orders_of_user(conn: Conn, user_id: int, ids: Sequence[int], *, for_update: bool = False) -> list[Row]:
    lock = " FOR UPDATE OF o" if for_update and conn.dialect == "postgresql" else ""
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE o.user_id = $1 AND {_ids_clause(conn, 'o.id', 2)} "
        f"ORDER BY o.id{lock}",
        user_id,
        _ids_arg(conn, ids),
    )


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
    "FROM orders o JOIN users u ON u.id = o.user_id JOIN services s ON s.id = o.service_id "
    "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own ``%``/``_`` literal (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


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
    args: list[Any] = [who.value]
    where = [_user_match(who.column, 1)]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if status is not None:
        where.append(f"o.status = {arg(status)}")
    found = []
    if order_id is not None:
        found.append(f"o.id = {arg(storable_id(order_id))}")
    if link_part is not None:
        found.append(f"lower(o.link) LIKE {arg(like_pattern(link_part.lower()))} ESCAPE '\\'")
    if found:
        where.append("(" + " OR ".join(found) + ")")
    if before_id is not None:
        where.append(f"o.id < {arg(storable_id(before_id) or MAX_DB_ID)}")
    sql = f"{_CUSTOMER_ORDER_SELECT}WHERE {' AND '.join(where)} ORDER BY o.id DESC LIMIT {arg(limit)}"
    return [CustomerOrder.from_row(row) for row in await conn.fetch(sql, *args)]


@dataclass(frozen=True, slots=True)
class CustomerRefill:
    id: int
    order_id: int
    status: str
    created_at_s: int
    updated_at_s: int
    link: str
    service_name: str


async def customer_refills(conn: Conn, who: UserRef, *, before_id: int | None, limit: int) -> list[CustomerRefill]:
    """A customer's refills, newest first, older than ``before_id``."""
    args: list[Any] = [who.value]
    older = ""
    if before_id is not None:
        args.append(storable_id(before_id) or MAX_DB_ID)
        older = f" AND f.id < ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        "SELECT f.id, f.order_id, f.status, f.created_at_s, f.updated_at_s, o.link, s.name "
        "FROM refills f JOIN users u ON u.id = f.user_id JOIN orders o ON o.id = f.order_id "
        f"JOIN services s ON s.id = o.service_id WHERE {_user_match(who.column, 1)}{older} "
        f"ORDER BY f.id DESC LIMIT ${len(args)}",
        *args,
    )
    return [CustomerRefill(*row) for row in rows]


async def list_orders(
    conn: Conn, *, status: str | None = None, user_name: str | None = None, upstream_state: str | None = None,
    limit: int = 100,
) -> list[Row]:
    clauses, args = [], []
    for column, value in (("o.status", status), ("u.name", user_name), ("o.upstream_state", upstream_state)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    args.append(limit)
    return await conn.fetch(f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM}{where} ORDER BY o.id DESC LIMIT ${len(args)}", *args)


async def update_order(conn: Conn, order_id: int, now_s: int, **values: Any) -> None:
    names = list(values)
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(names, start=3))
    await conn.execute(
        f"UPDATE orders SET updated_at_s = $2, {sets} WHERE id = $1", order_id, now_s, *[values[k] for k in names]
    )


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


# ------------------------------------------------------------------ refills

_REFILL_ACTIVE_STATUSES = "(" + ", ".join(f"'{s.value}'" for s in REFILL_ACTIVE) + ")"
REFILL_COLUMNS = (
    "f.id, f.order_id, f.user_id, u.name AS user_name, f.status, f.created_at_s, f.updated_at_s, "
    "f.provider_refill, f.upstream_state, f.upstream_error"
)
REFILL_FROM = "refills f JOIN users u ON u.id = f.user_id"


async def insert_refill(conn: Conn, order_id: int, user_id: int, now_s: int, *, upstream_state: str | None) -> int:
    """Raises ``IntegrityError`` when the order already has an active refill."""
    return await conn.fetchval(
        "INSERT INTO refills (order_id, user_id, status, created_at_s, updated_at_s, upstream_state, due_at_s) "
        "VALUES ($1, $2, 'Pending', $3, $3, $4, $5) RETURNING id",
        order_id,
        user_id,
        now_s,
        upstream_state,
        now_s if upstream_state else None,
    )


async def has_active_refill(conn: Conn, order_id: int) -> bool:
    found = await conn.fetchval(
        f"SELECT 1 FROM refills WHERE order_id = $1 AND status IN {_REFILL_ACTIVE_STATUSES}", order_id
    )
    return found is not None


async def refills_for(conn: Conn, who: UserRef, ids: Sequence[int]) -> list[Row]:
    """A customer's refills among ``ids``, user lookup included: one statement."""
    return await conn.fetch(_refills_for_sql(who.column, conn.dialect), who.value, _ids_arg(conn, ids))


@lru_cache(maxsize=None)
def _refills_for_sql(column: str, dialect: str) -> str:
    return f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM} WHERE {_user_match(column, 1)} AND {ids_sql(dialect, 'f.id', 2)}"


async def refill_by_id(conn: Conn, refill_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM} WHERE f.id = $1", storable_id(refill_id))


async def list_refills(conn: Conn, *, status: str | None = None, limit: int = 100) -> list[Row]:
    if status is None:
        return await conn.fetch(f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM} ORDER BY f.id DESC LIMIT $1", limit)
    return await conn.fetch(
        f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM} WHERE f.status = $1 ORDER BY f.id DESC LIMIT $2", status, limit
    )


async def update_refill(conn: Conn, refill_id: int, now_s: int, **values: Any) -> None:
    names = list(values)
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(names, start=3))
    await conn.execute(
        f"UPDATE refills SET updated_at_s = $2, {sets} WHERE id = $1", refill_id, now_s, *[values[k] for k in names]
    )
