"""Where a resold order (or refill) stands with its upstream panel.

The order row is its own outbox; its ``upstream_state`` walks::

                 ┌──────── unreachable (provably never sent), backoff ────────┐
                 v                                                            │
    (new) ──> queued ──claim──> in_flight ──id──> placed ──final status──> done
               │  ^               │  │  │          │
               │  └ out of funds ─┘  │  │          └── unknown order, numbers that
               │  waiting_funds <────┘  │              contradict the status ──┐
               │     │ (claimed again)  └── refused: rejected                 │
               │     └──> in_flight         unknown outcome, lease expired,   │
               │                            retry cap ──> needs_attention <───┘
               └── cancel before sending ──> canceled     │
                                                          └─ operator: placed (its upstream id),
                                                             queued (provably never made), canceled

An order that provably never reached its upstream (``never_reached_refusal``)
may be moved by the operator to another upstream: back to ``queued`` there.

An operator who settles an order by hand (``orders set`` with a final status)
moves any unsettled state to ``done``. ``None`` (no state) is an order the
operator fulfils himself; it never enters this machine.

Refills walk a smaller machine (no funds wait, no cancel): ``queued ->
in_flight -> placed -> done``, with ``in_flight -> queued`` (unreachable),
``in_flight -> rejected`` and ``in_flight | placed -> needs_attention``.

This module is the only place that spells a state; the store renders the
named sets into SQL from here.
"""

from __future__ import annotations

from enum import Enum
from typing import Mapping

from .errors import InvalidField, UpstreamMoveRefused


class UpstreamState(str, Enum):
    QUEUED = "queued"  # charged, waiting to be sent
    WAITING_FUNDS = "waiting_funds"  # the upstream is out of funds; sent when it takes orders again
    IN_FLIGHT = "in_flight"  # claimed under a lease; the call may be running right now
    PLACED = "placed"  # exists upstream (provider_order): polled until final
    DONE = "done"  # final status recorded: nothing left to do upstream
    REJECTED = "rejected"  # the upstream refused it definitely: canceled and refunded here
    CANCELED = "canceled"  # canceled before it was ever sent
    NEEDS_ATTENTION = "needs_attention"  # the operator decides (``orders resolve``)

    @classmethod
    def parse(cls, text: str, field: str = "upstream_state") -> "UpstreamState":
        key = text.strip().lower().replace(" ", "_").replace("-", "_")
        for member in cls:
            if member.value == key:
                return member
        raise InvalidField(field, "one_of", allowed=", ".join(m.value for m in cls))


S = UpstreamState

# Not sent yet: a customer may cancel it without asking anyone.
NOT_SENT = frozenset({S.QUEUED, S.WAITING_FUNDS})
# What the worker claims for an ``add``.
PLACEABLE = frozenset({S.QUEUED, S.WAITING_FUNDS})
# What the worker polls and forwards cancels for.
POLLABLE = frozenset({S.PLACED})
# Nothing left to do upstream: a provider may be removed once all its orders are here.
SETTLED = frozenset({S.DONE, S.REJECTED, S.CANCELED})
# What ``orders resolve`` accepts.
RESOLVABLE = frozenset({S.NEEDS_ATTENTION})
# What an operator's final status settles (moves to ``done``).
UNSETTLED = frozenset(S) - SETTLED

ORDER_TRANSITIONS: Mapping[UpstreamState, frozenset[UpstreamState]] = {
    # queued -> queued, waiting_funds -> queued: moved to another upstream (``orders resend``).
    S.QUEUED: frozenset({S.IN_FLIGHT, S.CANCELED, S.DONE, S.QUEUED}),
    S.WAITING_FUNDS: frozenset({S.IN_FLIGHT, S.CANCELED, S.DONE, S.QUEUED}),
    S.IN_FLIGHT: frozenset({S.PLACED, S.QUEUED, S.WAITING_FUNDS, S.REJECTED, S.NEEDS_ATTENTION, S.DONE}),
    S.PLACED: frozenset({S.DONE, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.PLACED, S.QUEUED, S.CANCELED, S.DONE}),
    S.DONE: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELED: frozenset(),
}

REFILL_TRANSITIONS: Mapping[UpstreamState, frozenset[UpstreamState]] = {
    S.QUEUED: frozenset({S.IN_FLIGHT}),
    S.IN_FLIGHT: frozenset({S.PLACED, S.QUEUED, S.REJECTED, S.NEEDS_ATTENTION}),
    S.PLACED: frozenset({S.DONE, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset(),
    S.DONE: frozenset(),
    S.REJECTED: frozenset(),
}


def can_move(old: UpstreamState, new: UpstreamState,
             transitions: Mapping[UpstreamState, frozenset[UpstreamState]] = ORDER_TRANSITIONS) -> bool:
    return new in transitions.get(old, frozenset())


def check_move(old: UpstreamState | str, new: UpstreamState,
               transitions: Mapping[UpstreamState, frozenset[UpstreamState]] = ORDER_TRANSITIONS) -> UpstreamState:
    """``new`` if the diagram allows ``old -> new``; raises ``UpstreamMoveRefused`` otherwise."""
    old = UpstreamState(old)
    if not can_move(old, new, transitions):
        raise UpstreamMoveRefused(current=old.value, new=new.value)
    return new


# --------------------------------------------------------- moving to another upstream

# Where an order may be when it is moved to another upstream: not being sent, not placed.
RESENDABLE = frozenset({S.QUEUED, S.WAITING_FUNDS, S.NEEDS_ATTENTION})


def never_reached_refusal(state: UpstreamState | str | None, *, provider_order: str | None, attempts: int,
                          refused_sends: int, final: bool, cancel_requested: bool) -> str | None:
    """Why an order can't be moved to another upstream, or None: it provably
    never reached its first one, so sending it elsewhere can't buy it twice.

    Proof is: no upstream order id, not claimed right now, and every send so
    far answered with proof that no order was made (``refused_sends``: the
    upstream was unreachable, or refused it with a definite error). One send
    without such an answer (an unknown outcome, HTTP 429, a lease that ran
    out in a crash) may have made the order, and it stays where it is.
    The reason is a key of ``api.messages.RESEND_REASONS``.
    """
    if state is None:
        return "manual"
    state = UpstreamState(state)
    if state is S.IN_FLIGHT:
        return "sending"
    if provider_order is not None or state is S.PLACED:
        return "placed"
    if state not in RESENDABLE:
        return "settled"
    if final:
        return "final"
    if cancel_requested:
        return "cancel_requested"
    if attempts > refused_sends:
        return "maybe_sent"
    return None
