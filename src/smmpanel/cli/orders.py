"""Orders and refills: listing them, fulfilling by hand, settling unknown outcomes."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from ..api.messages import message
from ..domain.money import display, plain
from ..domain.upstream_state import UpstreamState
from ..services import orders, refills, resend
from ..services.panel import Panel
from ..services.principal import ACTOR_CLI
from .base import emit, json_option, local_time, main, table, with_panel


# ------------------------------------------------------------------ orders

EXIT_SOME_REFUSED = 3  # like ``providers import``: the rest was done


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


@orders_group.command("list")
@click.option("--status", default=None, help="Only orders in this status (Pending, In progress, Partial...).")
@click.option("--user", default=None, help="Only this customer's orders.")
@click.option("--upstream-state", default=None, help="one of: " + ", ".join(s.value for s in UpstreamState))
@click.option("--limit", default=100, show_default=True, type=int, help="How many orders, newest first.")
@json_option
@with_panel
async def orders_list(panel: Panel, status: str | None, user: str | None, upstream_state: str | None, limit: int,
                      as_json: bool) -> None:
    """Orders, newest first."""
    rows = await orders.list_orders(panel, status=status, user=user, upstream_state=upstream_state, limit=limit)
    cur = panel.currency
    emit(as_json, [_order_json(r) for r in rows], lambda: table(
        ["ORDER", "CREATED", "USER", "SERVICE", "STATUS", "REMAINS", f"NET CHARGE {cur}", "UPSTREAM", "LINK"],
        [(r["id"], local_time(r["created_at_s"]), r["user_name"], r["service_id"], r["status"], r["remains"],
          display(r["charge_micros"] - r["refund_micros"], cur),
          f"{r['provider']}:{r['provider_order'] or '-'} {r['upstream_state']}" if r["provider"] else None, r["link"])
         for r in rows],
        right=["ORDER", "SERVICE", "REMAINS", f"NET CHARGE {cur}"], empty="no orders"))


@orders_group.command("show")
@click.argument("order_id", type=int)
@json_option
@with_panel
async def orders_show(panel: Panel, order_id: int, as_json: bool) -> None:
    """One order, and its history: every status change and who made it."""
    row = await orders.order(panel, order_id)
    data = _order_json(row)
    data["history"] = [
        {"at": e.created_at_s, "status": e.status, "remains": e.remains, "start_count": e.start_count,
         "actor": e.actor, "note": e.note}
        for e in await orders.history(panel, order_id)
    ]
    cur = panel.currency
    shown = {k: v for k, v in data.items() if k != "history"} | {
        "created_at_s": local_time(row["created_at_s"]), "charge": display(row["charge_micros"], cur),
        "refunded": display(row["refund_micros"], cur),
        "net_charge": display(row["charge_micros"] - row["refund_micros"], cur)}

    def text() -> str:
        fields = [f"{'created' if k == 'created_at_s' else k:>16}: {v}" for k, v in shown.items()]
        events = [f"  {local_time(e['at'])} {e['status']} (remains {e['remains']}) by {e['actor']}: {e['note']}"
                  for e in data["history"]]
        return "\n".join(fields + ["history:", *events] if events else fields)

    emit(as_json, data, text)


@orders_group.command("set")
@click.argument("order_id", type=int)
@click.option("--status", required=True, help="The new status: Pending, In progress, Completed, Partial, Canceled.")
@click.option("--remains", type=int, default=None, help="Units not delivered (Partial refunds them).")
@click.option("--start-count", type=int, default=None, help="The count at the link when the order started.")
@json_option
@with_panel
async def orders_set(panel: Panel, order_id: int, status: str, remains: int | None, start_count: int | None,
                     as_json: bool) -> None:
    """Record progress by hand; Partial and Canceled post the refund (once)."""
    changed = await orders.operator_set_status(panel, order_id, status, actor=ACTOR_CLI, remains=remains,
                                               start_count=start_count)
    row = await orders.order(panel, order_id)
    data = _order_json(row) | {"changed": changed}
    refunded = display(row["refund_micros"], panel.currency)
    emit(as_json, data, f"order {order_id}: {data['status']}, refunded {refunded} {panel.currency}"
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


@orders_group.command("resend")
@click.argument("order_ids", type=int, nargs=-1, required=True)
@click.option("--provider", required=True, help="The provider to send them to (its name).")
@click.option("--service", "service", required=True, help="The service id at that provider.")
@json_option
@with_panel
async def orders_resend(panel: Panel, order_ids: tuple[int, ...], provider: str, service: str, as_json: bool) -> None:
    """Send orders to another provider instead: only orders that provably never
    reached their own (not sent yet, or each send refused with proof). Every
    other order is refused with its reason; exit code 3 when one was."""
    outcome = await resend.resend_each(panel, list(dict.fromkeys(order_ids)), provider, service, actor=ACTOR_CLI)
    data = [{"order": i, "moved": i in outcome.moved,
             **({"error": message(outcome.refused[i])} if i in outcome.refused else {})} for i in outcome.ids]
    emit(as_json, data, lambda: "\n".join(
        f"order {d['order']}: " + (f"moved to {provider} service {service}" if d["moved"] else d["error"])
        for d in data))
    if outcome.refused:
        sys.exit(EXIT_SOME_REFUSED)


# ----------------------------------------------------------------- refills


@main.group("refills")
def refills_group() -> None:
    """Refill requests."""


def _refill_json(row: Any) -> dict[str, Any]:
    return {"refill": row["id"], "order": row["order_id"], "user": row["user_name"], "status": row["status"],
            "created_at_s": row["created_at_s"], "provider_refill": row["provider_refill"],
            "upstream_state": row["upstream_state"], "upstream_error": row["upstream_error"]}


@refills_group.command("list")
@click.option("--status", default=None, help="Only refills in this status (Pending, Completed, Rejected...).")
@json_option
@with_panel
async def refills_list(panel: Panel, status: str | None, as_json: bool) -> None:
    """Refill requests, newest first."""
    rows = [_refill_json(r) for r in await refills.list_refills(panel, status)]
    emit(as_json, rows, lambda: table(
        ["REFILL", "CREATED", "ORDER", "USER", "STATUS", "UPSTREAM"],
        [(r["refill"], local_time(r["created_at_s"]), r["order"], r["user"], r["status"],
          r["upstream_state"] and f"{r['provider_refill'] or '-'} {r['upstream_state']}") for r in rows],
        right=["REFILL", "ORDER"], empty="no refills"))


@refills_group.command("set")
@click.argument("refill_id", type=int)
@click.option("--status", required=True, help="The new status (e.g. Completed, Rejected).")
@json_option
@with_panel
async def refills_set(panel: Panel, refill_id: int, status: str, as_json: bool) -> None:
    """Record a refill's outcome by hand."""
    data = _refill_json(await refills.operator_set_status(panel, refill_id, status))
    emit(as_json, data, f"refill {refill_id}: {data['status']}")
