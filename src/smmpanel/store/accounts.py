"""Customers (``users``) and their money (``ledger``).

Every balance change is a ledger entry with the running balance, written in
the caller's transaction (``post_entry``); an order's charge is written with
the order itself (``store.orders``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict, cast

from .db import Conn, Row
from .sql import (MAX_DB_ID, Args, UserRef, admitted, admitted_rows, key_columns, keyset_page, like_pattern,
                  storable_id, user_match)


class UserRow(TypedDict):
    id: int
    name: str
    active: bool
    balance_micros: int
    created_at_s: int


USER_COLUMNS = "id, name, active, balance_micros, created_at_s"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An API key as stored: its lookup (indexed) and its hash."""

    lookup: str
    hash: str


async def insert_user(conn: Conn, name: str, key: StoredKey, now_s: int, *, email: str | None = None,
                      password_hash: str | None = None, role: str = "customer", actor: str | None = None) -> int:
    return await conn.fetchval(
        "INSERT INTO users (name, api_key_hash, api_key_lookup, key_set_at_s, key_set_by, active, balance_micros, "
        "created_at_s, email, password_hash, role) VALUES ($1, $2, $3, $4, $5, true, 0, $4, $6, $7, $8) RETURNING id",
        name,
        key.hash,
        key.lookup,
        now_s,
        actor,
        email,
        password_hash,
        role,
    )


