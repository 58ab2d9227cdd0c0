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
from .secrets import redact
from .services import accounts, audit, catalog, orders, providers, refills
from .services.panel import Panel
from .settings import Settings, SettingsError
from .store.db import open_database
from .store.migrate import ensure_schema, upgrade


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
        ensure_schema(settings.database_url)

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
    rows = [_user_json(r) for r in await accounts.list_users(panel)]
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
    emit(as_json, _service_json(await catalog.service(panel, service_id)), f"service {service_id} created")


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
    emit(as_json, _service_json(await catalog.service(panel, service_id)), f"service {service_id} updated")


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


@orders_group.command("resolve")
@click.argument("order_id", type=int)
@click.option("--provider-order", default=None, help="It exists upstream with this id: poll it from now on.")
@click.option("--requeue", is_flag=True, help="It provably does not exist upstream: send it again.")
@click.option("--cancel", is_flag=True, help="Give up: cancel and refund in full.")
@json_option
@with_panel
async def orders_resolve(panel: Panel, order_id: int, provider_order: str | None, requeue: bool, cancel: bool,
                         as_json: bool) -> None:
    """Settle an order whose upstream outcome is unknown (needs_attention)."""
    data = _order_json(await orders.resolve(panel, order_id, provider_order=provider_order, requeue=requeue,
                                            cancel=cancel))
    emit(as_json, data, f"order {order_id}: {data['status']}, upstream {data['upstream_state']}")


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
    data = _refill_json(await refills.operator_set_status(panel, refill_id, status))
    emit(as_json, data, f"refill {refill_id}: {data['status']}")


# --------------------------------------------------------------- providers


@main.group("providers")
def providers_group() -> None:
    """Upstream panels this panel resells."""


def _provider_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "url": row["url"], "encoding": row["encoding"],
            "currency": row["currency"], "fx": row["fx"], "timeout": row["timeout_s"], "max_ids": row["max_ids"],
            "concurrency": row["concurrency"], "out_of_funds": bool(row["out_of_funds"])}


@providers_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The upstream's API v2 endpoint.")
@click.option("--key", required=True, help="The upstream API key (stored sealed, never shown again).")
@click.option("--encoding", type=click.Choice(["auto", "form", "json"]), default="auto", show_default=True)
@click.option("--currency", default=None, help="The upstream's currency (default: what its balance says).")
@click.option("--fx", default="1", show_default=True, help="Panel amount = upstream amount x FX.")
@click.option("--timeout", "timeout_s", type=int, default=providers.DEFAULT_TIMEOUT_S, show_default=True)
@click.option("--max-ids", type=int, default=providers.DEFAULT_MAX_IDS, show_default=True,
              help="Largest id list per multi call.")
@click.option("--concurrency", type=int, default=providers.DEFAULT_CONCURRENCY, show_default=True)
@json_option
@with_panel
async def providers_add(panel: Panel, name: str, url: str, key: str, encoding: str, currency: str | None, fx: str,
                        timeout_s: int, max_ids: int, concurrency: int, as_json: bool) -> None:
    row = await providers.add_provider(panel, name, url, key, encoding=encoding, currency=currency,
                                       fx=_amount(fx, "fx"), timeout_s=timeout_s, max_ids=max_ids,
                                       concurrency=concurrency)
    data = _provider_json(row) | {"key": redact(key), "balance": row["balance_text"]}
    emit(as_json, data, f"provider {name}: {data['encoding']} encoding, balance {data['balance']} {data['currency']}")


@providers_group.command("list")
@click.option("--offline", is_flag=True, help="Don't ask the upstreams for their balance.")
@json_option
@with_panel
async def providers_list(panel: Panel, offline: bool, as_json: bool) -> None:
    views = await providers.list_providers(panel, live=not offline)
    data = [_provider_json(v.row) | {"balance": v.balance, "balance_error": v.balance_error, "orders": v.orders}
            for v in views]
    emit(as_json, data, lambda: "\n".join(
        f"{d['id']:>3}  {d['name']:<16} {d['url']:<40} balance {d['balance']} {d['currency']}"
        f"{'  OUT OF FUNDS' if d['out_of_funds'] else ''}{'  (' + d['balance_error'] + ')' if d['balance_error'] else ''}"
        f"  orders {d['orders']}" for d in data) or "no providers")


@providers_group.command("set")
@click.argument("name")
@click.option("--url", default=None)
@click.option("--key", default=None, help="A new upstream API key (stored sealed).")
@click.option("--encoding", type=click.Choice(["form", "json"]), default=None)
@click.option("--fx", default=None, help="New exchange rate; services are repriced at the next sync.")
@click.option("--timeout", "timeout_s", type=int, default=None)
@click.option("--max-ids", type=int, default=None)
@click.option("--concurrency", type=int, default=None)
@json_option
@with_panel
async def providers_set(panel: Panel, name: str, url: str | None, key: str | None, encoding: str | None,
                        fx: str | None, timeout_s: int | None, max_ids: int | None, concurrency: int | None,
                        as_json: bool) -> None:
    """Change a provider's settings."""
    row = await providers.update_provider(panel, name, url=url, key=key, encoding=encoding,
                                          fx=None if fx is None else _amount(fx, "fx"), timeout_s=timeout_s,
                                          max_ids=max_ids, concurrency=concurrency)
    emit(as_json, _provider_json(row), f"provider {name} updated")


@providers_group.command("remove")
@click.argument("name")
@json_option
@with_panel
async def providers_remove(panel: Panel, name: str, as_json: bool) -> None:
    await providers.remove_provider(panel, name)
    emit(as_json, {"name": name, "removed": True}, f"provider {name} removed; its services are disabled")


