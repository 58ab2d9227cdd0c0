"""Bank transfer with VietQR, credited by SePay's webhook.

The customer sees the panel's account and a transfer content naming them
(prefix + deposit code, ``domain.banktransfer``) as text and as a VietQR
code; SePay watches the account and posts each transaction to
``/hooks/sepay`` with ``Authorization: Apikey <key>``. Its notification
(JSON) carries ``id`` (unique per transaction), ``gateway``,
``transactionDate``, ``accountNumber``, ``subAccount``, ``code``,
``content``, ``transferType`` (``in``/``out``), ``transferAmount`` (whole
dong), ``accumulated``, ``referenceCode``, ``description``.
"""

from __future__ import annotations

import hmac
from typing import Any, ClassVar

import orjson
import segno

from ..domain.banktransfer import BankTerms, IncomingTransfer, TransferQuote, check_transfer_vnd
from ..domain.errors import InvalidField, NotificationUnauthorized
from ..services import payments
from ..services.panel import Panel
from .base import NotifiedMethod

MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 1000
TRANSFER_TYPES = ("in", "out")
QR_SCALE = 6  # pixels per module of the SVG: about 300 px wide, easy to scan off a screen


class BankTransferMethod(NotifiedMethod):
    name: ClassVar[str] = payments.BANK_TRANSFER
    title: ClassVar[str] = "Bank transfer (VietQR)"
    path: ClassVar[str] = "/hooks/sepay"

    def __init__(self, terms: BankTerms | None, sepay_api_key: str | None) -> None:
        self.terms = terms
        self._key = sepay_api_key.encode() if sepay_api_key else None

    def __repr__(self) -> str:  # never the key
        return f"BankTransferMethod(terms={self.terms!r}, webhook={'on' if self._key else 'off'})"

    @property
    def enabled(self) -> bool:
        return self.terms is not None

    @property
    def accepts_notifications(self) -> bool:
        return self.terms is not None and self._key is not None

    async def quote(self, panel: Panel, customer: int, amount_vnd: object) -> TransferQuote:
        if self.terms is None:
            raise InvalidField("method", "one_of", allowed="manual")
        return await payments.quote(panel, self.terms, customer, amount_vnd)

    def verify(self, headers: dict[str, str], body: bytes) -> IncomingTransfer:
        if not self.accepts_notifications or not self._authorized(headers.get("authorization")):
            raise NotificationUnauthorized()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidField("body", "json_object") from None
        if not isinstance(data, dict):
            raise InvalidField("body", "json_object")
        return parse_notification(data)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").strip().partition(" ")
        # compare_digest: the time taken says nothing about how much of the key matched
        same = hmac.compare_digest(token.strip().encode(), self._key or b"")
        return scheme.lower() == "apikey" and same

    async def record(self, panel: Panel, payment: IncomingTransfer) -> payments.Receipt:
        assert self.terms is not None  # verify() refused everything otherwise
        return await payments.receive_transfer(panel, self.terms, payment)


def parse_notification(data: dict[str, Any]) -> IncomingTransfer:
    """A SePay notification, every field checked for presence and type."""
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (int, str)):
        raise InvalidField("id", "required" if raw_id is None else "text")
    if isinstance(raw_id, int) and raw_id <= 0:
        raise InvalidField("id", "positive")
    external_id = str(raw_id).strip()
    if not external_id:
        raise InvalidField("id", "required")
    if len(external_id) > MAX_ID_CHARS:
        raise InvalidField("id", "too_long", max=MAX_ID_CHARS)
    transfer_type = _text(data, "transferType", required=True)
    if transfer_type not in TRANSFER_TYPES:
        raise InvalidField("transferType", "one_of", allowed=", ".join(TRANSFER_TYPES))
    if "transferAmount" not in data:
        raise InvalidField("transferAmount", "required")
    amount = check_transfer_vnd(data["transferAmount"], "transferAmount")
    accumulated = data.get("accumulated")
    if accumulated is not None and (isinstance(accumulated, bool) or not isinstance(accumulated, int)):
        raise InvalidField("accumulated", "integer")
    for name in ("gateway", "transactionDate", "description"):
        _text(data, name)
    return IncomingTransfer(
        external_id=external_id,
        incoming=transfer_type == "in",
        amount_vnd=amount,
        account=_text(data, "accountNumber", required=True),
        sub_account=_text(data, "subAccount"),
        content=_text(data, "content") or "",
        code=_text(data, "code"),
        reference=_text(data, "referenceCode"),
        details=data,
    )


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "required")
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "text")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidField(name, "too_long", max=MAX_TEXT_CHARS)
    if required and not value.strip():
        raise InvalidField(name, "required")
    return value


def qr_svg_data_uri(qr_payload: str) -> str:
    """The VietQR image as an SVG ``data:`` URI, for an ``<img src>``."""
    return segno.make_qr(qr_payload, error="m").svg_data_uri(scale=QR_SCALE)
