"""Which orders provably never reached their upstream, so the operator may
send them to another one: every upstream state, with and without proof."""

from __future__ import annotations

import pytest

from smmpanel.api.messages import RESEND_REASONS, message
from smmpanel.domain.errors import ResendRefused
from smmpanel.domain.upstream_state import ORDER_TRANSITIONS, RESENDABLE, UpstreamState as S, never_reached_refusal


def refusal(state, *, provider_order=None, attempts=0, refused_sends=0, final=False, cancel_requested=False):
    return never_reached_refusal(state, provider_order=provider_order, attempts=attempts,
                                 refused_sends=refused_sends, final=final, cancel_requested=cancel_requested)


# Every state, as it stands with no send yet, then after sends that were each refused with proof.
NEVER_SENT = {
    None: "manual",  # fulfilled by hand: no upstream to move from
    S.QUEUED: None,
    S.WAITING_FUNDS: None,
    S.IN_FLIGHT: "sending",  # the call may be running right now
    S.PLACED: "placed",
    S.DONE: "settled",
    S.REJECTED: "settled",  # refused and refunded already
    S.CANCELED: "settled",
    S.NEEDS_ATTENTION: None,  # e.g. a definite refusal the worker can't classify (bad key)
}


def test_the_table_covers_every_state() -> None:
    assert set(NEVER_SENT) == {None, *S}


@pytest.mark.parametrize("state", list(NEVER_SENT), ids=lambda s: getattr(s, "value", "manual"))
def test_an_order_whose_every_send_was_refused_with_proof(state) -> None:
    assert refusal(state) == NEVER_SENT[state]
    assert refusal(state, attempts=3, refused_sends=3) == NEVER_SENT[state]
    assert refusal(state.value if state else None, attempts=2, refused_sends=2) == NEVER_SENT[state]


@pytest.mark.parametrize("state", sorted(RESENDABLE), ids=lambda s: s.value)
def test_one_send_without_proof_may_have_made_the_order_upstream(state) -> None:
    # An unknown outcome, HTTP 429, or a lease that ran out in a crash: attempts counted, no proof.
    assert refusal(state, attempts=1, refused_sends=0) == "maybe_sent"
    assert refusal(state, attempts=4, refused_sends=3) == "maybe_sent"


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
def test_an_upstream_order_id_is_proof_it_was_made_whatever_the_state(state) -> None:
    assert refusal(state, provider_order="555") in {"placed", "sending", "settled"}
    if state in RESENDABLE:
        assert refusal(state, provider_order="555") == "placed"


@pytest.mark.parametrize("state", sorted(RESENDABLE), ids=lambda s: s.value)
def test_a_finished_order_or_one_the_customer_cancels_stays(state) -> None:
    assert refusal(state, final=True) == "final"
    assert refusal(state, cancel_requested=True) == "cancel_requested"


def test_a_moved_order_can_go_back_to_queued_from_every_resendable_state() -> None:
    for state in RESENDABLE:
        assert S.QUEUED in ORDER_TRANSITIONS[state]


@pytest.mark.parametrize("reason", sorted(RESEND_REASONS))
def test_every_refusal_reads_in_english_and_vietnamese(reason: str) -> None:
    error = ResendRefused(reason=reason, provider_order="555", state="done", attempts=2, unproven=1,
                          provider="up2", service="7")
    english, vietnamese = message(error), message(error, "vi")
    assert english.startswith("refused: ") and vietnamese.startswith("bị từ chối: ")
    assert "{" not in english + vietnamese
    if reason == "maybe_sent":
        assert "1 of its 2 sends" in english
