"""Idempotency keys: claimed in the transaction of the write they guard.

A key older than its lifetime no longer counts: a claim takes it over in
place (the upsert's ``WHERE``), so no write has to delete expired keys first;
``forget_expired`` only reclaims their space, from maintenance.
"""

from __future__ import annotations

from typing import Any, Sequence

from .db import Conn


def claim_sql(user: str, key: str, fingerprint: str, now: str, expired_before: str) -> str:
    """The claim, its parameters' placeholders given (it is also part of a
    bigger statement, ``store.orders``): returns a row when the key is ours
    now (new, or its earlier claim had expired), none when it was claimed
    (and committed) before. On PostgreSQL a claim still uncommitted in
    another transaction makes it wait for that transaction, so two requests
    with one key never both win."""
    return (
        "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, reply, created_at_s) "
        f"VALUES ({user}, {key}, {fingerprint}, '', {now}) ON CONFLICT (user_id, idem_key) DO UPDATE "
        "SET fingerprint = excluded.fingerprint, reply = '', created_at_s = excluded.created_at_s "
        f"WHERE idempotency_keys.created_at_s < {expired_before} RETURNING 1"
    )


_CLAIM = claim_sql("$1", "$2", "$3", "$4", "$5")


async def claim(tx: Conn, user_id: int, key: str, fingerprint: str, now_s: int, expired_before_s: int) -> bool:
    """True: the key is ours now. False: it was claimed before (``claim_sql``)."""
    return await tx.fetchval(_CLAIM, user_id, key, fingerprint, now_s, expired_before_s) is not None


async def claimed(conn: Conn, user_id: int, key: str, expired_before_s: int) -> Any:
    """The live claim of ``key``: its (fingerprint, reply), or None."""
    return await conn.fetchrow(
        "SELECT fingerprint, reply FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2 AND created_at_s >= $3",
        user_id, key, expired_before_s)


async def release(tx: Conn, user_id: int, key: str) -> None:
    """Give a claim back: the write it guarded was refused."""
    await tx.execute("DELETE FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2", user_id, key)


async def save_reply(tx: Conn, user_id: int, key: str, reply: str) -> None:
    await tx.execute("UPDATE idempotency_keys SET reply = $3 WHERE user_id = $1 AND idem_key = $2", user_id, key,
                     reply)


async def save_replies(tx: Conn, replies: Sequence[tuple[int, str, str]]) -> None:
    """``save_reply`` for each (user id, key, reply): one statement on PostgreSQL."""
    if tx.dialect != "postgresql":
        for user_id, key, reply in replies:
            await save_reply(tx, user_id, key, reply)
        return
    users, keys, texts = zip(*replies)
    await tx.execute(
        "UPDATE idempotency_keys k SET reply = r.reply FROM unnest($1::bigint[], $2::text[], $3::text[]) "
        "AS r(user_id, idem_key, reply) WHERE k.user_id = r.user_id AND k.idem_key = r.idem_key",
        list(users), list(keys), list(texts))


async def forget_expired(conn: Conn, created_before_s: int) -> int:
    """Delete every expired key (all accounts); how many went."""
    return await conn.execute("DELETE FROM idempotency_keys WHERE created_at_s < $1", created_before_s)
