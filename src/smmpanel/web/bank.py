"""The bank-transfer block of ``/funds`` and the balance the open page polls.

The customer types an amount in dong (a GET form: it changes nothing, so it
works without script and without a CSRF token); the block shows what it
credits, the bank, account, name, amount and transfer content (each with a
copy button) and the VietQR image. ``GET /funds/balance`` answers the
balance as JSON, so the open page shows a deposit within seconds of SePay's
notification, without a reload.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain.errors import InvalidField, PanelError
from ..payments.bank_transfer import qr_svg_data_uri
from ..services import accounts, payments
from ..services.principal import Customer
from .core import Page, page

MAX_VND_DIGITS = 12  # more is not an amount anyone transfers (and not worth parsing)
BALANCE_POLL_S = 3


async def bank_block(current: Page, customer: Any) -> dict[str, Any]:
    """The template values of the block: ``bank`` None when the method is off."""
    terms = current.web.settings.bank
    if terms is None:
        return {"bank": None}
    values: dict[str, Any] = {"bank": terms, "bank_quote": None, "bank_errors": {}, "bank_values": {},
                              "qr_image": None, "balance_poll_s": BALANCE_POLL_S}
    raw = current.request.query_params.get("vnd", "").strip().replace(".", "").replace(",", "").replace(" ", "")
    if not raw:
        return values
    values["bank_values"] = {"vnd": raw[: MAX_VND_DIGITS + 1]}
    try:
        if not raw.isdigit() or len(raw) > MAX_VND_DIGITS:
            raise InvalidField("amount", "integer")
        quote = await payments.quote(current.panel, terms, customer, int(raw))
    except InvalidField as exc:  # the amount's rule, shown at the amount field
        values["bank_errors"] = {"vnd": current.error_text(exc)}
        return values
    values["bank_quote"] = quote
    values["qr_image"] = qr_svg_data_uri(quote.qr_payload)
    return values


@page(signed_in=True)
async def balance(current: Page) -> Response:
    assert current.session is not None
    try:
        micros = await accounts.balance(current.panel, Customer.from_user_id(current.session.user_id))
    except PanelError as exc:
        return JSONResponse({"error": current.error_text(exc)}, status_code=403)
    return JSONResponse({"balance": current.web.money(micros), "balance_micros": micros},
                        headers={"cache-control": "no-store"})


ROUTES = [Route("/funds/balance", balance, methods=["GET"])]
