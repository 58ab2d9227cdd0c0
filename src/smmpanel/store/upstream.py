"""SQL for reselling: providers, and the worker's claims on orders and refills.

The order row is its own outbox. Its ``upstream_state`` walks:

    queued ──claim──> in_flight ──reply──> placed ──poll…──> done
      ^   \\                │ \\
      │    waiting_funds <──┘  └─ unknown outcome / lease expired ──> needs_attention
      └── unreachable (provably never sent): back to queued, later

A claim is committed *before* the upstream call, so a crash mid-call leaves
``in_flight`` with a lease that expires into ``needs_attention``: never a
second ``add``. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so any
number of workers share the work without taking the same row.
"""

from __future__ import annotations

from typing import Any, Sequence

from .db import Conn, Row
from .orders import ORDER_COLUMNS, ORDER_FROM
from .sql import ids_arg as _ids_arg, ids_clause as _ids_clause

PROVIDER_COLUMNS = (
    "id, name, url, key_sealed, encoding, currency, fx, timeout_s, max_ids, concurrency, multi_status_action, "
    "balance_text, balance_checked_at_s, out_of_funds, created_at_s"
)


def _skip_locked(conn: Conn) -> str:
    return " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""


# ---------------------------------------------------------------- providers


async def insert_provider(conn: Conn, values: dict[str, Any], now_s: int) -> int:
    names = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 2))
    return await conn.fetchval(
        f"INSERT INTO providers ({', '.join(names)}, created_at_s) VALUES ({placeholders}) RETURNING id",
        *values.values(),
        now_s,
    )


async def provider_by_name(conn: Conn, name: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {PROVIDER_COLUMNS} FROM providers WHERE name = $1 AND removed_at_s IS NULL", name
    )


async def provider_by_id(conn: Conn, provider_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {PROVIDER_COLUMNS} FROM providers WHERE id = $1", provider_id)


async def list_providers(conn: Conn) -> list[Row]:
    return await conn.fetch(f"SELECT {PROVIDER_COLUMNS} FROM providers WHERE removed_at_s IS NULL ORDER BY id")


async def update_provider(conn: Conn, provider_id: int, **values: Any) -> None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(values, start=2))
    await conn.execute(f"UPDATE providers SET {sets} WHERE id = $1", provider_id, *values.values())


async def provider_order_counts(conn: Conn, provider_id: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT upstream_state, COUNT(*) AS n FROM orders WHERE provider_id = $1 AND upstream_state IS NOT NULL "
        "GROUP BY upstream_state",
        provider_id,
    )
    return {row["upstream_state"]: row["n"] for row in rows}


async def provider_services(conn: Conn, provider_id: int) -> list[Row]:
    return await conn.fetch(
        "SELECT id, provider_service, enabled, markup_percent, rate_micros, cost_micros FROM services "
        "WHERE provider_id = $1 ORDER BY id",
        provider_id,
    )


# ------------------------------------------------------------ order claims

_PLACEABLE = "('queued', 'waiting_funds')"


async def claim_for_placement(conn: Conn, provider_id: int, now_s: int, lease_until_s: int, limit: int) -> list[Row]:
    """Mark up to ``limit`` due orders of a provider ``in_flight``; return them.

    Oldest due first. Must be committed before any upstream call.
    """
    claimed = await conn.fetch(
        "UPDATE orders SET upstream_state = 'in_flight', attempts = attempts + 1, lease_until_s = $3, "
        "updated_at_s = $2 WHERE id IN ("
        f"SELECT id FROM orders WHERE provider_id = $1 AND upstream_state IN {_PLACEABLE} AND due_at_s <= $2 "
        f"ORDER BY due_at_s, id LIMIT $4{_skip_locked(conn)}) RETURNING id",
        provider_id,
        now_s,
        lease_until_s,
        limit,
    )
    return await orders_by_ids(conn, [row["id"] for row in claimed])


async def providers_with_due(conn: Conn, states: str, now_s: int, table: str = "orders") -> list[int]:
    rows = await conn.fetch(
        f"SELECT DISTINCT provider_id FROM {table} WHERE upstream_state IN {states} AND due_at_s <= $1 "
        "AND provider_id IS NOT NULL",
        now_s,
    )
    return [row["provider_id"] for row in rows]


async def provider_order_taken(conn: Conn, provider_id: int, provider_order: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM orders WHERE provider_id = $1 AND provider_order = $2", provider_id, provider_order
    )
    return found is not None


async def orders_by_ids(conn: Conn, ids: Sequence[int], *, for_update: bool = False) -> list[Row]:
    if not ids:
        return []
    lock = " FOR UPDATE OF o" if for_update and conn.dialect == "postgresql" else ""
    return await conn.fetch(
        f"SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {_ids_clause(conn, 'o.id', 1)} ORDER BY o.id{lock}",
        _ids_arg(conn, ids),
    )


