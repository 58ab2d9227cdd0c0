"""Customers, their keys and their money."""

from __future__ import annotations

from typing import Any

import click

from ..domain.fields import format_duration
from ..domain.money import display, plain, to_micros
from ..services import accounts, auth, catalog
from ..services.paging import MAX_PAGE_ITEMS
from ..services.panel import Panel
from ..services.principal import ACTOR_CLI
from .base import below_cost_warning, emit, json_option, local_time, main, parse_money_arg, table, warn, with_panel


# ------------------------------------------------------------------- users


@main.group()
def users() -> None:
    """Customers and their API keys."""


def _user_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "active": bool(row["active"]),
            "balance": plain(row["balance_micros"]),
            "created_at_s": row["created_at_s"]}


@users.command("add")
@click.argument("name")
@click.option("--balance", default="0", help="Opening balance (a deposit).")
@click.option("--email", default=None, help="Sign-in email for the website.")
@click.option("--password", default=None, help="Website password (else the account is API only).")
@click.option("--operator", is_flag=True, help="An operator account instead of a customer.")
@json_option
@with_panel
async def users_add(panel: Panel, name: str, balance: str, email: str | None, password: str | None, operator: bool,
                    as_json: bool) -> None:
    """Create a customer (or an operator); prints their API key, this once only."""
    opening = parse_money_arg(balance, "balance")
    role = "operator" if operator else "customer"
    user_id, key = await auth.register(panel, name, email=email, password=password, role=role, balance=opening,
                                       actor=ACTOR_CLI)
    emit(as_json, {"id": user_id, "name": name, "api_key": key, "balance": plain(to_micros(opening)), "role": role,
                   "email": email},
         f"{'operator' if operator else 'user'} {name} (id {user_id}) created, balance "
         f"{display(to_micros(opening), panel.currency)} {panel.currency}\nAPI key (shown once): {key}")


@users.command("password")
@click.argument("name")
@click.option("--password", default=None, help="The new password (else read from standard input).")
@json_option
@with_panel
async def users_password(panel: Panel, name: str, password: str | None, as_json: bool) -> None:
    """Set NAME's website password; their open sessions end."""
    if password is None:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
    await auth.set_password(panel, name, password)
    emit(as_json, {"name": name, "password_set": True}, f"password of {name} set; their sessions are signed out")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(auth.ROLES))
@json_option
@with_panel
async def users_role(panel: Panel, name: str, role: str, as_json: bool) -> None:
    """Make NAME an operator or a customer."""
    await auth.set_role(panel, name, role)
    emit(as_json, {"name": name, "role": role}, f"{name} is now {'an operator' if role == 'operator' else 'a customer'}")


@users.command("list")
@json_option
@with_panel
async def users_list(panel: Panel, as_json: bool) -> None:
    """Every customer, with balance and creation time."""
    users_ = await accounts.list_users(panel)
    emit(as_json, [_user_json(r) for r in users_], lambda: table(
        ["ID", "NAME", "STATUS", f"BALANCE {panel.currency}", "CREATED"],
        [(r["id"], r["name"], "active" if r["active"] else "disabled", display(r["balance_micros"], panel.currency),
          local_time(r["created_at_s"])) for r in users_],
        right=["ID", f"BALANCE {panel.currency}"], empty="no users"))


@users.command("statement")
@click.argument("name")
@click.option("--limit", default=accounts.STATEMENT_LIMIT, show_default=True, type=click.IntRange(1, MAX_PAGE_ITEMS),
              help="How many entries, newest first.")
