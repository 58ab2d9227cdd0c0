"""The operator's reads for the admin website, by aggregate: every page is a
fixed number of statements, whatever the number of rows (no query per row).

Writes are not here: admin actions go through the use cases (``services``)
and their own store functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .db import Conn, Row
from .accounts import LedgerEntry
from .orders import ORDER_COLUMNS, ORDER_FROM
from .refills import REFILL_COLUMNS, REFILL_FROM
from .sql import MAX_DB_ID, like_pattern, storable_id

# ------------------------------------------------------------------ orders


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
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where: list[str] = []
    for column, value in (("o.status", wanted.status), ("o.upstream_state", wanted.upstream_state),
                          ("u.name", wanted.user), ("o.service_id", wanted.service_id), ("p.name", wanted.provider)):
        if value is not None:
            where.append(f"{column} = {arg(value)}")
    if wanted.since_s is not None:
        where.append(f"o.created_at_s >= {arg(wanted.since_s)}")
    if wanted.until_s is not None:
        where.append(f"o.created_at_s < {arg(wanted.until_s)}")
    if wanted.search:
        text = wanted.search.strip()
        found = [f"lower(o.link) LIKE {arg(like_pattern(text.lower()))} ESCAPE '\\'",
                 f"o.provider_order = {arg(text)}"]
        if text.isdigit() and len(text) <= 10:
            found.append(f"o.id = {arg(storable_id(int(text)))}")
        where.append("(" + " OR ".join(found) + ")")
    if before_id is not None:
        where.append(f"o.id < {arg(storable_id(before_id) or MAX_DB_ID)}")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS}, s.name AS service_name FROM {ORDER_FROM} JOIN services s ON s.id = o.service_id"
        f"{clause} ORDER BY o.id DESC LIMIT {arg(limit)}",
        *args,
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
    day: int  # days since the epoch (UTC)
    orders: int
    charged_micros: int
    refunded_micros: int


async def daily_figures(conn: Conn, since_s: int, day_s: int) -> list[DayFigures]:
    """Orders created and money moved per day since ``since_s``: charges and
    refunds come from the ledger (what the customers really paid)."""
    orders = await conn.fetch(
        "SELECT o.created_at_s / $2 AS day, COUNT(*) AS n FROM orders o WHERE o.created_at_s >= $1 GROUP BY 1",
        since_s, day_s,
    )
    money = await conn.fetch(
        "SELECT l.created_at_s / $2 AS day, "
        "COALESCE(-SUM(CASE WHEN l.kind = 'charge' THEN l.amount_micros ELSE 0 END), 0) AS charged, "
        "COALESCE(SUM(CASE WHEN l.kind = 'refund' THEN l.amount_micros ELSE 0 END), 0) AS refunded "
        "FROM ledger l WHERE l.created_at_s >= $1 AND l.kind IN ('charge', 'refund') GROUP BY 1",
        since_s, day_s,
    )
    days: dict[int, list[int]] = {}
    for row in orders:
        days.setdefault(int(row["day"]), [0, 0, 0])[0] = int(row["n"])
    for row in money:
        figures = days.setdefault(int(row["day"]), [0, 0, 0])
        figures[1], figures[2] = int(row["charged"]), int(row["refunded"])
    return [DayFigures(day, *values) for day, values in sorted(days.items())]


@dataclass(frozen=True, slots=True)
class CostBasis:
    """Orders of one service in one status since a time: what the upstream
    cost of what was delivered is computed from (``services.admin``)."""

    cost_micros: int | None  # the service's upstream cost per 1000 (flat types: per order); None: unknown
    type: str
    status: str
    orders: int
    units: int
    remains: int


async def cost_basis(conn: Conn, since_s: int) -> list[CostBasis]:
    rows = await conn.fetch(
        "SELECT s.cost_micros, s.type, o.status, COUNT(*) AS n, SUM(o.units) AS units, "
        "SUM(COALESCE(o.remains, 0)) AS remains FROM orders o JOIN services s ON s.id = o.service_id "
        "WHERE o.created_at_s >= $1 GROUP BY o.service_id, s.cost_micros, s.type, o.status",
        since_s,
    )
    return [CostBasis(r["cost_micros"], r["type"], r["status"], int(r["n"]), int(r["units"] or 0),
                      int(r["remains"] or 0)) for r in rows]


async def revenue_of_costed_orders(conn: Conn, since_s: int) -> int:
    """Charges net of refunds of the orders since ``since_s`` whose service has a known cost."""
    row = await conn.fetchrow(
        "SELECT COALESCE(SUM(o.charge_micros), 0) - COALESCE(SUM(r.amount_micros), 0) AS net "
        "FROM orders o JOIN services s ON s.id = o.service_id "
        "LEFT JOIN ledger r ON r.order_id = o.id AND r.kind = 'refund' "
        "WHERE o.created_at_s >= $1 AND s.cost_micros IS NOT NULL",
        since_s,
    )
    return int(row["net"])


# ------------------------------------------------------------------- users

USER_SORTS = {
    "created": "u.id DESC",
    "balance": "u.balance_micros DESC, u.id DESC",
    "spent": "spent DESC, u.id DESC",
    "name": "u.name, u.id",
}
ADMIN_USER_COLUMNS = (
    "u.id, u.name, u.email, u.role, u.active, u.balance_micros, u.created_at_s, "
    "CAST((SELECT COALESCE(-SUM(l.amount_micros), 0) FROM ledger l WHERE l.user_id = u.id "
    "AND l.kind IN ('charge', 'refund')) AS BIGINT) AS spent"  # PostgreSQL sums bigints as numeric
)


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


# ---------------------------------------------------------------- services


async def services_with_providers(conn: Conn) -> list[Row]:
    """Every service with its category and provider, by category then id."""
    return await conn.fetch(
        "SELECT s.id, s.name, c.name AS category, s.type, s.rate_micros, s.cost_micros, s.min, s.max, s.refill, "
        "s.cancel, s.dripfeed, s.enabled, s.refill_days, s.deny_duplicate_link, s.subscription_posts, "
        "s.description, s.provider_service, s.markup_percent, p.name AS provider "
        "FROM services s JOIN categories c ON c.id = s.category_id LEFT JOIN providers p ON p.id = s.provider_id "
        "ORDER BY c.name, s.id"
    )


# ----------------------------------------------------------------- refills


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


# ------------------------------------------------------------------- funds


async def pending_funds_total(conn: Conn) -> tuple[int, int]:
    """How many funds requests wait, and their total."""
    row = await conn.fetchrow(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount_micros), 0) AS total FROM funds_requests WHERE status = 'pending'"
    )
    return int(row["n"]), int(row["total"])


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
