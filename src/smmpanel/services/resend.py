"""Moving an order to another upstream (provider and service) when it
provably never reached its first one (``domain.upstream_state.never_reached_refusal``).

One transaction per order: the row is locked, the proof checked on what is
committed, and the order goes back to ``queued`` at the new upstream with an
``order_events`` row naming the operator. The worker claims an order by
changing its state in a committed transaction, so a claim and a move can't
both win: the move refuses an order ``in_flight``, and a claim no longer
finds a moved order under its old provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..domain import fields as f
from ..domain.errors import InvalidField, NotFound, PanelError, ResendRefused
from ..domain.status import Status
from ..domain.upstream_state import UpstreamState, check_move, never_reached_refusal
from ..store import orders as orders_store
from ..store import upstream as upstream_store
from .panel import Panel
from .principal import check_actor

log = logging.getLogger("smmpanel.orders")

MAX_PROVIDER_SERVICE_CHARS = 100
# Delivered or given up: nothing left to send (Completed may still become Partial, but never be sent again).
DELIVERED_OR_GIVEN_UP = frozenset({Status.COMPLETED, Status.PARTIAL, Status.CANCELED})


async def resend(panel: Panel, order_id: int, provider: str, service: Any, *, actor: str) -> Any:
    """Move one order to ``provider``'s upstream ``service``; it is sent from
    there by the worker. Raises ``ResendRefused`` (with the reason) when the
    order may have reached its upstream. Returns the order as it is now."""
    actor = check_actor(actor)
    provider_name, target_service = _target(provider, service)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        target = await upstream_store.provider_by_name(tx, provider_name)
        if target is None:
            raise NotFound(what="provider", name=provider_name)
        row = await orders_store.order_by_id(tx, order_id, for_update=True)
        if row is None:
            raise NotFound(what="order", name=str(order_id))
        reason = never_reached_refusal(
            row["upstream_state"], provider_order=row["provider_order"], attempts=row["attempts"],
            refused_sends=row["refused_sends"], final=Status(row["status"]) in DELIVERED_OR_GIVEN_UP,
            cancel_requested=bool(row["cancel_requested"]))
        if reason is None and (row["provider_id"], row["provider_service"]) == (target["id"], target_service):
            reason = "unchanged"
        if reason is not None:
            raise ResendRefused(reason=reason, provider_order=row["provider_order"], state=row["upstream_state"],
                                attempts=row["attempts"], unproven=row["attempts"] - row["refused_sends"],
                                provider=target["name"], service=target_service)
        # A fresh start at the new upstream: its own retry budget, due at once.
        await orders_store.update_order(
            tx, order_id, now, provider_id=target["id"], provider_service=target_service,
            upstream_state=check_move(row["upstream_state"], UpstreamState.QUEUED).value,
            upstream_error=None, upstream_status=None, attempts=0, refused_sends=0, due_at_s=now,
            lease_until_s=None)
        was = f"{row['provider'] or '?'} service {row['provider_service']}"
        note = f"resent to {target['name']} service {target_service} (was {was}, {row['upstream_state']})"
        await orders_store.insert_order_event(tx, order_id, now, status=row["status"], remains=row["remains"],
                                              start_count=row["start_count"], actor=actor, note=note)
    log.info("order %s %s by %s", order_id, note, actor)
    return await orders_store.order_by_id(panel.db, order_id)


def _target(provider: Any, service: Any) -> tuple[str, str]:
    provider_name = f.parse_text(provider, "provider", max_chars=MAX_PROVIDER_SERVICE_CHARS)
    target_service = f.parse_text(service, "service", max_chars=MAX_PROVIDER_SERVICE_CHARS)
    if not provider_name:
        raise InvalidField("provider", "required")
    if not target_service:
        raise InvalidField("service", "required")
    return provider_name, target_service


@dataclass
class ResendOutcome:
    """Each order's result, in the order asked: moved, or refused with why."""

    moved: list[int] = field(default_factory=list)
    refused: dict[int, PanelError] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return sorted([*self.moved, *self.refused])


async def resend_each(panel: Panel, ids: Sequence[int], provider: str, service: Any, *, actor: str) -> ResendOutcome:
    """``resend`` on each order, each in its own transaction: one refusal
    never stops the others. A bad target is refused before any order is read."""
    actor = check_actor(actor)
    provider_name, _ = _target(provider, service)
    if await upstream_store.provider_by_name(panel.db, provider_name) is None:
        raise NotFound(what="provider", name=provider_name)
    outcome = ResendOutcome()
    for order_id in ids:
        try:
            await resend(panel, order_id, provider, service, actor=actor)
        except PanelError as exc:
            outcome.refused[order_id] = exc
        else:
            outcome.moved.append(order_id)
    return outcome