async def user_by_name(conn: Conn, name: str) -> UserRow | None:
    return cast("UserRow | None", await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE name = $1", name))


async def list_users(conn: Conn) -> list[UserRow]:
    return cast("list[UserRow]", await conn.fetch(f"SELECT {USER_COLUMNS} FROM users ORDER BY id"))


async def set_user_active(conn: Conn, user_id: int, active: bool) -> None:
    await conn.execute("UPDATE users SET active = $2 WHERE id = $1", user_id, active)


async def set_user_key(conn: Conn, user_id: int, key: StoredKey, now_s: int, *, actor: str,
                       old_until_s: int | None) -> None:
    """Replace the user's key. With ``old_until_s`` the key replaced keeps
    working until then (a grace period; it replaces any earlier old key);
    without, it stops at once."""
    keep_old = old_until_s is not None
    await conn.execute(
        "UPDATE users SET old_key_lookup = CASE WHEN $6 THEN api_key_lookup END, "
        "old_key_hash = CASE WHEN $6 THEN api_key_hash END, old_key_until_s = $7, "
        "api_key_lookup = $2, api_key_hash = $3, key_set_at_s = $4, key_set_by = $5 WHERE id = $1",
        user_id, key.lookup, key.hash, now_s, actor, keep_old, old_until_s,
    )


class KeyInfo(TypedDict):
    api_key_lookup: str | None
    key_set_at_s: int | None
    key_set_by: str | None
    old_key_lookup: str | None
    old_key_until_s: int | None


async def key_info(conn: Conn, user_id: int) -> KeyInfo | None:
    """What an operator may know of a user's keys: never a hash."""
    return cast("KeyInfo | None", await conn.fetchrow(
        "SELECT api_key_lookup, key_set_at_s, key_set_by, old_key_lookup, old_key_until_s FROM users WHERE id = $1",
        storable_id(user_id)))


async def user_by_ref(conn: Conn, who: UserRef) -> UserRow | None:
    """The active user ``who`` names, or None."""
    row = await conn.fetchrow(_user_by_ref_sql(who.column), who.value)
    return cast("UserRow", {k: row[k] for k in USER_KEYS}) if admitted(who, row) else None


USER_KEYS = tuple(USER_COLUMNS.split(", "))


@lru_cache(maxsize=None)
def _user_by_ref_sql(column: str) -> str:
    return f"SELECT {USER_COLUMNS}{key_columns(column)} FROM users u WHERE {user_match(column, 1)}"


async def balance_of(conn: Conn, who: UserRef) -> int | None:
    """The hot ``balance`` read: one statement, the user lookup included."""
    row = await conn.fetchrow(_balance_sql(who.column), who.value)
    return row["balance_micros"] if admitted(who, row) else None


@lru_cache(maxsize=None)
def _balance_sql(column: str) -> str:
    return f"SELECT balance_micros{key_columns(column)} FROM users u WHERE {user_match(column, 1)}"


@dataclass(frozen=True, slots=True)
class AccountSummary:
    name: str
    balance_micros: int
    spent_micros: int  # charges net of refunds


async def account_summary(conn: Conn, who: UserRef) -> AccountSummary | None:
    row = await conn.fetchrow(
        f"SELECT u.name, u.balance_micros, u.spent_micros{key_columns(who.column)} "
        f"FROM users u WHERE {user_match(who.column, 1)}",
        who.value,
    )
    if not admitted(who, row):
        return None
    return AccountSummary(row["name"], row["balance_micros"], row["spent_micros"])


# ------------------------------------------------------------------- ledger

# The kinds that make up what a customer spent (``users.spent_micros``):
# charges (negative) net of refunds (positive).
SPENT_KINDS = frozenset({"charge", "refund"})


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
    from the unique index: the database, not a status read, says no. A
    charge or refund moves what the customer spent in the same statement.
    """
    balance = await conn.fetchval(
        "UPDATE users SET balance_micros = balance_micros + $2, spent_micros = spent_micros - $3 "
        "WHERE id = $1 AND balance_micros + $2 >= 0 RETURNING balance_micros",
        user_id,
        amount_micros,
        amount_micros if kind in SPENT_KINDS else 0,
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
    args = Args(who.value)
    older, tail = keyset_page(args, "l.id", before_id, limit)
    rows = await conn.fetch(
        "SELECT l.id, l.kind, l.amount_micros, l.balance_after_micros, l.order_id, l.note, l.created_at_s, l.actor"
        f"{key_columns(who.column)} "
        f"FROM ledger l JOIN users u ON u.id = l.user_id WHERE {user_match(who.column, 1)}{older}{tail}",
        *args.values,
    )
    return [LedgerEntry(*tuple(row)[:_LEDGER_FIELDS]) for row in admitted_rows(who, rows)]


_LEDGER_FIELDS = 8


# ------------------------------------------------------ operator's reads (/admin)


USER_SORTS = {
    "created": "id DESC",
    "balance": "balance_micros DESC, id DESC",
    "spent": "spent_micros DESC, id DESC",
    "name": "name, id",
}
ADMIN_USER_COLUMNS = ("u.id, u.name, u.email, u.role, u.active, u.balance_micros, u.created_at_s, "
                      "u.spent_micros AS spent")


async def users_page(conn: Conn, *, search: str | None, sort: str, offset: int, limit: int) -> list[Row]:
    """Users matching ``search`` (a substring of the name or email), in ``sort`` order."""
    args: list[Any] = []
    where = ""
    if search:
        args.append(like_pattern(search.lower()))
        where = " WHERE lower(u.name) LIKE $1 ESCAPE '\\' OR lower(COALESCE(u.email, '')) LIKE $1 ESCAPE '\\'"
    args += [limit, offset]
    return await conn.fetch(
        f"SELECT {ADMIN_USER_COLUMNS} FROM users u{where} ORDER BY {USER_SORTS[sort]} "
        f"LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )


async def user_by_id(conn: Conn, user_id: int) -> Row | None:
    """Any account (active or not), with what it spent."""
    return await conn.fetchrow(f"SELECT {ADMIN_USER_COLUMNS} FROM users u WHERE u.id = $1", storable_id(user_id))


async def custom_rates_of(conn: Conn, user_id: int) -> list[Row]:
    return await conn.fetch(
        "SELECT c.service_id, s.name, s.rate_micros AS list_rate_micros, s.cost_micros, c.rate_micros "
        "FROM custom_rates c JOIN services s ON s.id = c.service_id WHERE c.user_id = $1 ORDER BY c.service_id",
        user_id,
    )


async def ledger_of(conn: Conn, user_id: int, *, before_id: int | None, limit: int) -> list[LedgerEntry]:
    """Any account's ledger entries (a disabled one's too), newest first."""
    args: list[Any] = [storable_id(user_id)]
    older = ""
    if before_id is not None:
        args.append(storable_id(before_id) or MAX_DB_ID)
        older = f" AND l.id < ${len(args)}"
    args.append(limit)
    rows = await conn.fetch(
        "SELECT l.id, l.kind, l.amount_micros, l.balance_after_micros, l.order_id, l.note, l.created_at_s, l.actor "
        f"FROM ledger l WHERE l.user_id = $1{older} ORDER BY l.id DESC LIMIT ${len(args)}",
        *args,
    )
    return [LedgerEntry(*row) for row in rows]
