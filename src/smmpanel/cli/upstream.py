"""Reselling: providers, the worker, and talking to any API v2 panel."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Callable

import click
import orjson

from ..domain.money import plain
from ..secrets import redact
from ..services import providers
from ..services.panel import Panel
from .base import describe_database, emit, json_option, load_settings, main, parse_money_arg, table, with_panel


# --------------------------------------------------------------- providers


@main.group("providers")
def providers_group() -> None:
    """Upstream panels this panel resells."""


def _provider_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "url": row["url"], "encoding": row["encoding"],
            "currency": row["currency"], "fx": row["fx"], "timeout": row["timeout_s"], "max_ids": row["max_ids"],
            "concurrency": row["concurrency"], "out_of_funds": bool(row["out_of_funds"]),
            "multi_status": row["multi_status_action"], "multi_status_retry_at": row["multi_status_retry_at_s"]}


@providers_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The upstream's API v2 endpoint.")
@click.option("--key", required=True, help="The upstream API key (stored sealed, never shown again).")
@click.option("--encoding", type=click.Choice(["auto", "form", "json"]), default="auto", show_default=True,
              help="How requests are sent upstream; auto tries both and keeps what works.")
@click.option("--currency", default=None, help="The upstream's currency (default: what its balance says).")
@click.option("--fx", default="1", show_default=True, help="Panel amount = upstream amount x FX.")
@click.option("--timeout", "timeout_s", type=int, default=providers.DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds to wait for one upstream reply.")
@click.option("--max-ids", type=int, default=providers.DEFAULT_MAX_IDS, show_default=True,
              help="Largest id list per multi call.")
@click.option("--concurrency", type=int, default=providers.DEFAULT_CONCURRENCY, show_default=True,
              help="Calls to this upstream at the same time.")
@json_option
@with_panel
async def providers_add(panel: Panel, name: str, url: str, key: str, encoding: str, currency: str | None, fx: str,
                        timeout_s: int, max_ids: int, concurrency: int, as_json: bool) -> None:
    """Add an upstream panel: checks its key by asking its balance."""
    row = await providers.add_provider(panel, name, url, key, encoding=encoding, currency=currency,
                                       fx=parse_money_arg(fx, "fx", exact=True), timeout_s=timeout_s, max_ids=max_ids,
                                       concurrency=concurrency)
    data = _provider_json(row) | {"key": redact(key), "balance": row["balance_text"]}
    emit(as_json, data, f"provider {name}: {data['encoding']} encoding, balance {data['balance']} {data['currency']}")


@providers_group.command("list")
@click.option("--offline", is_flag=True, help="Don't ask the upstreams for their balance.")
@json_option
@with_panel
async def providers_list(panel: Panel, offline: bool, as_json: bool) -> None:
    """Upstream panels: balance, orders waiting per state, health."""
    views = await providers.list_providers(panel, live=not offline)
    data = [_provider_json(v.row) | {"balance": v.balance, "balance_error": v.balance_error, "orders": v.orders,
                                     "breaker": {"state": v.breaker, "failures": v.row["breaker_failures"],
                                                 "open_until": v.row["breaker_open_until_s"],
                                                 "error": v.row["breaker_error"]}}
            for v in views]
    emit(as_json, data, lambda: table(
        ["ID", "NAME", "URL", "BALANCE", "ORDERS WAITING", "MULTI-STATUS", "CIRCUIT"],
        [(d["id"], d["name"], d["url"], _balance_text(d), _counts_text(d["orders"]),
          d["multi_status"] + (" (fallback, retried later)" if d["multi_status_retry_at"] is not None else ""),
          d["breaker"]["state"] + ("" if d["breaker"]["state"] == "closed" else
                                   f" ({d['breaker']['failures']} failed calls: {d['breaker']['error']})"))
         for d in data],
        right=["ID"], empty="no providers"))


def _balance_text(d: dict[str, Any]) -> str:
    text = "-" if d["balance"] is None else f"{d['balance']} {d['currency'] or ''}".strip()
    if d["out_of_funds"]:
        text += " OUT OF FUNDS"
    if d["balance_error"]:
        text += f" ({d['balance_error']})"
    return text


def _counts_text(counts: dict[str, int]) -> str:
    """Orders per upstream state, as words: "placed 3, needs_attention 1"."""
    return ", ".join(f"{state} {n}" for state, n in counts.items() if n) or "none"


@providers_group.command("set")
@click.argument("name")
@click.option("--url", default=None, help="A new API v2 endpoint.")
@click.option("--key", default=None, help="A new upstream API key (stored sealed).")
@click.option("--encoding", type=click.Choice(["form", "json"]), default=None, help="How requests are sent upstream.")
@click.option("--fx", default=None, help="New exchange rate; services are repriced at the next sync.")
@click.option("--timeout", "timeout_s", type=int, default=None, help="Seconds to wait for one upstream reply.")
@click.option("--max-ids", type=int, default=None, help="Largest id list per multi call.")
@click.option("--concurrency", type=int, default=None, help="Calls to this upstream at the same time.")
@click.option("--multi-status", type=click.Choice(["status", "orders", "single"]), default=None,
              help="How statuses are asked: status (action=status&orders=), orders (Like3s), single "
                   "(one request per order). Ends a fallback the worker made.")
@json_option
@with_panel
async def providers_set(panel: Panel, name: str, url: str | None, key: str | None, encoding: str | None,
                        fx: str | None, timeout_s: int | None, max_ids: int | None, concurrency: int | None,
                        multi_status: str | None, as_json: bool) -> None:
    """Change a provider's settings."""
    row = await providers.update_provider(panel, name, url=url, key=key, encoding=encoding,
                                          fx=None if fx is None else parse_money_arg(fx, "fx", exact=True),
                                          timeout_s=timeout_s,
                                          max_ids=max_ids, concurrency=concurrency, multi_status=multi_status)
    emit(as_json, _provider_json(row), f"provider {name} updated")


