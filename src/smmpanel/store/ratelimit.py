"""The shared rate-limit counters: one upsert per bucket, in one transaction."""

from __future__ import annotations

from .db import Conn


async def add_hits(tx: Conn, window_start_s: int, hits: dict[str, int]) -> dict[str, int]:
    """Add each bucket's hits to its window; the totals the store now holds."""
    totals = {}
    for bucket in sorted(hits):  # one order in every process: no deadlock between two flushes
        totals[bucket] = int(await tx.fetchval(
            "INSERT INTO rate_limit_hits (bucket, window_start_s, hits) VALUES ($1, $2, $3) "
            "ON CONFLICT (bucket, window_start_s) DO UPDATE SET hits = rate_limit_hits.hits + excluded.hits "
            "RETURNING hits",
            bucket, window_start_s, hits[bucket],
        ))
    return totals


async def forget_before(conn: Conn, prefix: str, window_start_s: int) -> int:
    """Delete one limiter's (its buckets start with ``prefix``) old windows."""
    return await conn.execute(
        "DELETE FROM rate_limit_hits WHERE window_start_s < $1 AND substr(bucket, 1, $2) = $3",
        window_start_s, len(prefix), prefix,
    )
