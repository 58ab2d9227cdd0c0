"""Bank transfers: the panel's account, customers' deposit codes, finding a
code in what the bank delivers, and converting dong into the panel currency.

**Deposit codes.** The transfer content a customer types (or the QR
pre-fills) is the panel's prefix and the customer's code: ``SMM`` +
``K7QX2M``. Codes are ``CODE_LENGTH`` characters of ``CODE_ALPHABET``:
digits and capitals without ``0 O 1 I L`` (read and typed wrongly), nothing a
bank drops (spaces, punctuation, diacritics) and nothing it changes (case is
normalised away). All codes have one length, so no code is a prefix of
another: ``SMM1`` can never take ``SMM12``'s money.

**Finding the code.** Banks add text around the content (``MBVCB.123.SMM
K7QX2M.CT tu 0123...``), change case, add or remove spaces and punctuation.
The content is normalised (diacritics and everything but letters and
digits removed, upper case) and every place the prefix occurs yields the
``CODE_LENGTH`` characters after it as a candidate. Only candidates that are
a customer's code count; two different customers' codes in one content are
ambiguous, and an operator decides.

Pure: no I/O.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from .errors import InvalidField
from .money import MAX_AMOUNT_MICROS, to_micros
from .vietqr import MAX_PURPOSE_CHARS, bank_label, payload

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6  # 31^6: almost 900 million codes, so a random one rarely collides
MAX_PREFIX_CHARS = MAX_PURPOSE_CHARS - CODE_LENGTH
# One transfer above this is a typo or an attack, not a deposit (10 billion dong).
MAX_TRANSFER_VND = 10_000_000_000

# Why a transfer was recorded but not credited (an operator decides):
NO_CODE = "no_code"
UNKNOWN_CODE = "unknown_code"
AMBIGUOUS_CODE = "ambiguous_code"
BELOW_MINIMUM = "below_minimum"
UNMATCHED_REASONS = (NO_CODE, UNKNOWN_CODE, AMBIGUOUS_CODE, BELOW_MINIMUM)


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    return "".join(CODE_ALPHABET[randbelow(len(CODE_ALPHABET))] for _ in range(CODE_LENGTH))


def normalise(text: str) -> str:
    """Upper-case letters and digits only, diacritics removed (``đ`` -> ``D``)."""
    text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text.upper() if c.isascii() and c.isalnum())


def candidate_codes(text: str | None, prefix: str) -> list[str]:
    """Every code-shaped run following the prefix in ``text``, in order, once each."""
    flat = normalise(text or "")
    found: list[str] = []
    start = flat.find(prefix)
    while start != -1:
        code = flat[start + len(prefix) : start + len(prefix) + CODE_LENGTH]
        if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code) and code not in found:
            found.append(code)
        start = flat.find(prefix, start + 1)
    return found


def check_transfer_vnd(amount: object, field: str = "amount") -> int:
    """A whole, positive number of dong within ``MAX_TRANSFER_VND``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidField(field, "integer")
    if amount <= 0:
        raise InvalidField(field, "positive")
    if amount > MAX_TRANSFER_VND:
        raise InvalidField(field, "at_most", max=MAX_TRANSFER_VND)
    return amount


@dataclass(frozen=True)
class BankTerms:
    """The panel's receiving account and the rules of a deposit by transfer."""

    bin: str  # the bank's 6-digit NAPAS BIN
    account: str
    account_name: str
    prefix: str = "SMM"
    min_vnd: int = 10_000
    vnd_rate: Decimal = Decimal(1)  # panel-currency value of 1 dong

    def content_for(self, code: str) -> str:
        """The transfer content that credits the customer holding ``code``."""
        return self.prefix + code

    def credit_micros(self, amount_vnd: int) -> int:
        """Dong converted into the panel currency, by the ledger's rounding rule."""
        micros = to_micros(Decimal(amount_vnd) * self.vnd_rate)
        if micros > MAX_AMOUNT_MICROS:
            raise InvalidField("amount", "too_large")
        return micros

    def receives_on(self, account: str | None, sub_account: str | None) -> bool:
        """Whether a transfer to this account (or virtual sub-account) is ours."""
        return self.account in (account, sub_account)

    def quote(self, code: str, amount_vnd: object) -> "TransferQuote":
        """What the customer must send for ``amount_vnd``, and what it credits."""
        amount = check_transfer_vnd(amount_vnd)
        if amount < self.min_vnd:
            raise InvalidField("amount", "at_least", min=self.min_vnd)
        content = self.content_for(code)
        return TransferQuote(
            bin=self.bin, bank=bank_label(self.bin), account=self.account, account_name=self.account_name, amount_vnd=amount,
            content=content, credit_micros=self.credit_micros(amount),
            qr_payload=payload(bin=self.bin, account=self.account, amount_vnd=amount, purpose=content),
        )


@dataclass(frozen=True)
class TransferQuote:
    bin: str
    bank: str  # the bank's name and BIN, as shown to the customer
    account: str
    account_name: str
    amount_vnd: int
    content: str
    credit_micros: int
    qr_payload: str


@dataclass(frozen=True)
class IncomingTransfer:
    """A bank transaction as a verified notification describes it."""

    external_id: str  # the notifier's transaction id: one payment per id, ever
    incoming: bool  # money in (not a transfer out of the account)
    amount_vnd: int
    account: str | None
    sub_account: str | None
    content: str  # the transfer content as the bank delivered it
    code: str | None  # a payment code the notifier itself found, if any
    reference: str | None  # the bank's reference
    details: dict  # the notification as received, for the operator

    def candidate_codes(self, prefix: str) -> list[str]:
        found = candidate_codes(self.content, prefix)
        return found + [c for c in candidate_codes(self.code, prefix) if c not in found]
