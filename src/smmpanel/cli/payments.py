"""Adding funds: funds requests (``funds requests|approve|reject``), bank
transfers (``payments list|assign|dismiss``) and ``payments simulate``,
which plays SePay against a running panel."""

from __future__ import annotations

import secrets
import time
from typing import Any

import click
import httpx
import orjson

from ..domain.money import plain
from ..payments.bank_transfer import BankTransferMethod
from ..services import funds as funds_service
from ..services import payments as payments_service
from ..services.accounts import user_named
from ..services.panel import Panel
from .accounts import funds, users
from .base import emit, json_option, load_settings, main, with_panel

DEFAULT_PANEL_URL = "http://127.0.0.1:8000"
SIMULATE_TIMEOUT_S = 10
ACTOR = "cli"


def _request_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "user": row["user_name"], "amount": plain(row["amount_micros"]),
            "reference": row["reference"], "status": row["status"], "created_at_s": row["created_at_s"],
            "decided_by": row["decided_by"], "note": row["note"]}


@funds.command("requests")
@json_option
@with_panel
async def funds_requests(panel: Panel, as_json: bool) -> None:
    """Funds requests waiting for a decision, oldest first."""
    rows = [_request_json(r) for r in await funds_service.pending_requests(panel)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:>5}  {r['user']:<20} {r['amount']:>14}  {r['reference'] or ''}" for r in rows
    ) or "no pending requests")


@funds.command("approve")
@click.argument("request_id", type=int)
@json_option
@with_panel
async def funds_approve(panel: Panel, request_id: int, as_json: bool) -> None:
    """Credit a funds request (once, however often it is approved)."""
    balance = await funds_service.approve(panel, request_id, ACTOR)
    emit(as_json, {"id": request_id, "status": "approved", "balance": plain(balance)},
         f"request {request_id} approved; balance {plain(balance)}")


@funds.command("reject")
@click.argument("request_id", type=int)
@click.option("--note", default=None, help="Why (the customer sees it).")
@json_option
@with_panel
async def funds_reject(panel: Panel, request_id: int, note: str | None, as_json: bool) -> None:
    await funds_service.reject(panel, request_id, ACTOR, note)
    emit(as_json, {"id": request_id, "status": "rejected"}, f"request {request_id} rejected")


@users.command("show")
@click.argument("name")
@json_option
@with_panel
async def users_show(panel: Panel, name: str, as_json: bool) -> None:
    """One customer, with the transfer content that credits them."""
    row = await user_named(panel, name)
    bank = load_settings().bank
    prefix = bank.prefix if bank else "SMM"
    content = prefix + await payments_service.deposit_code_of(panel, row["id"])
    data = {"id": row["id"], "name": row["name"], "active": bool(row["active"]),
            "balance": plain(row["balance_micros"]), "deposit_code": content}
    emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


# ----------------------------------------------------------------- payments


@main.group("payments")
def payments_group() -> None:
    """Payments seen by a payment method (bank transfers)."""


def _payment_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "method": row["method"], "transaction": row["external_id"], "status": row["status"],
            "reason": row["reason"], "user": row["user_name"], "paid": f"{row['paid_amount']} {row['paid_currency']}",
            "credited": None if row["amount_micros"] is None else plain(row["amount_micros"]),
            "content": row["content"], "reference": row["reference"], "received_at_s": row["received_at_s"],
            "decided_by": row["decided_by"], "note": row["note"]}


@payments_group.command("list")
@click.option("--status", type=click.Choice(payments_service.PAYMENT_STATUSES), default=None)
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@with_panel
async def payments_list(panel: Panel, status: str | None, limit: int, as_json: bool) -> None:
    """Newest first; --status unmatched is the queue to assign or dismiss."""
    rows = [_payment_json(r) for r in await payments_service.list_payments(panel, status, limit=limit)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:>5}  {r['status']:<9} {r['reason'] or '':<14} {r['paid']:>16}  {r['user'] or '-':<16} "
        f"{r['content'] or ''}" for r in rows
    ) or "no payments")


@payments_group.command("assign")
@click.argument("payment_id", type=int)
@click.argument("user")
@click.option("--note", default=None)
@json_option
@with_panel
async def payments_assign(panel: Panel, payment_id: int, user: str, note: str | None, as_json: bool) -> None:
    """Credit an unmatched transfer to USER (once)."""
    bank = load_settings().bank
    if bank is None:
        raise click.ClickException("bank transfers are not configured (SMMPANEL_VIETQR_BIN, _ACCOUNT, _NAME)")
    credited = await payments_service.assign(panel, bank, payment_id, user, ACTOR, note)
    emit(as_json, {"id": payment_id, "user": user, "credited": plain(credited)},
         f"payment {payment_id}: {plain(credited)} credited to {user}")


@payments_group.command("dismiss")
@click.argument("payment_id", type=int)
@click.option("--note", required=True, help="Why no one is credited.")
@json_option
@with_panel
async def payments_dismiss(panel: Panel, payment_id: int, note: str, as_json: bool) -> None:
    await payments_service.dismiss(panel, payment_id, ACTOR, note)
    emit(as_json, {"id": payment_id, "status": "dismissed"}, f"payment {payment_id} dismissed")


@payments_group.command("simulate")
@click.option("--code", required=True, help="The transfer content (a customer's deposit_code).")
@click.option("--amount", required=True, type=int, help="Whole dong.")
@click.option("--url", default=DEFAULT_PANEL_URL, show_default=True, help="The running panel.")
@click.option("--id", "transaction_id", default=None, help="SePay's transaction id (default: a fresh one).")
@json_option
def payments_simulate(code: str, amount: int, url: str, transaction_id: str | None, as_json: bool) -> None:
    """Send SePay's notification of an incoming transfer to a running panel,
    authenticated with this panel's SMMPANEL_SEPAY_API_KEY."""
    settings = load_settings()
    if settings.bank is None or settings.sepay_api_key is None:
        raise click.ClickException("set SMMPANEL_SEPAY_API_KEY and SMMPANEL_VIETQR_BIN/_ACCOUNT/_NAME first")
    ident = transaction_id or f"{int(time.time())}{secrets.randbelow(10**6):06d}"
    body = {
        "id": int(ident) if ident.isdigit() else ident, "gateway": "Simulated", "accountNumber": settings.bank.account,
        "transactionDate": time.strftime("%Y-%m-%d %H:%M:%S"), "code": None, "content": code, "transferType": "in",
        "transferAmount": amount, "accumulated": None, "subAccount": None, "referenceCode": f"SIM{ident}",
        "description": f"simulated by smmpanel: {code}",
    }
    try:
        reply = httpx.post(url.rstrip("/") + BankTransferMethod.path, content=orjson.dumps(body),
                           headers={"Authorization": f"Apikey {settings.sepay_api_key}",
                                    "Content-Type": "application/json"}, timeout=SIMULATE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    try:
        answer = reply.json()
    except ValueError:
        answer = reply.text
    emit(as_json, {"status": reply.status_code, "reply": answer, "transaction": ident},
         f"HTTP {reply.status_code}: {answer} (transaction {ident})")
    if not reply.is_success:
        raise SystemExit(1)
