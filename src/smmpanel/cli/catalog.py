"""The service catalog."""

from __future__ import annotations

from typing import Any

import click

from ..domain.money import plain
from ..domain.ordertypes import ServiceType
from ..services import catalog
from ..services.panel import Panel
from .base import below_cost_warning, emit, json_option, main, warn, with_panel


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
    row = await catalog.service(panel, service_id)
    warning = below_cost_warning(row["rate_micros"], row["cost_micros"]) if "rate" in parsed else None
    warn(None if as_json else warning)
    emit(as_json, {**_service_json(row), "warning": warning}, f"service {service_id} updated")