@providers_group.command("import")
@click.argument("name")
@click.option("--markup", default="0", show_default=True, help="Percent added to the upstream price.")
@click.option("--only", default=None, help="Upstream service ids, comma separated.")
@click.option("--category-prefix", default="", help="Prepended to the upstream category names.")
@json_option
@with_panel
async def providers_import(panel: Panel, name: str, markup: str, only: str | None, category_prefix: str,
                           as_json: bool) -> None:
    wanted = [part.strip() for part in only.split(",") if part.strip()] if only else None
    imported, skipped = await providers.import_services(
        panel, name, markup_percent=_amount(markup, "markup", allow_negative=True), only=wanted,
        category_prefix=category_prefix)
    data = [{"service": i.service, "provider_service": i.provider_service, "rate": plain(i.rate_micros),
             "cost": plain(i.cost_micros), "name": i.name, "type": i.type, "category": i.category, "min": i.min,
             "max": i.max, "created": i.created} for i in imported]
    if as_json:
        emit(True, data, "")
        return
    for d in data:
        click.echo(f"{d['service']:>5} <- {name}:{d['provider_service']:<8} {d['rate']:>12}  {d['name']}")
    for sid, why in skipped:
        click.echo(f"skipped {name}:{sid}: {why}")


@providers_group.command("sync")
@click.argument("name")
@json_option
@with_panel
async def providers_sync(panel: Panel, name: str, as_json: bool) -> None:
    report = await providers.sync_services(panel, name)
    data = {"updated": report.updated, "disabled": report.disabled,
            "price_changes": [{"service": s, "old_rate": plain(a), "new_rate": plain(b)}
                              for s, a, b in report.price_changes]}
    emit(as_json, data, f"{len(report.updated)} services refreshed, {len(report.disabled)} disabled (gone upstream), "
                        f"{len(report.price_changes)} price changes")


# ------------------------------------------------------------------ worker


@main.command("worker")
@click.option("--once", is_flag=True, help="Do every due step once and exit.")
@click.option("--poll-interval", "poll_interval_s", type=int, default=None,
              help="Poll every order this often (seconds) instead of the age-based schedule.")
@click.option("--funds-retry", "funds_retry_s", type=int, default=None,
              help="Probe an out-of-funds upstream this often (seconds).")
@json_option
def worker_cmd(once: bool, poll_interval_s: int | None, funds_retry_s: int | None, as_json: bool) -> None:
    """Place queued orders upstream, poll them, settle refunds."""
    import dataclasses
    import logging

    from .worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    @with_panel
    async def body(panel: Panel, as_json: bool) -> Any:
        options: dict[str, Any] = {}
        if poll_interval_s is not None:
            options["poll_interval"] = lambda _age_s: poll_interval_s
        if funds_retry_s is not None:
            options["funds_retry_s"] = funds_retry_s
        worker = Worker(panel, **options)
        if not once:
            # SIGTERM/SIGINT finish the step under way (no call is cut off mid-flight), then exit.
            import signal

            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await worker.run_forever(stop)
            return None
        try:
            return await worker.run_once()
        finally:
            await worker.aclose()

    report = body(as_json=as_json)
    if report is not None:
        emit(as_json, dataclasses.asdict(report), lambda: ", ".join(
            f"{k} {v}" for k, v in dataclasses.asdict(report).items() if v))
        if report.errors:
            sys.exit(1)


@main.command("call", context_settings={"ignore_unknown_options": True})
@click.argument("url")
@click.argument("key")
@click.argument("action")
@click.argument("params", nargs=-1)
@click.option("--encoding", type=click.Choice(["form", "json"]), default="form", show_default=True)
@click.option("--timeout", "timeout_s", type=float, default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the reply is JSON anyway.")
def call_cmd(url: str, key: str, action: str, params: tuple[str, ...], encoding: str, timeout_s: float,
             as_json: bool) -> None:
    """Call any API v2 panel: smmpanel call URL KEY ACTION [name=value...]."""
    from .client import UpstreamError, call

    fields: dict[str, str] = {}
    for item in params:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected name=value")
        name, value = item.split("=", 1)
        fields[name] = value
    try:
        reply = asyncio.run(call(url, key, action, fields, encoding=encoding, timeout_s=timeout_s))
    except UpstreamError as exc:
        click.echo(orjson.dumps({"error": exc.detail, "kind": exc.kind.value}).decode())
        sys.exit(1)
    click.echo(orjson.dumps(reply, default=str, option=orjson.OPT_INDENT_2).decode())
    if isinstance(reply, dict) and "error" in reply:  # the panel said no: scripts see it in the exit code
        sys.exit(1)


@main.command("simulate")
@click.option("--profile", default="standard", show_default=True,
              help="like3s, shopvn, baostar, subpro, 68smm or standard.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9100, show_default=True, type=int)
@click.option("--key", default=None, help="The API key it accepts (default: the simulator's demo key).")
@click.option("--balance", default=None, help="Its account balance.")
@json_option
def simulate_cmd(profile: str, host: str, port: int, key: str | None, balance: str | None, as_json: bool) -> None:
    """Serve a simulated upstream panel (no money, no network beyond 127.0.0.1)."""
    from .simulator import DEFAULT_KEY, create_simulator, serve

    try:
        sim = create_simulator(profile, key=key or DEFAULT_KEY,
                               balance=None if balance is None else _amount(balance, "balance"))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None

    def ready(bound: int) -> None:
        info = {"url": f"http://{host}:{bound}/api/v2", "key": sim.key, "profile": profile}
        if as_json:  # one line, flushed: a script reads it while the server keeps running
            click.echo(orjson.dumps(info).decode())
            sys.stdout.flush()
        else:
            click.echo(f"simulated {profile} panel at {info['url']} (key {sim.key})")

    serve(sim, host, port, ready=ready)


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
