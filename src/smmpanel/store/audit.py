"""The ledger invariants as queries: each returns the rows that break it
(none, when the books are right). ``services.audit`` runs them."""

from __future__ import annotations

from .db import Conn, Row

# (title, query returning the rows that break it)
CHECKS: list[tuple[str, str]] = [
    (
        "balance equals the sum of ledger entries",
        "SELECT u.id, u.name, u.balance_micros, COALESCE(SUM(l.amount_micros), 0) AS ledger_sum "
        "FROM users u LEFT JOIN ledger l ON l.user_id = u.id GROUP BY u.id, u.name, u.balance_micros "
        "HAVING u.balance_micros <> COALESCE(SUM(l.amount_micros), 0)",
    ),
    (
        "what each customer spent equals its charges net of refunds",
        "SELECT u.id, u.name, u.spent_micros, COALESCE(-SUM(l.amount_micros), 0) AS ledger_spent "
        "FROM users u LEFT JOIN ledger l ON l.user_id = u.id AND l.kind IN ('charge', 'refund') "
        "GROUP BY u.id, u.name, u.spent_micros HAVING u.spent_micros <> COALESCE(-SUM(l.amount_micros), 0)",
    ),
    (
        "no negative balance",
        "SELECT id, name, balance_micros FROM users WHERE balance_micros < 0",
    ),
    (
        "running balance follows each entry",
        "SELECT id, user_id, balance_after_micros, expected FROM (SELECT id, user_id, balance_after_micros, "
        "SUM(amount_micros) OVER (PARTITION BY user_id ORDER BY id) AS expected FROM ledger) t "
        "WHERE balance_after_micros <> expected",
    ),
    (
        "every order has one charge entry equal to its charge",
        "SELECT o.id, o.charge_micros, COUNT(l.id) AS entries, COALESCE(SUM(l.amount_micros), 0) AS charged "
        "FROM orders o LEFT JOIN ledger l ON l.order_id = o.id AND l.kind = 'charge' "
        "GROUP BY o.id, o.charge_micros HAVING COUNT(l.id) <> 1 OR COALESCE(SUM(l.amount_micros), 0) <> -o.charge_micros",
    ),
    (
        "refunds are positive, the customer's own, within the charge, on Partial or Canceled orders",
        "SELECT l.id, l.order_id, l.amount_micros, o.charge_micros, o.status FROM ledger l "
        "LEFT JOIN orders o ON o.id = l.order_id WHERE l.kind = 'refund' AND (o.id IS NULL OR "
        "l.amount_micros <= 0 OR l.amount_micros > o.charge_micros OR l.user_id <> o.user_id "
        "OR o.status NOT IN ('Partial', 'Canceled'))",
    ),
    (
        "canceled orders are refunded in full",
        "SELECT o.id, o.charge_micros, COALESCE(l.amount_micros, 0) AS refunded FROM orders o "
        "LEFT JOIN ledger l ON l.order_id = o.id AND l.kind = 'refund' "
        "WHERE o.status = 'Canceled' AND COALESCE(l.amount_micros, 0) <> o.charge_micros",
    ),
    (
        "entry signs match their kind",
        "SELECT id, kind, amount_micros FROM ledger WHERE (kind IN ('deposit', 'refund') AND amount_micros < 0) "
        "OR (kind = 'charge' AND amount_micros > 0) OR (kind <> 'charge' AND kind <> 'adjustment' AND "
        "kind <> 'deposit' AND kind <> 'refund') OR (kind IN ('charge', 'refund') AND order_id IS NULL)",
    ),
    (
        "every approved funds request has one manual deposit of its customer and amount",
        "SELECT r.id, r.user_id, r.amount_micros, r.status, r.ledger_id, l.amount_micros AS credited "
        "FROM funds_requests r LEFT JOIN ledger l ON l.id = r.ledger_id "
        "WHERE (r.status = 'approved') <> (r.ledger_id IS NOT NULL) OR (r.ledger_id IS NOT NULL AND (l.id IS NULL "
        "OR l.kind <> 'deposit' OR l.method IS NULL OR l.method <> 'manual' OR l.user_id <> r.user_id "
        "OR l.amount_micros <> r.amount_micros))",
    ),
    (
        "every credited payment has one deposit of its method, customer and amount",
        "SELECT p.id, p.method, p.user_id, p.amount_micros, p.status, p.ledger_id, l.amount_micros AS credited "
        "FROM payments p LEFT JOIN ledger l ON l.id = p.ledger_id "
        "WHERE (p.status = 'credited') <> (p.ledger_id IS NOT NULL) OR (p.ledger_id IS NOT NULL AND (l.id IS NULL "
        "OR l.kind <> 'deposit' OR l.method IS NULL OR l.method <> p.method OR l.user_id <> p.user_id "
        "OR l.amount_micros <> p.amount_micros))",
    ),
    (
        "every deposit with a payment method has exactly one payment",
        "SELECT l.id, l.user_id, l.method, l.amount_micros, "
        "(SELECT COUNT(*) FROM funds_requests r WHERE r.ledger_id = l.id) "
        "+ (SELECT COUNT(*) FROM payments p WHERE p.ledger_id = l.id) AS payments "
        "FROM ledger l WHERE l.method IS NOT NULL AND (SELECT COUNT(*) FROM funds_requests r WHERE r.ledger_id = l.id) "
        "+ (SELECT COUNT(*) FROM payments p WHERE p.ledger_id = l.id) <> 1",
    ),
]


INVARIANTS = [title for title, _ in CHECKS]


async def violations(conn: Conn, max_rows: int) -> list[tuple[str, list[Row]]]:
    """Each broken invariant's title with up to ``max_rows`` of the rows breaking it."""
    found = []
    for title, sql in CHECKS:
        rows = await conn.fetch(f"{sql} LIMIT {int(max_rows)}")
        if rows:
            found.append((title, rows))
    return found