async def claim_for_polling(conn: Conn, provider_id: int, now_s: int, lease_until_s: int, limit: int) -> list[Row]:
    """Due ``placed`` orders, oldest due first; their due time is pushed to the
    lease end so no other worker polls them meanwhile (polling is harmless to
    repeat, so an expired lease just means another poll)."""
    return await conn.fetch(
        "UPDATE orders SET due_at_s = $3 WHERE id IN ("
        "SELECT id FROM orders WHERE provider_id = $1 AND upstream_state = 'placed' AND due_at_s <= $2 "
        f"ORDER BY due_at_s, id LIMIT $4{_skip_locked(conn)}) RETURNING id, provider_order, created_at_s",
        provider_id,
        now_s,
        lease_until_s,
        limit,
    )


async def claim_cancels(conn: Conn, provider_id: int, limit: int) -> list[Row]:
    """Placed orders whose customer asked to cancel; the flag is cleared now
    and set again if the request provably never left. (A worker that dies
    between this and the call drops the request: the order itself is kept and
    settled by polling, and the customer may ask again.)"""
    return await conn.fetch(
        "UPDATE orders SET cancel_requested = false WHERE id IN ("
        "SELECT id FROM orders WHERE provider_id = $1 AND upstream_state = 'placed' AND cancel_requested "
        f"ORDER BY id LIMIT $2{_skip_locked(conn)}) RETURNING id, provider_order",
        provider_id,
        limit,
    )


async def providers_with_cancels(conn: Conn) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT provider_id FROM orders WHERE upstream_state = 'placed' AND cancel_requested"
    )
    return [row["provider_id"] for row in rows]


async def expire_leases(conn: Conn, now_s: int) -> list[int]:
    """In-flight claims whose worker vanished: their outcome is unknown."""
    rows = await conn.fetch(
        "UPDATE orders SET upstream_state = 'needs_attention', "
        "upstream_error = 'worker stopped during the upstream call; the order may or may not exist upstream', "
        "updated_at_s = $1 WHERE upstream_state = 'in_flight' AND lease_until_s < $1 RETURNING id",
        now_s,
    )
    await conn.execute(
        "UPDATE refills SET upstream_state = 'needs_attention', "
        "upstream_error = 'worker stopped during the upstream call' "
        "WHERE upstream_state = 'in_flight' AND due_at_s < $1",
        now_s,
    )
    return [row["id"] for row in rows]


async def wake_waiting_funds(conn: Conn, provider_id: int, now_s: int) -> None:
    """The upstream took an order again: everything held back for funds goes now."""
    await conn.execute(
        f"UPDATE orders SET due_at_s = $2 WHERE provider_id = $1 AND upstream_state IN {_PLACEABLE} "
        "AND due_at_s > $2",
        provider_id,
        now_s,
    )


async def defer_for_funds(conn: Conn, provider_id: int, until_s: int) -> None:
    """The upstream is out of funds: hold every order waiting to be sent there
    until the next probe, so it gets one probe per retry period, not one per order."""
    await conn.execute(
        f"UPDATE orders SET due_at_s = $2 WHERE provider_id = $1 AND upstream_state IN {_PLACEABLE} "
        "AND due_at_s < $2",
        provider_id,
        until_s,
    )


# ----------------------------------------------------------- refill claims

REFILL_UPSTREAM_COLUMNS = "f.id, f.order_id, f.status, f.provider_refill, o.provider_order, o.provider_id"


async def claim_refills(conn: Conn, state: str, new_state: str | None, provider_id: int, now_s: int,
                        lease_until_s: int, limit: int) -> list[Row]:
    """Due refills of a provider in ``state``; moved to ``new_state`` (or kept)
    with their due time pushed to the lease end."""
    set_state = f", upstream_state = '{new_state}'" if new_state else ""
    claimed = await conn.fetch(
        f"UPDATE refills SET due_at_s = $3{set_state} WHERE id IN ("
        "SELECT f.id FROM refills f JOIN orders o ON o.id = f.order_id WHERE o.provider_id = $1 "
        f"AND f.upstream_state = '{state}' AND f.due_at_s <= $2 ORDER BY f.due_at_s, f.id LIMIT $4"
        f"{' FOR UPDATE OF f SKIP LOCKED' if conn.dialect == 'postgresql' else ''}) RETURNING id",
        provider_id,
        now_s,
        lease_until_s,
        limit,
    )
    if not claimed:
        return []
    ids = [row["id"] for row in claimed]
    return await conn.fetch(
        f"SELECT {REFILL_UPSTREAM_COLUMNS} FROM refills f JOIN orders o ON o.id = f.order_id "
        f"WHERE {_ids_clause(conn, 'f.id', 1)} ORDER BY f.id",
        _ids_arg(conn, ids),
    )


async def providers_with_due_refills(conn: Conn, state: str, now_s: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT o.provider_id FROM refills f JOIN orders o ON o.id = f.order_id "
        "WHERE f.upstream_state = $1 AND f.due_at_s <= $2 AND o.provider_id IS NOT NULL",
        state,
        now_s,
    )
    return [row["provider_id"] for row in rows]
