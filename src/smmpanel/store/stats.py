"""Read-only figures for ``/metrics`` and ``/readyz``: a handful of GROUP BY
queries, run at scrape time only (never on the request path)."""

from __future__ import annotations

from typing import Any

from ..domain.upstream_state import UpstreamState
from .db import Conn


async def orders_by_status(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


async def orders_by_upstream_state(conn: Conn) -> dict[str, int]:
    """Orders resold upstream per state (manual orders have no state)."""
    rows = await conn.fetch(
        "SELECT upstream_state, COUNT(*) AS n FROM orders WHERE upstream_state IS NOT NULL GROUP BY upstream_state"
    )
    return {row["upstream_state"]: int(row["n"]) for row in rows}


async def refills_needing_attention(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COUNT(*) FROM refills WHERE upstream_state = $1", UpstreamState.NEEDS_ATTENTION.value))


async def ledger_totals(conn: Conn) -> dict[str, tuple[int, int]]:
    """Per entry kind: (number of entries, sum of amounts in micro-units)."""
    rows = await conn.fetch("SELECT kind, COUNT(*) AS n, COALESCE(SUM(amount_micros), 0) AS total FROM ledger GROUP BY kind")
    return {row["kind"]: (int(row["n"]), int(row["total"])) for row in rows}


async def balances_total(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT COALESCE(SUM(balance_micros), 0) FROM users"))


async def schema_revision(conn: Conn) -> Any:
    return await conn.fetchval("SELECT version_num FROM alembic_version")
