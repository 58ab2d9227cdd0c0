"""The SQL of adding funds: deposits paid for, funds requests, payments seen
by a payment method, and customers' deposit codes.

Exactly-once rests on the database, never on a status read first:
* a decision on a funds request or an unmatched payment is an ``UPDATE ...
  WHERE status = <undecided>``: of two racing decisions one updates the row,
  the other finds it decided (PostgreSQL re-checks the condition after the
  row lock; SQLite runs one writer at a time);
* a payment is inserted ``ON CONFLICT (method, external_id) DO NOTHING``: a
  repeated notification inserts nothing and so credits nothing;
* ``ledger_id`` is unique in both tables: one deposit links one payment.
"""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from .db import Conn, Row

# ----------------------------------------------------------------- deposits


async def credit(
    conn: Conn, user_id: int, amount_micros: int, now_s: int, *, method: str, note: str | None,
    actor: str | None = None,
) -> tuple[int, int]:
    """Post a paid-for deposit in the caller's transaction: (ledger id, new balance).

    Unlike ``accounts.post_entry`` it returns the entry's id (the payment links
    it) and records the payment method. Money that arrived is credited even
    to a disabled account: disabling stops spending, not receiving.
    """
    balance = await conn.fetchval(
        "UPDATE users SET balance_micros = balance_micros + $2 WHERE id = $1 RETURNING balance_micros",
        user_id,
        amount_micros,
    )
    if balance is None:
        raise LookupError(f"user {user_id} vanished inside its own transaction")
    ledger_id = await conn.fetchval(
        "INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, note, created_at_s, actor, method) "
        "VALUES ($1, 'deposit', $2, $3, $4, $5, $6, $7) RETURNING id",
        user_id,
        amount_micros,
        balance,
        note,
        now_s,
        actor,
        method,
    )
    return ledger_id, balance


# ----------------------------------------------------------- funds requests

FUNDS_REQUEST_COLUMNS = (
    "r.id, r.user_id, u.name AS user_name, r.amount_micros, r.reference, r.status, r.created_at_s, "
    "r.decided_at_s, r.decided_by, r.note, r.ledger_id"
)
FUNDS_REQUEST_FROM = "funds_requests r JOIN users u ON u.id = r.user_id"


async def insert_funds_request(conn: Conn, user_id: int, amount_micros: int, reference: str | None, now_s: int) -> int:
    return await conn.fetchval(
        "INSERT INTO funds_requests (user_id, amount_micros, reference, status, created_at_s) "
        "VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
        user_id,
        amount_micros,
        reference,
        now_s,
    )


async def lock_user(conn: Conn, user_id: int) -> bool:
    """Serialise one customer's writes here (PostgreSQL row lock; SQLite
    transactions are serial already). False when there is no such user."""
    suffix = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    return await conn.fetchval(f"SELECT id FROM users WHERE id = $1{suffix}", user_id) is not None


async def pending_request_count(conn: Conn, user_id: int) -> int:
    return await conn.fetchval(
        "SELECT COUNT(*) FROM funds_requests WHERE user_id = $1 AND status = 'pending'", user_id
    )


async def funds_requests_of(conn: Conn, user_id: int, limit: int) -> list[Row]:
    return await conn.fetch(
        f"SELECT {FUNDS_REQUEST_COLUMNS} FROM {FUNDS_REQUEST_FROM} WHERE r.user_id = $1 ORDER BY r.id DESC LIMIT $2",
        user_id,
        limit,
    )


async def pending_funds_requests(conn: Conn, limit: int) -> list[Row]:
    return await conn.fetch(
        f"SELECT {FUNDS_REQUEST_COLUMNS} FROM {FUNDS_REQUEST_FROM} WHERE r.status = 'pending' ORDER BY r.id LIMIT $1",
        limit,
    )


