"""Payments a payment method has verified: recorded exactly once, credited
when they name a customer, otherwise kept for an operator to assign (credited
then, once) or dismiss with a note. Also each customer's deposit code and
what a bank transfer of some amount would credit.

Each use case is one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from ..domain import banktransfer
from ..domain.banktransfer import BankTerms, IncomingTransfer, TransferQuote
from ..domain.errors import AlreadyDecided, InvalidField, NotFound
from ..store import payments as store
from ..store.db import IntegrityError
from .accounts import user_named
from .funds import MAX_LIST, MAX_NOTE_CHARS, optional_text
from .panel import Panel
from .principal import Customer, account, check_actor

log = logging.getLogger("smmpanel.payments")

BANK_TRANSFER = "bank_transfer"
PAYMENT_STATUSES = ("credited", "unmatched", "dismissed")
# A fresh random code collides with an existing one about once in a million
# tries at 1000 customers; a few attempts make a failure practically impossible.
MAX_CODE_ATTEMPTS = 8


@dataclass(frozen=True)
class Receipt:
    """What became of a notification."""

    outcome: str  # credited | unmatched | duplicate | ignored
    payment_id: int | None = None
    reason: str | None = None  # unmatched: a banktransfer.UNMATCHED_REASONS; ignored: why
    user_id: int | None = None
    amount_micros: int | None = None


async def deposit_code(panel: Panel, customer: Customer) -> str:
    """The customer's code (without the prefix), given on first need."""
    return await deposit_code_of(panel, (await account(panel, customer))["id"])


async def deposit_code_of(panel: Panel, user_id: int) -> str:
    """Any user's code, for operators (a disabled account keeps its code)."""
    for _ in range(MAX_CODE_ATTEMPTS):
        row = await store.deposit_code(panel.db, user_id)
        if row is None:
            raise NotFound(what="user", name=str(user_id))
        if row["deposit_code"]:
            return row["deposit_code"]
        try:
            async with panel.db.transaction() as tx:
                await store.give_deposit_code(tx, user_id, banktransfer.new_code())
        except IntegrityError:  # another customer holds that code: draw again
            continue
    raise RuntimeError(f"no free deposit code after {MAX_CODE_ATTEMPTS} draws")


async def quote(panel: Panel, terms: BankTerms, customer: Customer, amount_vnd: object) -> TransferQuote:
    """Bank, account, amount, transfer content, QR payload and what it credits."""
    return terms.quote(await deposit_code(panel, customer), amount_vnd)


async def receive_transfer(panel: Panel, terms: BankTerms, transfer: IncomingTransfer) -> Receipt:
    """Record a verified bank transfer and credit it when it names one customer.

    Exactly once: the payment row is inserted first, unique per transaction
    id, and a repeat (replayed or concurrent) inserts nothing and credits
    nothing. Money out, or to another account, is not the panel's: ignored.
    """
    if not transfer.incoming:
        return Receipt("ignored", reason="not_incoming")
    if not terms.receives_on(transfer.account, transfer.sub_account):
        return Receipt("ignored", reason="other_account")
    codes = transfer.candidate_codes(terms.prefix)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        owners = {row["id"] for row in await store.users_by_deposit_codes(tx, codes)} if codes else set()
        if not codes:
            reason = banktransfer.NO_CODE
        elif not owners:
            reason = banktransfer.UNKNOWN_CODE
        elif len(owners) > 1:
            reason = banktransfer.AMBIGUOUS_CODE
        elif transfer.amount_vnd < terms.min_vnd:
            reason = banktransfer.BELOW_MINIMUM
        else:
            reason = None
        payment_id = await store.insert_payment(
            tx, method=BANK_TRANSFER, external_id=transfer.external_id, reason=reason,
            # below the minimum: whose it probably is, for the operator
            user_id=next(iter(owners)) if len(owners) == 1 else None,
            paid_amount=str(transfer.amount_vnd), paid_currency="VND", reference=transfer.reference,
            content=transfer.content, details=transfer.details, now_s=now,
        )
        if payment_id is None:
            return Receipt("duplicate")
        if reason is not None:
            return Receipt("unmatched", payment_id, reason)
        (user_id,) = owners
        amount_micros = terms.credit_micros(transfer.amount_vnd)
        ledger_id, _ = await store.credit(
            tx, user_id, amount_micros, now, method=BANK_TRANSFER, note=_ledger_note(transfer.reference, transfer.external_id),
        )
        await store.mark_credited(tx, payment_id, user_id, amount_micros, ledger_id)
    return Receipt("credited", payment_id, None, user_id, amount_micros)


def _ledger_note(reference: str | None, external_id: str) -> str:
    return f"bank transfer, ref {reference}" if reference else f"bank transfer {external_id}"


async def list_payments(panel: Panel, status: str | None = None, *, limit: int = 100) -> list:
    """Newest first; ``status`` one of ``PAYMENT_STATUSES`` (``unmatched``: the operator's queue)."""
    if status is not None and status not in PAYMENT_STATUSES:
        raise InvalidField("status", "one_of", allowed=", ".join(PAYMENT_STATUSES))
    return await store.payments_with_status(panel.db, status, min(max(limit, 1), MAX_LIST))


async def customer_payments(panel: Panel, customer: Customer, *, limit: int = 50) -> list:
    """The customer's credited payments, newest first."""
    user_id = (await account(panel, customer))["id"]
    return await store.payments_of(panel.db, user_id, min(max(limit, 1), MAX_LIST))


async def _claim(tx, payment_id: int):
    claimed = await store.claim_unmatched(tx, payment_id)
    if claimed is None:
        row = await store.payment(tx, payment_id)
        if row is None:
            raise NotFound(what="payment", name=str(payment_id))
        raise AlreadyDecided(what="payment", id=payment_id, status=row["status"])
    return claimed


async def assign(
    panel: Panel, terms: BankTerms, payment_id: int, user_name: str, actor: str, note: str | None = None
) -> int:
    """Credit an unmatched payment to the named customer, once; returns the
    credited amount in micros. A second assignment (double submit, two
    operators) raises ``AlreadyDecided`` and credits nothing."""
    actor = check_actor(actor)
    note = optional_text(note, "note", MAX_NOTE_CHARS)
    user = await user_named(panel, user_name)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        claimed = await _claim(tx, payment_id)
        amount_micros = terms.credit_micros(int(claimed["paid_amount"]))  # dong: the one currency of transfers
        ledger_id, _ = await store.credit(
            tx, user["id"], amount_micros, now, method=claimed["method"],
            note=_ledger_note(claimed["reference"], str(payment_id)), actor=actor,
        )
        await store.mark_credited(tx, payment_id, user["id"], amount_micros, ledger_id, now, actor, note)
    log.info("payment %s assigned to %s by %s", payment_id, user_name, actor)
    return amount_micros


async def dismiss(panel: Panel, payment_id: int, actor: str, note: str) -> None:
    """Close an unmatched payment without crediting anyone (refunded by the
    bank, a test transfer...): the note says why."""
    actor = check_actor(actor)
    note = optional_text(note, "note", MAX_NOTE_CHARS)
    if note is None:
        raise InvalidField("note", "required")
    async with panel.db.transaction() as tx:
        await _claim(tx, payment_id)
        await store.dismiss_payment(tx, payment_id, panel.clock(), actor, note)
