"""The operator's command line: ``smmpanel``.

Every command takes ``--json`` and then prints exactly one JSON document
(scripts depend on the names and options here). Commands translate only: the
work is done by ``smmpanel.services``. Every command first brings the schema
up to date (Alembic; a no-op when it already is).
"""

from __future__ import annotations

import asyncio
import functools
import sys
from decimal import Decimal
from typing import Any, Awaitable, Callable

import click
import orjson

from .api.messages import message
from .domain.errors import PanelError
from .domain.money import parse_amount, plain, to_micros
from .domain.ordertypes import ServiceType
from .services import accounts, audit, catalog, orders, refills
from .services.panel import Panel
from .settings import Settings, SettingsError
from .store.db import open_database
from .store.migrate import upgrade


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text() if callable(text) else text)


def with_panel(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async command body with a migrated database; PanelError -> exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = _settings()
        upgrade(settings.database_url)

        async def main() -> Any:
            db = await open_database(settings.database_url, pg_pool_max=2)
            try:
                return await fn(Panel(db=db, currency=settings.currency), *args, **kwargs)
            finally:
                await db.close()

        try:
            return asyncio.run(main())
        except PanelError as exc:
            if kwargs.get("as_json"):
                click.echo(orjson.dumps({"error": message(exc)}).decode())
                sys.exit(1)
            raise click.ClickException(message(exc)) from None

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def _amount(text: str, field: str, *, allow_negative: bool = False) -> Decimal:
    try:
        return parse_amount(text, field, allow_negative=allow_negative)
    except PanelError as exc:
        raise click.BadParameter(message(exc)) from None


@click.group()
def main() -> None:
    """smmpanel: a self-hosted SMM reseller panel."""


@main.command()
@json_option
def migrate(as_json: bool) -> None:
    """Create or upgrade the database schema."""
    settings = _settings()
    upgrade(settings.database_url)
    emit(as_json, {"migrated": True}, "schema is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes (PostgreSQL only).")
@json_option
def serve(host: str, port: int, workers: int, as_json: bool) -> None:
    """Serve the API v2 (and /health)."""
    import uvicorn

    settings = _settings()
    upgrade(settings.database_url)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        # SQLite has one writer: more processes are slower, not faster.
        click.echo("note: several workers on SQLite are slower than one; use PostgreSQL to scale out", err=True)
    if as_json:
        click.echo(orjson.dumps({"serving": f"http://{host}:{port}/api/v2", "workers": workers}).decode())
    uvicorn.run(
        "smmpanel.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=settings.log_level,
    )


# ------------------------------------------------------------------- users


@main.group()
def users() -> None:
    """Customers and their API keys."""


def _user_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "active": bool(row["active"]), "balance": plain(row["balance_micros"])}


@users.command("add")
@click.argument("name")
@click.option("--balance", default="0", help="Opening balance (a deposit).")
@json_option
@with_panel
async def users_add(panel: Panel, name: str, balance: str, as_json: bool) -> None:
    opening = _amount(balance, "balance")
    user_id, key = await accounts.add_user(panel, name, opening)
    emit(as_json, {"id": user_id, "name": name, "api_key": key, "balance": plain(to_micros(opening))},
         f"user {name} (id {user_id}) created\nAPI key (shown once): {key}")


@users.command("list")
@json_option
@with_panel
async def users_list(panel: Panel, as_json: bool) -> None:
    from .store import repo

    rows = [_user_json(r) for r in await repo.list_users(panel.db)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['id']:>5}  {r['name']:<24} {'active' if r['active'] else 'disabled':<9} {r['balance']}" for r in rows
    ) or "no users")


@users.command("disable")
@click.argument("name")
@json_option
@with_panel
async def users_disable(panel: Panel, name: str, as_json: bool) -> None:
    await accounts.set_active(panel, name, False)
    emit(as_json, {"name": name, "active": False}, f"user {name} disabled")


@users.command("enable")
@click.argument("name")
@json_option
@with_panel
async def users_enable(panel: Panel, name: str, as_json: bool) -> None:
    await accounts.set_active(panel, name, True)
    emit(as_json, {"name": name, "active": True}, f"user {name} enabled")


@users.command("rotate-key")
@click.argument("name")
@json_option
@with_panel
async def users_rotate_key(panel: Panel, name: str, as_json: bool) -> None:
    key = await accounts.rotate_key(panel, name)
    emit(as_json, {"name": name, "api_key": key}, f"new API key for {name} (shown once): {key}")


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
    value = None if clear else _amount(rate or "", "rate")
    await accounts.set_custom_rate(panel, name, service, value)
    emit(as_json, {"name": name, "service": service, "rate": None if value is None else str(value)},
         f"{name}: service {service} rate {'cleared' if value is None else value}")


# ------------------------------------------------------------------- funds


@main.group()
def funds() -> None:
    """Balances: every change is a ledger entry."""


