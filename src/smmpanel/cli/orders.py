"""Orders and refills: listing them, fulfilling by hand, settling unknown outcomes."""

from __future__ import annotations

from typing import Any

import click
import orjson

from ..domain.money import plain
from ..services import orders, refills
from ..services.panel import Panel
from ..services.principal import ACTOR_CLI
from .base import emit, json_option, main, with_panel


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
    """One order, and its history: every status change and who made it."""
    data = _order_json(await orders.order(panel, order_id))
    data["history"] = [
        {"at": e.created_at_s, "status": e.status, "remains": e.remains, "start_count": e.start_count,
         "actor": e.actor, "note": e.note}
        for e in await orders.history(panel, order_id)
    ]

    def text() -> str:
        fields = [f"{k:>16}: {v}" for k, v in data.items() if k != "history"]
        events = [f"  {e['at']} {e['status']} (remains {e['remains']}) by {e['actor']}: {e['note']}"
                  for e in data["history"]]
        return "\n".join(fields + ["history:", *events] if events else fields)

    emit(as_json, data, text)


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
    changed = await orders.operator_set_status(panel, order_id, status, actor=ACTOR_CLI, remains=remains,
                                               start_count=start_count)
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
                                            cancel=cancel, actor=ACTOR_CLI))
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
