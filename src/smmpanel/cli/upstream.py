"""Reselling: providers, the worker, and talking to any API v2 panel."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import orjson

from ..domain.money import plain
from ..secrets import redact
from ..services import providers
from ..services.panel import Panel
from .base import emit, json_option, load_settings, main, parse_money_arg, with_panel


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
                                       fx=parse_money_arg(fx, "fx"), timeout_s=timeout_s, max_ids=max_ids,
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
                                          fx=None if fx is None else parse_money_arg(fx, "fx"), timeout_s=timeout_s,
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
        panel, name, markup_percent=parse_money_arg(markup, "markup", allow_negative=True), only=wanted,
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

    from ..ops.logs import setup_logging
    from ..worker import Worker

    settings = load_settings()
    setup_logging(settings.log_format, settings.log_level)

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
    from ..client import UpstreamError, call

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
    from ..simulator import DEFAULT_KEY, create_simulator, serve

    try:
        sim = create_simulator(profile, key=key or DEFAULT_KEY,
                               balance=None if balance is None else parse_money_arg(balance, "balance"))
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