@funds.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("amount")
@click.option("--note", default=None)
@json_option
@with_panel
async def funds_add(panel: Panel, name: str, amount: str, note: str | None, as_json: bool) -> None:
    """Deposit AMOUNT (negative: an adjustment down)."""
    balance = await accounts.add_funds(panel, name, _amount(amount, "amount", allow_negative=True), note)
    emit(as_json, {"name": name, "amount": amount, "balance": plain(balance)}, f"{name}: balance {plain(balance)}")


# ---------------------------------------------------------------- services


@main.group()
def services() -> None:
    """The catalog."""


def _service_json(row: Any) -> dict[str, Any]:
    return {
        "service": row["id"],
        "name": row["name"],
        "type": row["type"],
        "category": row["category"],
        "rate": plain(row["rate_micros"]),
        "min": row["min"],
        "max": row["max"],
        "refill": bool(row["refill"]),
        "cancel": bool(row["cancel"]),
        "dripfeed": bool(row["dripfeed"]),
        "enabled": bool(row["enabled"]),
        "refill_days": row["refill_days"],
        "deny_duplicate_link": bool(row["deny_duplicate_link"]),
        "provider_id": row["provider_id"],
        "provider_service": row["provider_service"],
        "cost": None if row["cost_micros"] is None else plain(row["cost_micros"]),
    }


@services.command("add")
@click.option("--name", required=True)
@click.option("--category", required=True)
@click.option("--type", "type_", required=True, type=click.Choice([t.value for t in ServiceType], case_sensitive=False))
@click.option("--rate", required=True, help="Price per 1000 (flat types: per order).")
@click.option("--min", "min_", required=True, type=int)
@click.option("--max", "max_", required=True, type=int)
@click.option("--refill", is_flag=True)
@click.option("--cancel", is_flag=True)
@click.option("--dripfeed", is_flag=True)
@click.option("--refill-days", type=int, default=30, show_default=True)
@click.option("--deny-duplicate-link", is_flag=True, help="Refuse a link that already has an active order.")
@click.option("--description", default=None)
@json_option
@with_panel
async def services_add(panel: Panel, as_json: bool, type_: str, min_: int, max_: int, **opts: Any) -> None:
    fields = {k: v for k, v in opts.items() if v is not None}
    service_id = await catalog.add_service(panel, type=type_, min=min_, max=max_, **fields)
    row = next(r for r in await catalog.all_services(panel) if r["id"] == service_id)
    emit(as_json, _service_json(row), f"service {service_id} created")


@services.command("list")
@json_option
@with_panel
async def services_list(panel: Panel, as_json: bool) -> None:
    rows = [_service_json(r) for r in await catalog.all_services(panel)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['service']:>5}  {r['category'][:18]:<18} {r['name'][:36]:<36} {r['type']:<24} {r['rate']:>10} "
        f"{r['min']}-{r['max']}{'' if r['enabled'] else '  (disabled)'}" for r in rows
    ) or "no services")


@services.command("set")
@click.argument("service_id", type=int)
@click.argument("changes", nargs=-1, required=True)
@json_option
@with_panel
async def services_set(panel: Panel, service_id: int, changes: tuple[str, ...], as_json: bool) -> None:
    """Change fields: FIELD=VALUE ... (e.g. enabled=false rate=1.5)."""
    parsed = {}
    for change in changes:
        if "=" not in change:
            raise click.BadParameter(f"{change!r}: expected FIELD=VALUE")
        name, value = change.split("=", 1)
        parsed[name.strip()] = value
    await catalog.set_service(panel, service_id, parsed)
    row = next(r for r in await catalog.all_services(panel) if r["id"] == service_id)
    emit(as_json, _service_json(row), f"service {service_id} updated")


# ------------------------------------------------------------------ orders


@main.group("orders")
def orders_group() -> None:
    """Orders, and manual fulfilment."""


def _order_json(row: Any) -> dict[str, Any]:
    return {
        "order": row["id"],
        "user": row["user_name"],
        "service": row["service_id"],
        "type": row["type"],
        "link": row["link"],
        "quantity": row["quantity"],
        "runs": row["runs"],
        "interval": row["interval_min"],
        "units": row["units"],
        "params": orjson.loads(row["params"]),
        "charge": plain(row["charge_micros"]),
        "refunded": plain(row["refund_micros"]),
        "net_charge": plain(row["charge_micros"] - row["refund_micros"]),
        "status": row["status"],
        "start_count": row["start_count"],
        "remains": row["remains"],
        "created_at_s": row["created_at_s"],
        "provider": row["provider"],
        "provider_order": row["provider_order"],
        "upstream_state": row["upstream_state"],
        "upstream_status": row["upstream_status"],
        "upstream_error": row["upstream_error"],
    }


def _order_line(r: dict[str, Any]) -> str:
    upstream = f"  [{r['provider']}:{r['provider_order'] or '-'} {r['upstream_state']}]" if r["provider"] else ""
    return (f"{r['order']:>7}  {r['user']:<16} svc {r['service']:<5} {r['status']:<12} "
            f"remains {r['remains']!s:<8} net {r['net_charge']}{upstream}")


