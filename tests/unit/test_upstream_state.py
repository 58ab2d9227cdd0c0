"""The upstream-state machine: every move in the diagram is allowed, every
other one is refused."""

from __future__ import annotations

import itertools

import pytest

from smmpanel.domain.errors import InvalidField, UpstreamMoveRefused
from smmpanel.domain.upstream_state import (
    NOT_SENT,
    ORDER_TRANSITIONS,
    PLACEABLE,
    REFILL_TRANSITIONS,
    RESOLVABLE,
    SETTLED,
    UNSETTLED,
    UpstreamState as S,
    can_move,
    check_move,
)

# The diagram of the module docstring, written out edge by edge (why each exists).
ORDER_DIAGRAM = {
    (S.QUEUED, S.IN_FLIGHT),  # claimed for an add
    (S.WAITING_FUNDS, S.IN_FLIGHT),  # the funds probe
    (S.QUEUED, S.CANCELED),  # the customer cancels before it is sent
    (S.WAITING_FUNDS, S.CANCELED),
    (S.QUEUED, S.QUEUED),  # moved to another upstream (never reached the first)
    (S.WAITING_FUNDS, S.QUEUED),
    (S.IN_FLIGHT, S.PLACED),  # the upstream answered an order id
    (S.IN_FLIGHT, S.QUEUED),  # provably never sent: again later
    (S.IN_FLIGHT, S.WAITING_FUNDS),  # the upstream is out of funds
    (S.IN_FLIGHT, S.REJECTED),  # a definite refusal: refunded
    (S.IN_FLIGHT, S.NEEDS_ATTENTION),  # unknown outcome, lease expired, retry cap
    (S.PLACED, S.DONE),  # a final status
    (S.PLACED, S.NEEDS_ATTENTION),  # unknown order upstream, contradicting numbers
    (S.NEEDS_ATTENTION, S.PLACED),  # resolved with its upstream id (or a late reply with one)
    (S.NEEDS_ATTENTION, S.QUEUED),  # resolved: provably never made
    (S.NEEDS_ATTENTION, S.CANCELED),  # resolved: given up, refunded
    # The operator settles by hand whatever is unsettled:
    (S.QUEUED, S.DONE),
    (S.WAITING_FUNDS, S.DONE),
    (S.IN_FLIGHT, S.DONE),
    (S.NEEDS_ATTENTION, S.DONE),
}

REFILL_DIAGRAM = {
    (S.QUEUED, S.IN_FLIGHT),
    (S.IN_FLIGHT, S.PLACED),
    (S.IN_FLIGHT, S.QUEUED),
    (S.IN_FLIGHT, S.REJECTED),
    (S.IN_FLIGHT, S.NEEDS_ATTENTION),
    (S.PLACED, S.DONE),
    (S.PLACED, S.NEEDS_ATTENTION),
}

ALL_PAIRS = list(itertools.product(S, S))


@pytest.mark.parametrize("old,new", ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_every_order_move_of_the_diagram_is_allowed_and_no_other(old: S, new: S) -> None:
    if (old, new) in ORDER_DIAGRAM:
        assert check_move(old, new) is new
        assert can_move(old, new)
    else:
        assert not can_move(old, new)
        with pytest.raises(UpstreamMoveRefused) as refused:
            check_move(old, new)
        assert refused.value.params == {"current": old.value, "new": new.value}


@pytest.mark.parametrize("old,new", ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_every_refill_move_of_the_diagram_is_allowed_and_no_other(old: S, new: S) -> None:
    assert can_move(old, new, REFILL_TRANSITIONS) is ((old, new) in REFILL_DIAGRAM)


def test_states_read_from_the_database_are_checked_too() -> None:
    assert check_move("placed", S.DONE) is S.DONE
    with pytest.raises(UpstreamMoveRefused):
        check_move("done", S.PLACED)


def test_settled_states_are_dead_ends_and_every_other_state_can_be_settled() -> None:
    for state in SETTLED:
        assert not ORDER_TRANSITIONS[state]
    for state in UNSETTLED:
        assert S.DONE in ORDER_TRANSITIONS[state]
    assert SETTLED | UNSETTLED == set(S) and not SETTLED & UNSETTLED


def test_named_sets() -> None:
    assert NOT_SENT == PLACEABLE == {S.QUEUED, S.WAITING_FUNDS}
    assert RESOLVABLE == {S.NEEDS_ATTENTION}


def test_an_operator_spelling_parses_and_a_wrong_one_names_the_field() -> None:
    assert S.parse("Needs attention") is S.NEEDS_ATTENTION
    assert S.parse("waiting-funds") is S.WAITING_FUNDS
    with pytest.raises(InvalidField) as bad:
        S.parse("retry")
    assert bad.value.params["field"] == "upstream_state"
