"""``smmpanel audit``: every ledger invariant, checked over the whole database.

The invariants (each a query that must return no rows):
1. A user's balance equals the sum of its ledger entries.
2. A user's balance is never negative, and neither is any running balance.
3. Each ledger entry's running balance equals the previous one plus its amount.
4. Every order has exactly one charge entry, equal to minus its charge.
5. A refund is positive, belongs to its order's customer, never exceeds the
   charge, and exists only for an order that is Partial or Canceled.
6. A Canceled order was refunded in full.
7. Entry kinds carry the right sign (deposits and refunds credit, charges debit).
8. Every credited payment (bank transfer, approved funds request, assigned
   unmatched transfer) has exactly one deposit entry of its method, customer
   and amount; every entry with a payment method has exactly one payment.
   (Operator ``funds add`` entries carry no method and are not payments.)
9. What a user spent (``users.spent_micros``, shown and sorted on) equals
   minus the sum of its charge and refund entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..store import audit as audit_store
from .panel import Panel

MAX_ROWS_SHOWN = 20
INVARIANTS = audit_store.INVARIANTS


@dataclass
class Finding:
    check: str
    rows: list[dict]


async def run(panel: Panel) -> list[Finding]:
    return [
        Finding(title, [{k: _integer(v) for k, v in dict(r).items()} for r in rows])
        for title, rows in await audit_store.violations(panel.db, MAX_ROWS_SHOWN)
    ]


def _integer(value: object) -> object:
    """PostgreSQL sums BIGINTs into NUMERIC (a Decimal): give the integer back,
    so a finding reads (and serialises to JSON) the same on both engines."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value
