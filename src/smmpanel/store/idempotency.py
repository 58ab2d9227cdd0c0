"""Idempotency keys: claimed in the transaction of the write they guard."""

from __future__ import annotations

from typing import Any

from .db import Conn


async def forget_expired(tx: Conn, user_id: int, created_before_s: int) -> None:
    await tx.execute("DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at_s < $2", user_id,
                     created_before_s)


async def claim(tx: Conn, user_id: int, key: str, fingerprint: str, now_s: int) -> bool:
    """True: the key is ours now. False: it was claimed (and committed) before.
    On PostgreSQL a claim still uncommitted in another transaction makes this
    wait for that transaction, so two requests with one key never both win."""
    claimed = await tx.fetchval(
        "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, reply, created_at_s) "
        "VALUES ($1, $2, $3, '', $4) ON CONFLICT (user_id, idem_key) DO NOTHING RETURNING 1",
        user_id, key, fingerprint, now_s,
    )
    return claimed is not None


async def claimed(tx: Conn, user_id: int, key: str) -> Any:
    return await tx.fetchrow("SELECT fingerprint, reply FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
                             user_id, key)


async def save_reply(tx: Conn, user_id: int, key: str, reply: str) -> None:
    await tx.execute("UPDATE idempotency_keys SET reply = $3 WHERE user_id = $1 AND idem_key = $2", user_id, key,
                     reply)
