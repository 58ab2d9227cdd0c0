"""The catalog: categories, services, and each customer's own rates."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, TypedDict, cast

from .db import Conn, Row
from .sql import UserRef, admitted, admitted_rows, checked_columns, key_columns, set_clause, storable_id, user_match


class ServiceRow(TypedDict):
    id: int
    name: str
    type: str
    category: str
    rate_micros: int  # per 1000 units; flat types: per order (the customer's own rate in ``services_for``)
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    enabled: bool
    refill_days: int
    deny_duplicate_link: bool
    subscription_posts: int
    description: str | None
    provider_id: int | None
    provider_service: str | None
    cost_micros: int | None
    markup_percent: str | None


class TermsRow(TypedDict):
    """What ``add`` needs: who orders and the service's terms for them."""

    user_id: int
    service_id: int | None  # None: the service is unknown or disabled
    type: str
    min: int
    max: int
    dripfeed: bool
    cancel: bool
    subscription_posts: int
    deny_duplicate_link: bool
    provider_id: int | None
    provider_service: str | None
    rate_micros: int


SERVICE_COLUMNS = (
    "s.id, s.name, s.type, c.name AS category, s.rate_micros, s.min, s.max, s.refill, s.cancel, "
    "s.dripfeed, s.enabled, s.refill_days, s.deny_duplicate_link, s.subscription_posts, s.description, "
    "s.provider_id, s.provider_service, s.cost_micros, s.markup_percent"
)
SERVICE_FROM = "services s JOIN categories c ON c.id = s.category_id"
# The one order every list of the catalog follows: the operator's (``services move``, ``categories move``).
CATALOG_ORDER = "c.position, c.id, s.position, s.id"
# What a service's insert or update may write.
SERVICE_FIELDS = frozenset(
    "name type category_id rate_micros min max refill cancel dripfeed enabled refill_days "
    "deny_duplicate_link subscription_posts description provider_id provider_service cost_micros markup_percent".split()
)


async def ensure_category(conn: Conn, name: str) -> int:
    found = await conn.fetchval("SELECT id FROM categories WHERE name = $1", name)
    if found is not None:
        return found
    # A new category goes last.
    return await conn.fetchval(
        "INSERT INTO categories (name, position) VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM categories)) "
        "RETURNING id", name)


async def insert_service(conn: Conn, values: Mapping[str, Any], now_s: int) -> int:
    names = checked_columns(values, SERVICE_FIELDS, "services")
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 2))
    # A new service goes last (of its category: positions only compare within one).
    return await conn.fetchval(
        f"INSERT INTO services ({', '.join(names)}, created_at_s, position) VALUES ({placeholders}, "
        "(SELECT COALESCE(MAX(position), 0) + 1 FROM services)) RETURNING id",
        *[values[k] for k in names],
        now_s,
    )


async def update_service(conn: Conn, service_id: int, values: Mapping[str, Any]) -> int:
    names = checked_columns(values, SERVICE_FIELDS, "services")
    if not names:
        return 0
    return await conn.execute(
        f"UPDATE services SET {set_clause(names, 2)} WHERE id = $1", service_id, *[values[k] for k in names]
    )


async def disable_provider_services(conn: Conn, provider_id: int) -> None:
    await conn.execute("UPDATE services SET enabled = false WHERE provider_id = $1", provider_id)


async def service_by_id(conn: Conn, service_id: int) -> ServiceRow | None:
    return cast("ServiceRow | None", await conn.fetchrow(
        f"SELECT {SERVICE_COLUMNS} FROM {SERVICE_FROM} WHERE s.id = $1", storable_id(service_id)))


async def list_services(conn: Conn, *, enabled_only: bool) -> list[ServiceRow]:
    """The catalog at list prices (the operator's view)."""
    where = " WHERE s.enabled" if enabled_only else ""
    sql = f"SELECT {SERVICE_COLUMNS} FROM {SERVICE_FROM}{where} ORDER BY {CATALOG_ORDER}"
    return cast("list[ServiceRow]", await conn.fetch(sql))


async def services_for(conn: Conn, who: UserRef) -> list[ServiceRow]:
    """The enabled services at the customer's own rates, user lookup included.
    No rows: no enabled service, or no such (active) customer."""
    return cast("list[ServiceRow]", admitted_rows(who, await conn.fetch(_services_for_sql(who.column), who.value)))