async def funds_request(conn: Conn, request_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {FUNDS_REQUEST_COLUMNS} FROM {FUNDS_REQUEST_FROM} WHERE r.id = $1", request_id)


async def decide_funds_request(
    conn: Conn, request_id: int, status: str, now_s: int, actor: str, note: str | None
) -> Row | None:
    """Pending -> ``status``; None when it was not pending (or not there)."""
    return await conn.fetchrow(
        "UPDATE funds_requests SET status = $2, decided_at_s = $3, decided_by = $4, note = $5 "
        "WHERE id = $1 AND status = 'pending' RETURNING user_id, amount_micros",
        request_id,
        status,
        now_s,
        actor,
        note,
    )


async def link_funds_request(conn: Conn, request_id: int, ledger_id: int) -> None:
    await conn.execute("UPDATE funds_requests SET ledger_id = $2 WHERE id = $1", request_id, ledger_id)


# ----------------------------------------------------------------- payments

PAYMENT_COLUMNS = (
    "p.id, p.method, p.external_id, p.status, p.reason, p.user_id, u.name AS user_name, p.paid_amount, "
    "p.paid_currency, p.amount_micros, p.ledger_id, p.reference, p.content, p.received_at_s, "
    "p.decided_at_s, p.decided_by, p.note"
)
PAYMENT_FROM = "payments p LEFT JOIN users u ON u.id = p.user_id"


async def insert_payment(
    conn: Conn, *, method: str, external_id: str, reason: str | None, user_id: int | None, paid_amount: str,
    paid_currency: str,
    reference: str | None, content: str | None, details: dict[str, Any], now_s: int,
) -> int | None:
    """Record money seen arriving, as unmatched; None when this (method,
    external id) was recorded before: a repeat, to be acknowledged and ignored."""
    return await conn.fetchval(
        "INSERT INTO payments (method, external_id, status, reason, user_id, paid_amount, paid_currency, reference, "
        "content, details, received_at_s) VALUES ($1, $2, 'unmatched', $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (method, external_id) DO NOTHING RETURNING id",
        method,
        external_id,
        reason,
        user_id,
        paid_amount,
        paid_currency,
        reference,
        content,
        orjson.dumps(details).decode(),
        now_s,
    )


async def mark_credited(
    conn: Conn, payment_id: int, user_id: int, amount_micros: int, ledger_id: int, now_s: int | None = None,
    actor: str | None = None, note: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE payments SET status = 'credited', user_id = $2, amount_micros = $3, ledger_id = $4, "
        "decided_at_s = $5, decided_by = $6, note = $7 WHERE id = $1",
        payment_id,
        user_id,
        amount_micros,
        ledger_id,
        now_s,
        actor,
        note,
    )


async def claim_unmatched(conn: Conn, payment_id: int) -> Row | None:
    """Take an unmatched payment for a decision: its row, or None when it is
    not unmatched (any more). The update is the lock a racing decision waits on."""
    return await conn.fetchrow(
        "UPDATE payments SET status = status WHERE id = $1 AND status = 'unmatched' "
        "RETURNING id, method, paid_amount, paid_currency, reference",
        payment_id,
    )


async def dismiss_payment(conn: Conn, payment_id: int, now_s: int, actor: str, note: str) -> None:
    await conn.execute(
        "UPDATE payments SET status = 'dismissed', decided_at_s = $2, decided_by = $3, note = $4 WHERE id = $1",
        payment_id,
        now_s,
        actor,
        note,
    )


async def payment(conn: Conn, payment_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM} WHERE p.id = $1", payment_id)


async def payments_with_status(conn: Conn, status: str | None, limit: int) -> list[Row]:
    if status is None:
        return await conn.fetch(f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM} ORDER BY p.id DESC LIMIT $1", limit)
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM} WHERE p.status = $1 ORDER BY p.id DESC LIMIT $2", status, limit
    )


async def payments_of(conn: Conn, user_id: int, limit: int) -> list[Row]:
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM {PAYMENT_FROM} WHERE p.user_id = $1 AND p.status = 'credited' "
        "ORDER BY p.id DESC LIMIT $2",
        user_id,
        limit,
    )


# ------------------------------------------------------------ deposit codes


async def deposit_code(conn: Conn, user_id: int) -> Row | None:
    """(deposit_code,) of the user, the code None when not given yet; None: no such user."""
    return await conn.fetchrow("SELECT deposit_code FROM users WHERE id = $1", user_id)


async def give_deposit_code(conn: Conn, user_id: int, code: str) -> None:
    """Set the code unless the user has one; a code taken by another user
    raises ``IntegrityError`` (the unique index)."""
    await conn.execute("UPDATE users SET deposit_code = $2 WHERE id = $1 AND deposit_code IS NULL", user_id, code)


async def users_by_deposit_codes(conn: Conn, codes: Sequence[str]) -> list[Row]:
    if conn.dialect == "postgresql":
        return await conn.fetch("SELECT id, deposit_code FROM users WHERE deposit_code = ANY($1::text[])", list(codes))
    return await conn.fetch(
        "SELECT id, deposit_code FROM users WHERE deposit_code IN (SELECT value FROM json_each($1))",
        orjson.dumps(list(codes)).decode(),
    )

# ------------------------------------------------------ operator's reads (/admin)


async def pending_funds_total(conn: Conn) -> tuple[int, int]:
    """How many funds requests wait, and their total."""
    row = await conn.fetchrow(
        "SELECT COUNT(*) AS n, COALESCE(SUM(amount_micros), 0) AS total FROM funds_requests WHERE status = 'pending'"
    )
    return int(row["n"]), int(row["total"])
