"""Idempotency keys: claimed in the transaction of the write they guard.

A key older than its lifetime no longer counts: a claim takes it over in
place (the upsert's ``WHERE``), so no write has to delete expired keys first;
``forget_expired`` only reclaims their space, from maintenance.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import orjson

from .db import Conn
from .groupcommit import MAX_BATCH


def claim_sql(user: str, key: str, fingerprint: str, reply: str, now: str, expired_before: str,
              source: str = "") -> str:
    """The claim, its values as SQL expressions (it is also part of a bigger
    statement, ``store.orders``, where ``source`` is a ``FROM`` they read):
    returns a row when the key is ours now (new, or its earlier claim had
    expired), none when it was claimed (and committed) before. On PostgreSQL
    a claim still uncommitted in another transaction makes it wait for that
    transaction, so two requests with one key never both win."""
    # "WHERE true": SQLite's parser needs a WHERE before an upsert's ON CONFLICT.
    return (
        f"{_INSERT} SELECT {user}, {key}, {fingerprint}, {reply}, {now}{source} WHERE true "
        f"{_take_over(expired_before)} RETURNING 1"
    )


_INSERT = "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, reply, created_at_s)"


def _take_over(expired_before: str) -> str:
    return ("ON CONFLICT (user_id, idem_key) DO UPDATE "
            "SET fingerprint = excluded.fingerprint, reply = excluded.reply, created_at_s = excluded.created_at_s "
            f"WHERE idempotency_keys.created_at_s < {expired_before}")


_CLAIM = claim_sql("$1", "$2", "$3", "$6", "$4", "$5")
# SQLite: the same upsert with VALUES and no RETURNING, the rows it changed
# telling the outcome (1: ours; 0: claimed before). SQLite runs an INSERT
# ... SELECT and a RETURNING clause at ~25k instructions each per statement.
_SQLITE_CLAIM = f"{_INSERT} VALUES ($1, $2, $3, $6, $4) {_take_over('$5')}"


async def claim(tx: Conn, user_id: int, key: str, fingerprint: str, now_s: int, expired_before_s: int,
                reply: str = "") -> bool:
    """True: the key is ours now. False: it was claimed before (``claim_sql``).
    ``reply``: the write's reply when it is known already, else ``save_reply`` it."""
    if tx.dialect == "sqlite":
        return await tx.execute(_SQLITE_CLAIM, user_id, key, fingerprint, now_s, expired_before_s, reply) == 1
    return await tx.fetchval(_CLAIM, user_id, key, fingerprint, now_s, expired_before_s, reply) is not None


@lru_cache(maxsize=MAX_BATCH)  # one statement per number of keys in a batch
def _sqlite_claim_many(count: int) -> str:
    rows = ", ".join("(" + ", ".join(f"${5 * i + j}" for j in range(1, 6)) + ")" for i in range(count))
    return f"{_INSERT} VALUES {rows} {_take_over(f'${5 * count + 1}')}"


# PostgreSQL's form: the claims as one JSON array of arrays (asyncpg encodes
# a list parameter element by element; orjson writes the whole batch in one
# call), and no RETURNING (the count of rows written says whether all are
# ours, as on SQLite: a row per claim returned cost the panel ~2k
# instructions each to decode).
_PG_CLAIM_MANY = (
    f"{_INSERT} SELECT (c->>0)::int, c->>1, c->>2, c->>3, (c->>4)::bigint "
    "FROM jsonb_array_elements($1::text::jsonb) AS c "
    f"{_take_over('$2')}"
)


async def claim_many(tx: Conn, claims: Sequence[tuple[int, str, str, str, int]], expired_before_s: int) -> bool:
    """Claim several distinct keys (user_id, key, fingerprint, reply, now_s)
    in one statement. True: every one is ours now. False: some were claimed
    before; ``claimed`` tells which (a key is ours if its reply is the one
    given here). ``expired_before_s``: one for all, the latest of the
    requests' (they were made within a second or two of each other)."""
    if tx.dialect == "postgresql":
        written = await tx.execute(_PG_CLAIM_MANY, orjson.dumps(claims).decode(), expired_before_s)
    else:
        args = [value for claim in claims for value in claim]
        written = await tx.execute(_sqlite_claim_many(len(claims)), *args, expired_before_s)
    return written == len(claims)


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


async def forget_expired(conn: Conn, created_before_s: int) -> int:
    """Delete every expired key (all accounts); how many went."""
    return await conn.execute("DELETE FROM idempotency_keys WHERE created_at_s < $1", created_before_s)