@lru_cache(maxsize=None)
def _services_for_sql(column: str) -> str:
    rate = "COALESCE(cr.rate_micros, s.rate_micros) AS rate_micros"
    # CROSS JOIN: SQLite finds the user once, first (it would otherwise look
    # the key's two lookups up again for every service).
    return (
        f"SELECT {SERVICE_COLUMNS.replace('s.rate_micros', rate)}{key_columns(column)} "
        f"FROM users u CROSS JOIN {SERVICE_FROM} "
        "LEFT JOIN custom_rates cr ON cr.service_id = s.id AND cr.user_id = u.id "
        f"WHERE {user_match(column, 1)} AND s.enabled ORDER BY {CATALOG_ORDER}"
    )


async def terms_for(conn: Conn, who: UserRef, service_id: int) -> TermsRow | None:
    """Who is ordering and what they order, in one statement (the ``add`` hot path).

    No row means the customer is unknown (or disabled).
    """
    row = await conn.fetchrow(_terms_sql(who.column), who.value, storable_id(service_id))
    return cast("TermsRow", row) if admitted(who, row) else None


@lru_cache(maxsize=None)
def _terms_sql(column: str) -> str:
    return (
        "SELECT u.id AS user_id, s.id AS service_id, s.type, s.min, s.max, s.dripfeed, s.cancel, "
        "s.subscription_posts, s.deny_duplicate_link, s.provider_id, s.provider_service, "
        f"COALESCE(cr.rate_micros, s.rate_micros) AS rate_micros{key_columns(column)} "
        "FROM users u "
        "LEFT JOIN services s ON s.id = $2 AND s.enabled "
        "LEFT JOIN custom_rates cr ON cr.user_id = u.id AND cr.service_id = s.id "
        f"WHERE {user_match(column, 1)}"
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

# ------------------------------------------------------ operator's reads (/admin)


async def services_with_providers(conn: Conn) -> list[Row]:
    """Every service with its category and provider, in the catalog's order."""
    return await conn.fetch(
        "SELECT s.id, s.name, c.id AS category_id, c.name AS category, s.type, s.rate_micros, s.cost_micros, s.min, s.max, s.refill, "
        "s.cancel, s.dripfeed, s.enabled, s.refill_days, s.deny_duplicate_link, s.subscription_posts, "
        "s.description, s.provider_service, s.markup_percent, p.name AS provider "
        "FROM services s JOIN categories c ON c.id = s.category_id LEFT JOIN providers p ON p.id = s.provider_id "
        f"ORDER BY {CATALOG_ORDER}"
    )


# ------------------------------------------------------------------ order


async def categories_in_order(conn: Conn) -> list[Row]:
    return await conn.fetch(
        "SELECT c.id, c.name, c.position, COUNT(s.id) AS services FROM categories c "
        "LEFT JOIN services s ON s.category_id = c.id GROUP BY c.id, c.name, c.position ORDER BY c.position, c.id")


async def category_ids_in_order(conn: Conn) -> list[int]:
    """Empty categories last: no list shows them, so a move must not stop at one."""
    rows = await conn.fetch(
        "SELECT c.id FROM categories c "
        "ORDER BY CASE WHEN EXISTS (SELECT 1 FROM services s WHERE s.category_id = c.id) THEN 0 ELSE 1 END, "
        "c.position, c.id")
    return [row["id"] for row in rows]


async def category_of(conn: Conn, service_id: int) -> int | None:
    return await conn.fetchval("SELECT category_id FROM services WHERE id = $1", storable_id(service_id))


async def service_ids_in_order(conn: Conn, category_id: int) -> list[int]:
    rows = await conn.fetch("SELECT id FROM services WHERE category_id = $1 ORDER BY position, id", category_id)
    return [row["id"] for row in rows]


async def lock_catalog_order(conn: Conn) -> None:
    """Serialize moves: two operators moving at once would each renumber from a
    stale order. (SQLite's transactions already hold the one write lock.)"""
    if conn.dialect == "postgresql":
        await conn.execute("LOCK TABLE categories IN SHARE ROW EXCLUSIVE MODE")


async def renumber(conn: Conn, table: str, ids: list[int]) -> None:
    """Positions 1..n in the order of ``ids``."""
    if table not in ("categories", "services"):
        raise ValueError(f"not an ordered table: {table}")
    for position, row_id in enumerate(ids, start=1):
        await conn.execute(f"UPDATE {table} SET position = $2 WHERE id = $1 AND position <> $2", row_id, position)
