"""The service catalog."""

from __future__ import annotations

from typing import Any

import click

from ..domain.money import plain
from ..domain.ordertypes import ServiceType
from ..domain.pricing import margin_percent
from ..services import catalog, providers
from ..services.panel import Panel
from ..services.principal import ACTOR_CLI
from .base import below_cost_warning, emit, json_option, main, table, warn, with_panel


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
        "margin_percent": _margin_text(row),
    }


def _margin_text(row: Any) -> str | None:
    margin = margin_percent(row["rate_micros"], row["cost_micros"])
    return None if margin is None else str(margin)


@services.command("add")
@click.option("--name", required=True, help="What customers see in the service list.")
@click.option("--category", required=True, help="The group it is listed under (created when new).")
@click.option("--type", "type_", required=True, type=click.Choice([t.value for t in ServiceType], case_sensitive=False),
              help="The order type: which fields an order takes and how it is counted.")
@click.option("--rate", required=True, help="Price per 1000 (flat types: per order).")
@click.option("--min", "min_", required=True, type=int, help="Smallest quantity per order.")
@click.option("--max", "max_", required=True, type=int, help="Largest quantity per order.")
@click.option("--refill", is_flag=True, help="Customers may ask for refills.")
@click.option("--cancel", is_flag=True, help="Customers may cancel orders not yet started.")
@click.option("--dripfeed", is_flag=True, help="Orders may be split in runs (runs, interval).")
@click.option("--refill-days", type=int, default=30, show_default=True,
              help="How long after the order a refill may be asked for.")
@click.option("--deny-duplicate-link", is_flag=True, help="Refuse a link that already has an active order.")
@click.option("--description", default=None, help="Shown to customers with the service.")
@json_option
@with_panel
async def services_add(panel: Panel, as_json: bool, type_: str, min_: int, max_: int, **opts: Any) -> None:
    """Add a service to the catalog."""
    fields = {k: v for k, v in opts.items() if v is not None}
    service_id = await catalog.add_service(panel, type=type_, min=min_, max=max_, **fields)
    emit(as_json, _service_json(await catalog.service(panel, service_id)), f"service {service_id} created")


@services.command("list")
@json_option
@with_panel
async def services_list(panel: Panel, as_json: bool) -> None:
    """The whole catalog: price, upstream provider, cost and margin."""
    rows = await catalog.all_services(panel)
    names = {view.row["id"]: view.row["name"] for view in await providers.list_providers(panel, live=False)}
    cur = panel.currency
    data = [_service_json(r) | {"provider": names.get(r["provider_id"])} for r in rows]
    emit(as_json, data, lambda: table(
        ["ID", "CATEGORY", "NAME", "TYPE", f"RATE {cur}", f"COST {cur}", "MARGIN %", "MIN", "MAX", "PROVIDER",
         "ENABLED"],
        # Rates in full (as the API's services list gives them): a rate per 1000 may be finer than a cent.
        [(r["id"], r["category"], r["name"], r["type"], d["rate"], d["cost"], d["margin_percent"], r["min"],
          r["max"], None if d["provider"] is None else f"{d['provider']}:{r['provider_service']}",
          "yes" if r["enabled"] else "no") for r, d in zip(rows, data)],
        right=["ID", f"RATE {cur}", f"COST {cur}", "MARGIN %", "MIN", "MAX"], empty="no services"))


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
    row = await catalog.service(panel, service_id)
    warning = below_cost_warning(row["rate_micros"], row["cost_micros"]) if "rate" in parsed else None
    warn(None if as_json else warning)
    emit(as_json, {**_service_json(row), "warning": warning}, f"service {service_id} updated")


def _move_options(fn: Any) -> Any:
    fn = click.option("--position", type=int, default=None, help="To this place (1 is first; past the end: last).")(fn)
    fn = click.option("--down", is_flag=True, help="One place down (later in the list).")(fn)
    return click.option("--up", is_flag=True, help="One place up (earlier in the list).")(fn)


@services.command("move")
@click.argument("service_id", type=int)
@_move_options
@json_option
@with_panel
async def services_move(panel: Panel, service_id: int, up: bool, down: bool, position: int | None,
                        as_json: bool) -> None:
    """Reorder a service within its category: every list customers see follows."""
    to = catalog.check_move_to(up, down, position)
    now_at = await catalog.move(panel, "service", service_id, to, actor=ACTOR_CLI)
    emit(as_json, {"service": service_id, "position": now_at}, f"service {service_id} is now #{now_at} of its category")


# ---------------------------------------------------------------- categories


@main.group()
def categories() -> None:
    """The catalog's categories and their order."""


@categories.command("list")
@json_option
@with_panel
async def categories_list(panel: Panel, as_json: bool) -> None:
    """Categories in the order customers see them."""
    rows = await catalog.categories(panel)
    data = [{"category": r["id"], "name": r["name"], "position": place, "services": r["services"]}
            for place, r in enumerate(rows, start=1)]
    emit(as_json, data, lambda: table(
        ["#", "ID", "NAME", "SERVICES"], [(d["position"], d["category"], d["name"], d["services"]) for d in data],
        right=["#", "ID", "SERVICES"], empty="no categories"))


@categories.command("move")
@click.argument("category_id", type=int)
@_move_options
@json_option
@with_panel
async def categories_move(panel: Panel, category_id: int, up: bool, down: bool, position: int | None,
                          as_json: bool) -> None:
    """Reorder a category (with its services): every list customers see follows."""
    to = catalog.check_move_to(up, down, position)
    now_at = await catalog.move(panel, "category", category_id, to, actor=ACTOR_CLI)
    emit(as_json, {"category": category_id, "position": now_at}, f"category {category_id} is now #{now_at}")
