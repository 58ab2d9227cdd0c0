"""The worker's decisions, case by case: given a claimed order and what the
upstream answered, what is written and what is refunded (``services.reselling``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.client import ErrorKind, UpstreamError, UpstreamStatus
from smmpanel.domain.schedule import retry_backoff_s
from smmpanel.domain.status import RefillStatus, Status
from smmpanel.domain.upstream_state import UpstreamState as S
from smmpanel.services.reselling import (
    MAX_SENDS_WITHOUT_PROOF,
    MAX_UPSTREAM_COUNT,
    MAX_UPSTREAM_ERROR_CHARS,
    MULTI_STATUS_RETRY_S,
    NOTHING,
    Claimed,
    ProviderFunds,
    Tally,
    decide_cancel,
    decide_placement,
    decide_poll,
    decide_refill_placement,
    decide_refill_poll,
    decide_multi_status,
    decide_unrecordable,
    decide_unsent,
    multi_status_first,
)

NOW = 1_000_000
FIRST_POLL_S = 30
FUNDS_RETRY_S = 60
NEXT_POLL_S = 120
CHARGE = 900_000  # micros, for 1000 units
UNITS = 1000


def order(state: S | None = S.IN_FLIGHT, *, status: Status = Status.PENDING, attempts: int = 1,
          provider_order: str | None = None, remains: int | None = UNITS, refused_sends: int = 0) -> Claimed:
    return Claimed(id=7, status=status, units=UNITS, charge_micros=CHARGE, remains=remains, upstream_state=state,
                   provider_order=provider_order, attempts=attempts, created_at_s=NOW - 100,
                   refused_sends=refused_sends)


def place(outcome, claimed: Claimed | None = None, *, id_taken: bool = False):
    return decide_placement(claimed or order(), outcome, id_taken=id_taken, now_s=NOW, first_poll_s=FIRST_POLL_S,
                            funds_retry_s=FUNDS_RETRY_S)


def error(kind: ErrorKind, detail: str = "words", http_status: int | None = None) -> UpstreamError:
    return UpstreamError(kind, detail, http_status=http_status)


def said(status: Status | None, remains: int | None = None, start_count: int | None = None,
         raw: str | None = None) -> UpstreamStatus:
    return UpstreamStatus(status=status, raw_status=raw or (status.value if status else "Weird"),
                          charge=Decimal("0.9"), start_count=start_count, remains=remains)


def poll(result, claimed: Claimed | None = None):
    return decide_poll(claimed or order(S.PLACED, provider_order="55"), result, now_s=NOW, next_poll_s=NEXT_POLL_S)


# ------------------------------------------------------------------ placement


def test_an_order_id_places_it_and_schedules_the_first_poll() -> None:
    d = place("98765")
    assert d.columns == {"upstream_state": "placed", "provider_order": "98765", "upstream_error": None,
                         "lease_until_s": None, "due_at_s": NOW + FIRST_POLL_S}
    assert (d.status, d.refund_micros, d.tally, d.funds) == (None, 0, Tally.PLACED, ProviderFunds.BACK)


def test_an_id_another_order_already_has_goes_to_the_operator() -> None:
    d = place("98765", id_taken=True)
    assert d.columns["upstream_state"] == "needs_attention"
    assert "already used by another order" in d.columns["upstream_error"]
    assert (d.status, d.refund_micros, d.tally) == (None, 0, Tally.NEEDS_ATTENTION)


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_a_request_that_never_left_is_queued_again_with_backoff_without_a_cap(attempts: int) -> None:
    d = place(error(ErrorKind.UNREACHABLE, "connection refused"), order(attempts=attempts))
    assert d.columns == {"upstream_state": "queued", "lease_until_s": None, "upstream_error": "connection refused",
                         "due_at_s": NOW + retry_backoff_s(attempts), "refused_sends": 1}
    assert (d.refund_micros, d.tally) == (0, Tally.REQUEUED)


def test_an_answer_that_is_no_proof_of_non_delivery_is_retried_up_to_the_cap_then_the_operator_decides() -> None:
    too_many = error(ErrorKind.UNREACHABLE, "rate limited (HTTP 429)", http_status=429)
    for attempts in range(1, MAX_SENDS_WITHOUT_PROOF):
        assert place(too_many, order(attempts=attempts)).columns["upstream_state"] == "queued"
    d = place(too_many, order(attempts=MAX_SENDS_WITHOUT_PROOF))
    assert d.columns["upstream_state"] == "needs_attention"
    assert f"sent {MAX_SENDS_WITHOUT_PROOF} times" in d.columns["upstream_error"]
    assert (d.refund_micros, d.tally) == (0, Tally.NEEDS_ATTENTION)


def test_out_of_funds_waits_unrefunded_and_marks_the_provider() -> None:
    d = place(error(ErrorKind.OUT_OF_FUNDS, "Not enough funds"))
    assert d.columns == {"upstream_state": "waiting_funds", "lease_until_s": None,
                         "upstream_error": "Not enough funds", "due_at_s": NOW + FUNDS_RETRY_S, "refused_sends": 1}
    assert (d.status, d.refund_micros, d.tally, d.funds) == (None, 0, Tally.WAITING_FUNDS, ProviderFunds.OUT)


@pytest.mark.parametrize("kind", [ErrorKind.BAD_SERVICE, ErrorKind.BAD_LINK, ErrorKind.BAD_QUANTITY])
def test_a_definite_refusal_cancels_and_refunds_everything(kind: ErrorKind) -> None:
    d = place(error(kind, "Incorrect link"))
    assert d.columns == {"upstream_state": "rejected", "upstream_error": "Incorrect link", "lease_until_s": None,
                         "due_at_s": None}
    assert (d.status, d.refund_micros, d.tally) == (Status.CANCELED, CHARGE, Tally.REJECTED)


@pytest.mark.parametrize("kind", [ErrorKind.UNKNOWN_OUTCOME, ErrorKind.REJECTED, ErrorKind.UNSUPPORTED,
                                  ErrorKind.UNKNOWN_ORDER])
def test_an_unknown_or_unclassified_outcome_waits_for_the_operator_never_resent(kind: ErrorKind) -> None:
    d = place(error(kind, "HTTP 500"))
    assert d.columns["upstream_state"] == "needs_attention"
    assert d.columns["upstream_error"] == f"{kind.value}: HTTP 500"
    assert (d.status, d.refund_micros) == (None, 0)


@pytest.mark.parametrize("outcome,counted", [
    (error(ErrorKind.UNREACHABLE, "connection refused"), True),  # never left
    (error(ErrorKind.OUT_OF_FUNDS, "Not enough funds"), True),  # the panel refused it
    (error(ErrorKind.REJECTED, "Invalid API key"), True),
    (error(ErrorKind.UNSUPPORTED, "Invalid action"), True),
    (error(ErrorKind.UNREACHABLE, "rate limited (HTTP 429)", http_status=429), False),  # may have made it
    (error(ErrorKind.UNKNOWN_OUTCOME, "read timeout"), False),
    ("98765", False),
])
def test_only_an_answer_proving_no_order_was_made_counts_as_a_refused_send(outcome, counted: bool) -> None:
    d = place(outcome, order(attempts=1, refused_sends=3))
    assert d.columns.get("refused_sends") == (4 if counted else None)


def test_upstream_words_are_kept_only_up_to_the_named_limit() -> None:
    d = place(error(ErrorKind.BAD_LINK, "x" * 10_000))
    assert len(d.columns["upstream_error"]) == MAX_UPSTREAM_ERROR_CHARS


@pytest.mark.parametrize("state", [S.PLACED, S.DONE, S.CANCELED, S.QUEUED])
def test_a_late_reply_after_someone_else_decided_is_ignored(state: S) -> None:
    for outcome in ("98765", error(ErrorKind.BAD_LINK)):
        d = place(outcome, order(state))
        assert not d.writes and "ignored" in d.log


def test_a_late_order_id_for_an_order_set_aside_is_the_truth_and_taken() -> None:
    d = place("98765", order(S.NEEDS_ATTENTION))
    assert (d.columns["upstream_state"], d.columns["provider_order"]) == ("placed", "98765")
    assert not place("98765", order(S.NEEDS_ATTENTION), id_taken=True).writes
    assert not place("98765", order(S.NEEDS_ATTENTION, provider_order="1")).writes


def test_a_claim_never_sent_goes_back_as_if_never_claimed() -> None:
    assert decide_unsent(order(attempts=3)).columns == {"upstream_state": "queued", "lease_until_s": None,
                                                         "attempts": 2}
    assert decide_unsent(order(S.NEEDS_ATTENTION)) is NOTHING


# ------------------------------------------------------------------ polling

SETTLING = [
    # (what the upstream says, status, remains written, refund, upstream_state)
    (said(Status.COMPLETED, 0, 1500), Status.COMPLETED, 0, 0, "done"),
    (said(Status.COMPLETED, None), Status.COMPLETED, None, 0, "done"),
    (said(Status.COMPLETED, -2), Status.COMPLETED, -2, 0, "done"),  # over-delivery: shown as reported
    (said(Status.PARTIAL, 333), Status.PARTIAL, 333, 299_700, "done"),
    (said(Status.PARTIAL, UNITS), Status.PARTIAL, UNITS, CHARGE, "done"),
    (said(Status.CANCELED, 0), Status.CANCELED, None, CHARGE, "done"),  # remains shown: all of it
    (said(Status.CANCELED, None), Status.CANCELED, None, CHARGE, "done"),
    (said(Status.IN_PROGRESS, 400, 10), Status.IN_PROGRESS, 400, 0, None),
    (said(Status.PROCESSING), Status.PROCESSING, None, 0, None),
]


@pytest.mark.parametrize("reply,status,remains,refund,state", SETTLING)
def test_a_believable_status_is_recorded_and_refunded_by_the_one_rule(reply, status, remains, refund, state) -> None:
    d = poll(reply)
    assert (d.status, d.remains, d.start_count, d.refund_micros) == (status, remains, reply.start_count, refund)
    assert d.columns.get("upstream_state") == state
    assert d.columns["due_at_s"] == (None if state == "done" else NOW + NEXT_POLL_S)
    assert d.columns["upstream_status"] == reply.raw_status
    assert d.tally is (Tally.SETTLED if state == "done" else Tally.NONE)


CONTRADICTIONS = [
    (said(Status.COMPLETED, 500), "Completed with 500 remaining"),
    (said(Status.COMPLETED, 40, raw="2"), "Completed with 40 remaining"),  # numeric code 2
    (said(Status.PARTIAL, 5000), "remains 5000 is above the 1000 ordered"),
    (said(Status.PARTIAL, 10**9), "above the 1000 ordered"),
    (said(Status.PARTIAL, -50), "Partial with remains -50"),
    (said(Status.PARTIAL, 0), "Partial with remains 0"),
    (said(Status.PARTIAL, None), "Partial without remains"),
    (said(Status.IN_PROGRESS, 5000), "above the 1000 ordered"),
    (said(Status.CANCELED, -5), "Canceled with remains -5"),
    (said(Status.IN_PROGRESS, 10, 10**30), f"start_count {10**30} is out of range"),
    (said(Status.IN_PROGRESS, 10, -1), "start_count -1 is out of range"),
    (said(Status.COMPLETED, -(10**20)), "out of range"),
]


@pytest.mark.parametrize("reply,reason", CONTRADICTIONS)
def test_numbers_that_contradict_the_status_go_to_the_operator_with_the_reply_and_no_refund(reply, reason) -> None:
    d = poll(reply)
    assert d.status is None and d.refund_micros == 0
    assert d.columns["upstream_state"] == "needs_attention" and d.columns["due_at_s"] is None
    assert reason in d.columns["upstream_error"]
    assert f"remains={reply.remains}" in d.columns["upstream_error"]  # the upstream's reply is kept
    assert d.columns["upstream_status"] == reply.raw_status
    assert d.tally is Tally.NEEDS_ATTENTION


def test_a_bound_far_above_any_real_count_still_takes_big_real_counts() -> None:
    assert poll(said(Status.IN_PROGRESS, 10, MAX_UPSTREAM_COUNT)).status is Status.IN_PROGRESS


def test_no_answer_or_a_failed_request_just_asks_again_later() -> None:
    for result in (None, error(ErrorKind.UNKNOWN_OUTCOME, "HTTP 500"), error(ErrorKind.UNREACHABLE)):
        assert poll(result).columns == {"due_at_s": NOW + NEXT_POLL_S}


def test_an_item_the_client_could_not_believe_goes_to_the_operator_alone() -> None:
    d = poll(error(ErrorKind.UNKNOWN_OUTCOME, "unexpected reply to status (protocol error: remains 1e99999999 ...)"))
    assert d.columns["upstream_state"] == "needs_attention"
    assert "1e99999999" in d.columns["upstream_error"]


def test_an_upstream_that_forgot_the_order_goes_to_the_operator() -> None:
    d = poll(error(ErrorKind.UNKNOWN_ORDER, "Incorrect order ID"))
    assert d.columns["upstream_state"] == "needs_attention" and "does not know order 55" in d.columns["upstream_error"]


def test_an_unknown_status_word_is_kept_and_never_acted_on() -> None:
    d = poll(said(None, 10, raw="Fail"))
    assert d.columns == {"upstream_status": "Fail", "due_at_s": NOW + NEXT_POLL_S}
    assert d.status is None and "Fail" in d.log


def test_a_move_the_status_machine_refuses_is_logged_and_settles_a_final_order() -> None:
    final = order(S.PLACED, status=Status.PARTIAL, provider_order="55", remains=300)
    d = poll(said(Status.IN_PROGRESS, 10), final)
    assert d.status is None and d.columns["upstream_state"] == "done" and "refused" in d.log
    same = poll(said(Status.PARTIAL, 300), final)  # a repeat: no new refund
    assert same.refund_micros == 0


def test_an_order_no_longer_placed_is_left_as_the_operator_set_it() -> None:
    for state in (S.NEEDS_ATTENTION, S.DONE):
        assert poll(said(Status.COMPLETED, 0), order(state)) is NOTHING


def test_a_status_the_database_refused_sets_the_order_aside() -> None:
    d = decide_unrecordable(order(S.PLACED), OverflowError("int too big"))
    assert d.columns["upstream_state"] == "needs_attention" and "OverflowError" in d.columns["upstream_error"]
    assert decide_unrecordable(order(S.DONE), OverflowError()) is NOTHING


# ------------------------------------------------------------------ multi-status


@pytest.mark.parametrize("stored,retry_at,first", [
    ("status", None, "status"),
    ("orders", None, "orders"),  # the operator's choice (or learned before): no retry time, it stays
    ("single", NOW + 1, "single"),  # a fallback, not yet due for a retry
    ("single", NOW, "status"),  # due: asked from the top again
    ("orders", 0, "status"),
])
def test_which_multi_status_spelling_is_tried_first(stored, retry_at, first) -> None:
    assert multi_status_first(stored, retry_at, NOW) == first


@pytest.mark.parametrize("stored,retry_at,tried,answered,stored_after", [
    ("status", None, "status", "single", {"multi_status_action": "single",
                                          "multi_status_retry_at_s": NOW + MULTI_STATUS_RETRY_S}),
    ("status", None, "status", "orders", {"multi_status_action": "orders",
                                          "multi_status_retry_at_s": NOW + MULTI_STATUS_RETRY_S}),
    ("single", NOW - 1, "status", "single", {"multi_status_action": "single",  # retried, still no: later again
                                             "multi_status_retry_at_s": NOW + MULTI_STATUS_RETRY_S}),
    ("single", NOW - 1, "status", "status", {"multi_status_action": "status", "multi_status_retry_at_s": None}),
    ("single", NOW + 5, "single", "single", {}),  # a fallback in force: nothing new
    ("status", None, "status", "status", {}),
    ("orders", None, "orders", "orders", {}),
])
def test_what_a_status_reply_teaches_about_the_spelling(stored, retry_at, tried, answered, stored_after) -> None:
    assert decide_multi_status(stored, retry_at, tried, answered, NOW) == stored_after


# ------------------------------------------------------------------ cancels


@pytest.mark.parametrize("result,again,note", [
    (None, False, "cancel forwarded upstream"),
    (error(ErrorKind.UNREACHABLE, "refused"), True, "cancel not sent yet: refused"),
    (error(ErrorKind.UNSUPPORTED), False, "upstream has no cancel action"),
    (error(ErrorKind.UNKNOWN_OUTCOME, "HTTP 500"), False, "cancel sent, answer lost: HTTP 500"),
    (error(ErrorKind.REJECTED, "too late"), False, "cancel refused upstream: too late"),
])
def test_a_cancel_answer_is_noted_and_the_order_polled_at_once(result, again, note) -> None:
    d = decide_cancel(result, now_s=NOW)
    assert d.columns == {"cancel_requested": again, "upstream_error": note, "due_at_s": NOW}
    assert d.tally is (Tally.NONE if again else Tally.CANCELS_FORWARDED)


# ------------------------------------------------------------------ refills


@pytest.mark.parametrize("outcome,columns", [
    ("44", {"upstream_state": "placed", "provider_refill": "44", "due_at_s": NOW + FIRST_POLL_S,
            "upstream_error": None}),
    (error(ErrorKind.UNREACHABLE, "refused"), {"upstream_state": "queued", "due_at_s": NOW + retry_backoff_s(1),
                                               "upstream_error": "refused"}),
    (error(ErrorKind.UNKNOWN_OUTCOME, "timeout"), {"upstream_state": "needs_attention", "due_at_s": None,
                                                   "upstream_error": "timeout"}),
    (error(ErrorKind.REJECTED, "no refill"), {"status": "Rejected", "upstream_state": "rejected", "due_at_s": None,
                                              "upstream_error": "rejected: no refill"}),
])
def test_a_refill_request_outcome(outcome, columns) -> None:
    assert decide_refill_placement(outcome, now_s=NOW, first_poll_s=FIRST_POLL_S).columns == columns


@pytest.mark.parametrize("result,columns", [
    (RefillStatus.COMPLETED, {"status": "Completed", "due_at_s": None, "upstream_state": "done"}),
    (RefillStatus.REJECTED, {"status": "Rejected", "due_at_s": None, "upstream_state": "done"}),
    (RefillStatus.IN_PROGRESS, {"status": "In progress", "due_at_s": NOW + NEXT_POLL_S}),
    (None, {"due_at_s": NOW + NEXT_POLL_S}),
    (error(ErrorKind.UNKNOWN_OUTCOME), {"due_at_s": NOW + NEXT_POLL_S}),
])
def test_a_refill_status(result, columns) -> None:
    assert decide_refill_poll("44", result, now_s=NOW, next_poll_s=NEXT_POLL_S).columns == columns


def test_a_refill_the_upstream_forgot_goes_to_the_operator() -> None:
    d = decide_refill_poll("44", error(ErrorKind.UNKNOWN_ORDER, "Refill not found"), now_s=NOW, next_poll_s=1)
    assert d.columns["upstream_state"] == "needs_attention" and "does not know refill 44" in d.columns["upstream_error"]