@json_option
@with_panel
async def users_statement(panel: Panel, name: str, limit: int, as_json: bool) -> None:
    """A customer's ledger: every charge, refund, deposit and adjustment, newest first."""
    user, entries = await accounts.user_statement(panel, name, limit=limit)
    cur = panel.currency
    data = {"name": user["name"], "balance": plain(user["balance_micros"]), "currency": cur, "entries": [
        {"id": e.id, "time_s": e.created_at_s, "kind": e.kind, "amount": plain(e.amount_micros),
         "balance_after": plain(e.balance_after_micros), "order": e.order_id, "note": e.note}
        for e in entries]}
    emit(as_json, data, lambda: f"{user['name']}: balance {display(user['balance_micros'], cur)} {cur}\n" + table(
        ["ENTRY", "TIME", "KIND", f"AMOUNT {cur}", f"BALANCE {cur}", "ORDER", "NOTE"],
        [(e.id, local_time(e.created_at_s), e.kind, display(e.amount_micros, cur),
          display(e.balance_after_micros, cur), e.order_id, e.note) for e in entries],
        right=["ENTRY", f"AMOUNT {cur}", f"BALANCE {cur}", "ORDER"], empty="no ledger entries"))


main.add_command(users_statement, "ledger")  # `smmpanel ledger NAME`: the same command, where operators look first


@users.command("disable")
@click.argument("name")
@json_option
@with_panel
async def users_disable(panel: Panel, name: str, as_json: bool) -> None:
    """Refuse the customer's API key until enabled again."""
    await accounts.set_active(panel, name, False)
    emit(as_json, {"name": name, "active": False}, f"user {name} disabled")


@users.command("enable")
@click.argument("name")
@json_option
@with_panel
async def users_enable(panel: Panel, name: str, as_json: bool) -> None:
    """Accept the customer's API key again."""
    await accounts.set_active(panel, name, True)
    emit(as_json, {"name": name, "active": True}, f"user {name} enabled")


@users.command("rotate-key")
@click.argument("name")
@click.option("--grace", default=None, metavar="DURATION",
              help=f"Let the old key work this long too (30m, 1h, 2d; at most "
                   f"{format_duration(accounts.MAX_KEY_GRACE_S)}). Without it the old key stops at once.")
@json_option
@with_panel
async def users_rotate_key(panel: Panel, name: str, grace: str | None, as_json: bool) -> None:
    """Replace the customer's API key; prints the new one, this once only."""
    grace_s = 0 if grace is None else accounts.parse_grace(grace)
    rotated = await accounts.rotate_key_of(panel, name, actor=ACTOR_CLI, grace_s=grace_s)
    until = rotated.old_key_until_s
    old = "the old key stopped working" if until is None else f"the old key works until {local_time(until)}"
    emit(as_json, {"name": name, "api_key": rotated.api_key, "old_key_until_s": until},
         f"new API key for {name} (shown once): {rotated.api_key}\n{old}")


@users.command("rate")
@click.argument("name")
@click.argument("service", type=int)
@click.argument("rate", required=False)
@click.option("--clear", is_flag=True, help="Back to the list price.")
@json_option
@with_panel
async def users_rate(panel: Panel, name: str, service: int, rate: str | None, clear: bool, as_json: bool) -> None:
    """Give a customer their own rate for a service."""
    if not clear and rate is None:
        raise click.UsageError("give a RATE or --clear")
    value = None if clear else parse_money_arg(rate or "", "rate")
    await accounts.set_custom_rate(panel, name, service, value)
    warning = None if value is None else below_cost_warning(to_micros(value),
                                                           (await catalog.service(panel, service))["cost_micros"])
    warn(None if as_json else warning)
    emit(as_json, {"name": name, "service": service, "rate": None if value is None else str(value), "warning": warning},
         f"{name}: service {service} rate {'cleared' if value is None else f'{value} {panel.currency} per 1000'}")


# ------------------------------------------------------------------- funds


@main.group()
def funds() -> None:
    """Balances: every change is a ledger entry."""


@funds.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("amount")
@click.option("--note", default=None, help="Why (shown in the customer's statement).")
@json_option
@with_panel
async def funds_add(panel: Panel, name: str, amount: str, note: str | None, as_json: bool) -> None:
    """Deposit AMOUNT (negative: an adjustment down)."""
    balance = await accounts.add_funds(panel, name, parse_money_arg(amount, "amount", allow_negative=True), note,
                                       actor=ACTOR_CLI)
    emit(as_json, {"name": name, "amount": amount, "balance": plain(balance)},
         f"{name}: balance {display(balance, panel.currency)} {panel.currency}")
