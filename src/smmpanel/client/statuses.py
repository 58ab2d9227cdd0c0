"""Upstream status words onto our vocabulary (spec section 6).

Only what is unambiguous is mapped; anything else gives ``None`` (the caller
keeps the raw value, logs it, and never turns it into a refund).

Order statuses, compared case-insensitively with spaces, ``_`` and ``-``
ignored (``"IN_PROGRESS"``, ``"inprogress"``, ``"In Progress"`` are one word):

=================================== ============ ==============================
upstream word                       ours         why
=================================== ============ ==============================
pending                             Pending
processing                          Processing
in progress                         In progress
completed, complete                 Completed
partial                             Partial
canceled, cancelled (British)       Canceled
refunded                            Canceled     the upstream gave all the money back
fail, failed, error                 None         Perfect Panel shows these for an order
                                                 its own provider call failed; the
                                                 upstream's operator may still resend
                                                 it, so it is NOT a cancel: no refund
anything else                       None
=================================== ============ ==============================

Numeric codes (``"status": 2`` or ``"2"``) go through a code table. The
default is the Perfect Panel admin numbering (``PERFECT_PANEL_STATUS_CODES``),
the most common source of numeric statuses; codes 6 (Fail) and 7 (Error) map
to ``None`` as above. This numbering is a convention, not part of any
published API: pass ``status_codes={}`` to ``ProviderClient`` to refuse every
numeric status for a panel that numbers differently, or its own table.

Refill statuses: pending, in progress (and processing), completed, rejected;
canceled/cancelled -> Rejected (a refill moves no money, so this is safe);
anything else -> ``None``.
"""

from __future__ import annotations

import re
from typing import Mapping

from ..domain.status import RefillStatus, Status

_SEPARATORS = re.compile(r"[\s_\-]+")

ORDER_WORDS: Mapping[str, Status] = {
    "pending": Status.PENDING,
    "processing": Status.PROCESSING,
    "inprogress": Status.IN_PROGRESS,
    "completed": Status.COMPLETED,
    "complete": Status.COMPLETED,
    "partial": Status.PARTIAL,
    "canceled": Status.CANCELED,
    "cancelled": Status.CANCELED,
    "refunded": Status.CANCELED,
}

# Words that are known but deliberately not mapped (documented above).
UNMAPPED_ORDER_WORDS = frozenset({"fail", "failed", "error"})

PERFECT_PANEL_STATUS_CODES: Mapping[int, Status | None] = {
    0: Status.PENDING,
    1: Status.IN_PROGRESS,
    2: Status.COMPLETED,
    3: Status.PARTIAL,
    4: Status.CANCELED,
    5: Status.PROCESSING,
    6: None,  # Fail
    7: None,  # Error
}

REFILL_WORDS: Mapping[str, RefillStatus] = {
    "pending": RefillStatus.PENDING,
    "inprogress": RefillStatus.IN_PROGRESS,
    "processing": RefillStatus.IN_PROGRESS,
    "completed": RefillStatus.COMPLETED,
    "complete": RefillStatus.COMPLETED,
    "rejected": RefillStatus.REJECTED,
    "canceled": RefillStatus.REJECTED,
    "cancelled": RefillStatus.REJECTED,
}

_CODE = re.compile(r"[0-9]{1,3}")


def _word(raw: str) -> str:
    return _SEPARATORS.sub("", raw.strip().lower())


def order_status(raw: str, codes: Mapping[int, Status | None] = PERFECT_PANEL_STATUS_CODES) -> Status | None:
    """Our status for an upstream's word or numeric code, or ``None``."""
    text = raw.strip()
    if _CODE.fullmatch(text):
        return codes.get(int(text))
    return ORDER_WORDS.get(_word(text))


def refill_status(raw: str) -> RefillStatus | None:
    return REFILL_WORDS.get(_word(raw))
