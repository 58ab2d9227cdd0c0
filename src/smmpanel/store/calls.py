"""The lasting count of upstream requests (``upstream_calls``): added to by
the worker, read by ``/metrics``."""

from __future__ import annotations

from .db import Conn


async def add_calls(tx: Conn, provider_id: int, counts: dict[tuple[str, str], int]) -> None:
    """Add one provider's counts (``(action, outcome) -> requests``) in one statement."""
    keys = sorted(key for key, n in counts.items() if n > 0)  # one row order everywhere: no deadlock
    if not keys:
        return
    rows, args = [], []
    for i, (action, outcome) in enumerate(keys):
        first = 3 * i + 2  # $1 is the provider
        rows.append(f"($1, ${first}, ${first + 1}, ${first + 2})")
        args += [action, outcome, counts[(action, outcome)]]
    values = ", ".join(rows)
    await tx.execute(
        f"INSERT INTO upstream_calls (provider_id, action, outcome, calls) VALUES {values} "
        "ON CONFLICT (provider_id, action, outcome) DO UPDATE SET calls = upstream_calls.calls + excluded.calls",
        provider_id, *args,
    )


async def calls_by_provider(conn: Conn) -> dict[tuple[str, str, str], int]:
    """``(provider name, action, outcome) -> requests``, retired providers included."""
    rows = await conn.fetch(
        "SELECT p.name, c.action, c.outcome, c.calls FROM upstream_calls c JOIN providers p ON p.id = c.provider_id"
    )
    return {(row["name"], row["action"], row["outcome"]): int(row["calls"]) for row in rows}