@providers_group.command("remove")
@click.argument("name")
@json_option
@with_panel
async def providers_remove(panel: Panel, name: str, as_json: bool) -> None:
    """Remove an upstream; refused while it has unsettled orders."""
    await providers.remove_provider(panel, name)
    emit(as_json, {"name": name, "removed": True}, f"provider {name} removed; its services are disabled")


# Exit code of an import or sync that did its work but left some upstream entries out.
EXIT_SKIPPED = 3


def _skipped_json(skipped: Any) -> list[dict[str, str]]:
    return [{"provider_service": entry.provider_service, "reason": entry.reason} for entry in skipped]


def _echo_skipped(name: str, skipped: Any) -> None:
    for entry in skipped:
        click.echo(f"skipped {name}:{entry.provider_service}: {entry.reason}")


@providers_group.command("import")
@click.argument("name")
@click.option("--markup", default="0", show_default=True, help="Percent added to the upstream price.")
@click.option("--only", default=None, help="Upstream service ids, comma separated.")
@click.option("--category-prefix", default="", help="Prepended to the upstream category names.")
@json_option
@with_panel
async def providers_import(panel: Panel, name: str, markup: str, only: str | None, category_prefix: str,
                           as_json: bool) -> None:
    """Copy an upstream's services into ours with a markup.

    An entry that can't be sold (unreadable, a duplicate id, a negative rate
    or one that rounds to 0, limits or prices past our columns) is skipped
    and listed with its reason; the rest imports. Exit code 3 when some were
    skipped; --json prints {"imported": [...], "skipped": [...]}.
    """
    wanted = [part.strip() for part in only.split(",") if part.strip()] if only else None
    imported, skipped = await providers.import_services(
        panel, name, markup_percent=parse_money_arg(markup, "markup", allow_negative=True, exact=True), only=wanted,
        category_prefix=category_prefix)
    data = [{"service": i.service, "provider_service": i.provider_service, "rate": plain(i.rate_micros),
             "cost": plain(i.cost_micros), "name": i.name, "type": i.type, "category": i.category, "min": i.min,
             "max": i.max, "created": i.created} for i in imported]
    if as_json:
        emit(True, {"imported": data, "skipped": _skipped_json(skipped)}, "")
    else:
        for d in data:
            click.echo(f"{d['service']:>5} <- {name}:{d['provider_service']:<8} {d['rate']:>12}  {d['name']}")
        _echo_skipped(name, skipped)
        click.echo(f"{len(data)} imported, {len(skipped)} skipped")
    if skipped:
        sys.exit(EXIT_SKIPPED)


