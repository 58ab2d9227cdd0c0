"""Refills: a customer's request for an order to be topped up again, and the
operator's (or upstream's) answer. The worker's claims are in ``store.upstream``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence, TypedDict, cast

from ..domain.status import REFILL_ACTIVE
from .db import Conn, Row
from .sql import (MAX_DB_ID, Args, UserRef, admitted_rows, ids_param, ids_sql, key_columns, keyset_page, storable_id,
                  update_stamped, user_match)


class RefillRow(TypedDict):
    id: int
    order_id: int
    user_id: int
    user_name: str
    status: str
    created_at_s: int
    updated_at_s: int
    provider_refill: str | None
    upstream_state: str | None
    upstream_error: str | None


_REFILL_ACTIVE_STATUSES = "(" + ", ".join(f"'{s.value}'" for s in REFILL_ACTIVE) + ")"
REFILL_COLUMNS = (
    "f.id, f.order_id, f.user_id, u.name AS user_name, f.status, f.created_at_s, f.updated_at_s, "
    "f.provider_refill, f.upstream_state, f.upstream_error"
)
REFILL_FROM = "refills f JOIN users u ON u.id = f.user_id"
# What ``update_refill`` may write (``updated_at_s`` always is).
REFILL_UPDATE_COLUMNS = frozenset({"status", "provider_refill", "upstream_state", "upstream_error", "due_at_s"})


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


async def refills_for(conn: Conn, who: UserRef, ids: Sequence[int]) -> list[RefillRow]:
    """A customer's refills among ``ids``, user lookup included: one statement."""
    rows = await conn.fetch(_refills_for_sql(who.column, conn.dialect, len(ids) == 1), who.value, ids_param(conn, ids))
    return cast("list[RefillRow]", admitted_rows(who, rows))


@lru_cache(maxsize=None)
def _refills_for_sql(column: str, dialect: str, one_id: bool) -> str:
    return (f"SELECT {REFILL_COLUMNS}{key_columns(column)} FROM {REFILL_FROM} "
            f"WHERE {user_match(column, 1)} AND {ids_sql(dialect, 'f.id', 2, one_id)}")


async def refill_by_id(conn: Conn, refill_id: int) -> RefillRow | None:
    return cast("RefillRow | None", await conn.fetchrow(
        f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM} WHERE f.id = $1", storable_id(refill_id)))


async def list_refills(conn: Conn, *, status: str | None = None, limit: int = 100) -> list[RefillRow]:
    """The operator's list, newest first."""
    args = Args()
    where = "" if status is None else f" WHERE f.status = {args.add(status)}"
    return cast("list[RefillRow]", await conn.fetch(
        f"SELECT {REFILL_COLUMNS} FROM {REFILL_FROM}{where} ORDER BY f.id DESC LIMIT {args.add(limit)}", *args.values))


async def update_refill(conn: Conn, refill_id: int, now_s: int, **values: Any) -> None:
    """Write ``values`` (columns of ``REFILL_UPDATE_COLUMNS``) to the refill."""
    await update_stamped(conn, "refills", REFILL_UPDATE_COLUMNS, refill_id, now_s, values)


@dataclass(frozen=True, slots=True)
class CustomerRefill:
    """A refill as its customer sees it."""

    id: int
    order_id: int
    status: str
    created_at_s: int
    updated_at_s: int
    link: str
    service_name: str


async def customer_refills(conn: Conn, who: UserRef, *, before_id: int | None, limit: int) -> list[CustomerRefill]:
    """A customer's refills, newest first, older than ``before_id``."""
    args = Args(who.value)
    older, tail = keyset_page(args, "f.id", before_id, limit)
    rows = await conn.fetch(
        "SELECT f.id, f.order_id, f.status, f.created_at_s, f.updated_at_s, o.link, s.name"
        f"{key_columns(who.column)} "
        "FROM refills f JOIN users u ON u.id = f.user_id JOIN orders o ON o.id = f.order_id "
        f"JOIN services s ON s.id = o.service_id WHERE {user_match(who.column, 1)}{older}{tail}",
        *args.values,
    )
    return [CustomerRefill(*tuple(row)[:_REFILL_FIELDS]) for row in admitted_rows(who, rows)]


_REFILL_FIELDS = 7

# ------------------------------------------------------ operator's reads (/admin)


async def refills_page(conn: Conn, *, status: str | None, before_id: int | None, limit: int) -> list[Row]:
    args: list[Any] = []
    where = []
    if status is not None:
        args.append(status)
        where.append(f"f.status = ${len(args)}")
    if before_id is not None:
        args.append(storable_id(before_id) or MAX_DB_ID)
        where.append(f"f.id < ${len(args)}")
    args.append(limit)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return await conn.fetch(
        f"SELECT {REFILL_COLUMNS}, o.link, o.service_id, p.name AS provider FROM {REFILL_FROM} "
        f"JOIN orders o ON o.id = f.order_id LEFT JOIN providers p ON p.id = o.provider_id{clause} "
        f"ORDER BY f.id DESC LIMIT ${len(args)}",
        *args,
    )