@orders_group.command("list")
@click.option("--status", default=None)
@click.option("--user", default=None)
@click.option("--upstream-state", default=None, help="e.g. needs_attention, waiting_funds")
@click.option("--limit", default=100, show_default=True, type=int)
@json_option
@with_panel
async def orders_list(panel: Panel, status: str | None, user: str | None, upstream_state: str | None, limit: int,
                      as_json: bool) -> None:
    rows = [_order_json(r) for r in await orders.list_orders(panel, status=status, user=user,
                                                              upstream_state=upstream_state, limit=limit)]
    emit(as_json, rows, lambda: "\n".join(_order_line(r) for r in rows) or "no orders")


@orders_group.command("show")
@click.argument("order_id", type=int)
@json_option
@with_panel
async def orders_show(panel: Panel, order_id: int, as_json: bool) -> None:
    data = _order_json(await orders.order(panel, order_id))
    emit(as_json, data, lambda: "\n".join(f"{k:>16}: {v}" for k, v in data.items()))


@orders_group.command("set")
@click.argument("order_id", type=int)
@click.option("--status", required=True)
@click.option("--remains", type=int, default=None)
@click.option("--start-count", type=int, default=None)
@json_option
@with_panel
async def orders_set(panel: Panel, order_id: int, status: str, remains: int | None, start_count: int | None,
                     as_json: bool) -> None:
    """Record progress by hand; Partial and Canceled post the refund (once)."""
    changed = await orders.operator_set_status(panel, order_id, status, remains=remains, start_count=start_count)
    data = _order_json(await orders.order(panel, order_id))
    data["changed"] = changed
    emit(as_json, data, f"order {order_id}: {data['status']}, refunded {data['refunded']}"
         + ("" if changed else " (unchanged)"))


# ----------------------------------------------------------------- refills


@main.group("refills")
def refills_group() -> None:
    """Refill requests."""


def _refill_json(row: Any) -> dict[str, Any]:
    return {"refill": row["id"], "order": row["order_id"], "user": row["user_name"], "status": row["status"],
            "created_at_s": row["created_at_s"], "provider_refill": row["provider_refill"],
            "upstream_state": row["upstream_state"], "upstream_error": row["upstream_error"]}


@refills_group.command("list")
@click.option("--status", default=None)
@json_option
@with_panel
async def refills_list(panel: Panel, status: str | None, as_json: bool) -> None:
    rows = [_refill_json(r) for r in await refills.list_refills(panel, status)]
    emit(as_json, rows, lambda: "\n".join(
        f"{r['refill']:>6}  order {r['order']:<7} {r['user']:<16} {r['status']}" for r in rows) or "no refills")


@refills_group.command("set")
@click.argument("refill_id", type=int)
@click.option("--status", required=True)
@json_option
@with_panel
async def refills_set(panel: Panel, refill_id: int, status: str, as_json: bool) -> None:
    await refills.operator_set_status(panel, refill_id, status)
    from .store import repo

    data = _refill_json(await repo.refill_by_id(panel.db, refill_id))
    emit(as_json, data, f"refill {refill_id}: {data['status']}")


# ------------------------------------------------------------------- audit


@main.command("audit")
@json_option
def audit_cmd(as_json: bool) -> None:
    """Check every ledger invariant; exit 1 with a report when one is broken."""

    @with_panel
    async def body(panel: Panel, as_json: bool) -> list[audit.Finding]:
        return await audit.run(panel)

    findings = body(as_json=as_json)
    if as_json:
        click.echo(orjson.dumps(
            {"ok": not findings, "checks": len(audit.CHECKS),
             "broken": [{"check": f.check, "rows": f.rows} for f in findings]},
            option=orjson.OPT_INDENT_2).decode())
    elif not findings:
        click.echo(f"audit: all {len(audit.CHECKS)} invariants hold")
    else:
        for finding in findings:
            click.echo(f"BROKEN: {finding.check}")
            for row in finding.rows:
                click.echo("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    if findings:
        sys.exit(1)


# -------------------------------------------------------------------- demo


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--db", "db_path", default="demo.db", show_default=True, help="SQLite file (recreated).")
@click.option("--no-serve", is_flag=True, help="Only create the demo database.")
@json_option
def demo(host: str, port: int, db_path: str, no_serve: bool, as_json: bool) -> None:
    """A fresh SQLite panel with a demo customer and catalog, then serve it."""
    import os

    from .demo import build_demo

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    url = f"sqlite:///{db_path}"
    os.environ["SMMPANEL_DATABASE_URL"] = url
    settings = _settings()
    upgrade(url)
    key, service_ids = asyncio.run(build_demo(settings))
    info = {"api_url": f"http://{host}:{port}/api/v2", "api_key": key, "services": len(service_ids), "database": url}
    emit(as_json, info, f"demo panel: {info['api_url']}\ndemo customer 'demo', API key: {key}\n"
         f"try: curl -s '{info['api_url']}?key={key}&action=balance'")
    if not no_serve:
        import uvicorn

        uvicorn.run("smmpanel.app:create_app", factory=True, host=host, port=port, access_log=False,
                    log_level=settings.log_level)


if __name__ == "__main__":
    main()