@providers_group.command("sync")
@click.argument("name")
@json_option
@with_panel
async def providers_sync(panel: Panel, name: str, as_json: bool) -> None:
    """Refresh limits, flags and costs of imported services; disable the ones gone upstream.

    Entries of the upstream's list that can't be read (or, for a service of
    ours, sold) are listed with their reason, and a service of ours whose
    entry is among them keeps its terms. Exit code 3 when some were skipped.
    """
    report = await providers.sync_services(panel, name)
    data = {"updated": report.updated, "disabled": report.disabled,
            "price_changes": [{"service": s, "old_rate": plain(a), "new_rate": plain(b)}
                              for s, a, b in report.price_changes],
            "skipped": _skipped_json(report.skipped)}
    if as_json:
        emit(True, data, "")
    else:
        _echo_skipped(name, report.skipped)
        click.echo(f"{len(report.updated)} services refreshed, {len(report.disabled)} disabled (gone upstream), "
                   f"{len(report.price_changes)} price changes, {len(report.skipped)} upstream entries skipped")
    if report.skipped:
        sys.exit(EXIT_SKIPPED)


# ------------------------------------------------------------------ worker


@main.command("worker")
@click.option("--once", is_flag=True, help="Do every due step once and exit.")
@click.option("--poll-interval", "poll_interval_s", type=int, default=None,
              help="Poll every order this often (seconds) instead of the age-based schedule.")
@click.option("--funds-retry", "funds_retry_s", type=int, default=None,
              help="Probe an out-of-funds upstream this often (seconds).")
@click.option("--verbose", is_flag=True, help="Also log every HTTP request to the upstreams.")
@json_option
def worker_cmd(once: bool, poll_interval_s: int | None, funds_retry_s: int | None, verbose: bool,
               as_json: bool) -> None:
    """Place queued orders upstream, poll them, settle refunds.

    Prints a start line (database, providers, cadence), then one line per
    pass that did something."""
    import logging

    from ..domain.schedule import FUNDS_RETRY_S, POLL_STEPS_S
    from ..worker import Worker
    from ..worker.loop import IDLE_SLEEP_S

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # httpx logs one INFO line per request: thousands per pass on a busy panel.
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)

    @with_panel
    async def body(panel: Panel, as_json: bool) -> Any:
        options: dict[str, Any] = {}
        if poll_interval_s is not None:
            options["poll_interval"] = lambda _age_s: poll_interval_s
        if funds_retry_s is not None:
            options["funds_retry_s"] = funds_retry_s
        worker = Worker(panel, **options)
        if not once:
            names = [view.row["name"] for view in await providers.list_providers(panel, live=False)]
            polls = (f"every {poll_interval_s} s" if poll_interval_s is not None else
                     "by order age (" + ", ".join(f"{every}s under {age // 60} min" for age, every in POLL_STEPS_S)
                     + ", slower after)")
            _say(as_json, {"event": "start", "database": describe_database(load_settings().database_url),
                           "providers": names, "idle_sleep_s": IDLE_SLEEP_S, "polls": polls,
                           "funds_retry_s": funds_retry_s or FUNDS_RETRY_S},
                 f"worker: database {describe_database(load_settings().database_url)}; "
                 f"providers {', '.join(names) or 'none yet'}; a pass every {IDLE_SLEEP_S:g} s when idle; "
                 f"polls {polls}; out-of-funds upstreams probed every {funds_retry_s or FUNDS_RETRY_S} s")
            # SIGTERM/SIGINT: nothing new is sent; the calls under way end (within their deadline), are
            # recorded, then the worker exits.
            import signal

            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            await worker.run_forever(stop, on_pass=lambda report: _say(
                as_json, {"event": "pass", **_report_json(report)}, "pass: " + _report_text(report)))
            return None
        try:
            return await worker.run_once()
        finally:
            await worker.aclose()

    report = body(as_json=as_json)
    if report is not None:
        emit(as_json, _report_json(report), lambda: _report_text(report) or "nothing to do")
        if report.errors:
            sys.exit(1)


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    """One line now (a running worker's output is a stream: JSON lines with --json)."""
    click.echo(orjson.dumps(data).decode() if as_json else text)


def _report_json(report: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(report)


def _report_text(report: Any) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {', '.join(v) if isinstance(v, list) else v}"
                     for k, v in _report_json(report).items() if v)


@main.command("call", context_settings={"ignore_unknown_options": True})
@click.argument("url")
@click.argument("key")
@click.argument("action")
@click.argument("params", nargs=-1)
@click.option("--encoding", type=click.Choice(["form", "json"]), default="form", show_default=True,
              help="Send the parameters as a form or as JSON.")
@click.option("--timeout", "timeout_s", type=float, default=30, show_default=True,
              help="Seconds to wait for the reply.")
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


SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration_s(text: str | None, name: str) -> float | None:
    """``30s``, ``2m``, ``500ms`` or plain seconds; ``off``/None: no duration."""
    if text is None or text.strip().lower() in ("off", "none", "0"):
        return None
    raw = text.strip().lower()
    unit = next((u for u in ("ms", "s", "m", "h") if raw.endswith(u)), "")
    try:
        value = float(raw[: len(raw) - len(unit)] if unit else raw) * SECONDS_PER_UNIT.get(unit, 1.0)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise click.BadParameter(f"{text!r}: give a positive duration such as 30s, 2m or 500ms", param_hint=name)
    return value


SIMULATE_URL = "http://127.0.0.1:9100"
_sim_url_option = click.option("--url", default=SIMULATE_URL, show_default=True,
                               help="The running simulator (its base or API URL).")
_sim_key_option = click.option("--key", default=None, help="The simulator's API key (default: its demo key).")


@main.group("simulate", invoke_without_command=True)
@click.option("--profile", default="standard", show_default=True,
              help="like3s, shopvn, baostar, subpro, 68smm or standard.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=9100, show_default=True, type=int, help="The port to listen on.")
@click.option("--key", default=None, help="The API key it accepts (default: the simulator's demo key).")
@click.option("--balance", default=None, help="Its account balance.")
@click.option("--auto-progress", "auto_progress", default=None, metavar="DURATION",
              help="Move every order one step this often (e.g. 30s): Pending, In progress, half, Completed.")
@click.option("--mode", "modes", multiple=True, metavar="MODE",
              help="A hostile mode on from the start (repeatable; see `smmpanel simulate modes`).")
@json_option
@click.pass_context
def simulate_cmd(ctx: click.Context, profile: str, host: str, port: int, key: str | None, balance: str | None,
                 auto_progress: str | None, modes: tuple[str, ...], as_json: bool) -> None:
    """Serve a simulated upstream panel (no money, no network beyond 127.0.0.1).

    While it runs, drive it from another shell: `smmpanel simulate set ORDER
    --status Partial --remains 250`, `smmpanel simulate mode NAME`,
    `smmpanel simulate show` (or its HTTP control endpoint, /control).
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..simulator import DEFAULT_KEY, create_simulator, serve

    interval_s = _duration_s(auto_progress, "--auto-progress")
    try:
        sim = create_simulator(profile, key=key or DEFAULT_KEY,
                               balance=None if balance is None else parse_money_arg(balance, "balance"))
        for mode in modes:
            sim.enable(mode)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if interval_s is not None:
        sim.auto_progress(interval_s)

    def ready(bound: int) -> None:
        info = {"url": f"http://{host}:{bound}/api/v2", "key": sim.key, "profile": profile,
                "control": f"http://{host}:{bound}/control", "auto_progress_s": interval_s}
        if as_json:  # one line, flushed: a script reads it while the server keeps running
            click.echo(orjson.dumps(info).decode())
            sys.stdout.flush()
        else:
            click.echo(f"simulated {profile} panel at {info['url']} (key {sim.key}); control at {info['control']}")
            if interval_s is not None:
                click.echo(f"orders move one step every {interval_s:g}s")

    serve(sim, host, port, ready=ready)


def _control(url: str, key: str | None) -> Any:
    from ..simulator import DEFAULT_KEY, ControlClient

    return ControlClient(url, key or DEFAULT_KEY)


def _drive(as_json: bool, call: Any, text: Callable[[dict[str, Any]], str]) -> None:
    from ..simulator import ControlError

    try:
        state = call()
    except ControlError as exc:
        if as_json:
            click.echo(orjson.dumps({"error": str(exc)}).decode())
            sys.exit(1)
        raise click.ClickException(str(exc)) from None
    emit(as_json, state, lambda: text(state))


def _order_line(o: dict[str, Any]) -> str:
    reported = "".join(f"  (reports {k} {v})" for k, v in o["reported"].items())
    return (f"order {o['order']}: {o['status']}, remains {o['remains']} of {o['quantity']}, "
            f"start count {o['start_count']}, charge {o['charge']}, refunded {o['refunded']}{reported}")


def _modes_text(state: dict[str, Any]) -> str:
    on = [f"  {m['mode']}" + "".join(f" {k}={v}" for k, v in m.items() if k != "mode" and v not in (None, "*"))
          for m in state["modes"]]
    return "modes on:\n" + "\n".join(on) if on else "no hostile mode on"


@simulate_cmd.command("set")
@click.argument("order")
@click.option("--status", default=None,
              help="Any status text, or a numeric code sent as a JSON number (e.g. Partial, 2).")
@click.option("--remains", default=None, help="Remains to report (text such as 1e99999999 is reported as given).")
@click.option("--start-count", default=None, help="Start count to report.")
@_sim_url_option
@_sim_key_option
@json_option
def simulate_set(order: str, status: str | None, remains: str | None, start_count: str | None, url: str,
                 key: str | None, as_json: bool) -> None:
    """Change what a running simulator reports for ORDER (Partial/Canceled refund its balance there)."""

    def text(state: dict[str, Any]) -> str:
        return next((_order_line(o) for o in state["orders"] if str(o["order"]) == order), f"order {order} set")

    _drive(as_json, lambda: _control(url, key).set_order(order, status=_whole_or_text(status),
                                                         remains=_whole_or_text(remains),
                                                         start_count=_whole_or_text(start_count)), text)


def _whole_or_text(raw: str | None) -> int | str | None:
    if raw is None:
        return None
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    return int(text) if digits.isdigit() and len(digits) <= 18 else text


@simulate_cmd.command("mode")
@click.argument("name")
@click.option("--off", is_flag=True, help="Switch the mode off.")
@click.option("--count", type=int, default=None, help="Only for the next COUNT requests it acts on.")
@click.option("--action", default=None, help="slow/drip: only this action (add, status, services...).")
@click.option("--delay", "delay", default=None, metavar="DURATION", help="slow/drip: how long (e.g. 5s).")
@click.option("--orders", default=None, help="Status modes: only these order ids, comma separated.")
@_sim_url_option
@_sim_key_option
@json_option
def simulate_mode(name: str, off: bool, count: int | None, action: str | None, delay: str | None,
                  orders: str | None, url: str, key: str | None, as_json: bool) -> None:
    """Switch a hostile mode of a running simulator on (or --off); `simulate modes` lists them."""
    ids = [int(part) for part in orders.split(",") if part.strip()] if orders else None
    delay_s = _duration_s(delay, "--delay")
    _drive(as_json, lambda: _control(url, key).mode(name, on=not off, count=count, action=action,
                                                    delay_s=delay_s, orders=ids), _modes_text)


@simulate_cmd.command("modes")
@json_option
def simulate_modes(as_json: bool) -> None:
    """List every hostile mode a simulator has."""
    from ..simulator import MODE_HELP

    data = {mode.value: why for mode, why in MODE_HELP.items()}
    emit(as_json, data, lambda: "\n".join(f"{name:<32} {why}" for name, why in data.items()))


@simulate_cmd.command("show")
@_sim_url_option
@_sim_key_option
@json_option
def simulate_show(url: str, key: str | None, as_json: bool) -> None:
    """A running simulator's state: balance, modes on, auto-progress, its newest orders."""

    def text(state: dict[str, Any]) -> str:
        progress = f"every {state['auto_progress_s']:g}s" if state["auto_progress_s"] else "off"
        lines = [f"{state['profile']} simulator, balance {state['balance']} {state['currency']}, "
                 f"auto-progress {progress}", _modes_text(state)]
        return "\n".join(lines + [_order_line(o) for o in state["orders"]])

    _drive(as_json, lambda: _control(url, key).state(), text)


@simulate_cmd.command("reset")
@_sim_url_option
@_sim_key_option
@json_option
def simulate_reset(url: str, key: str | None, as_json: bool) -> None:
    """Switch every hostile mode and injected fault of a running simulator off."""
    _drive(as_json, lambda: _control(url, key).reset(), _modes_text)


@simulate_cmd.command("progress")
@click.argument("interval")
@_sim_url_option
@_sim_key_option
@json_option
def simulate_progress(interval: str, url: str, key: str | None, as_json: bool) -> None:
    """Auto-progress of a running simulator: every INTERVAL (e.g. 30s), or `off`."""
    interval_s = _duration_s(interval, "INTERVAL")
    _drive(as_json, lambda: _control(url, key).auto_progress(interval_s),
           lambda state: f"auto-progress every {interval_s:g}s" if interval_s else "auto-progress off")
