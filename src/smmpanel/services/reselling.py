"""The worker's decisions, as pure functions: given a claimed order (or refill)
and what its upstream answered, what is written and what is refunded.

No I/O here: the worker claims, calls the upstream, asks one of these
functions, and records the ``Decision`` it gets. Each rule is table-tested in
``tests/unit/test_reselling_decisions.py``. The rules themselves are listed in
``smmpanel.worker``'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import Any, Mapping

from ..client import ErrorKind, UpstreamError, UpstreamStatus
from ..client.errors import DEFINITE_KINDS
from ..domain.errors import StatusMoveRefused
from ..domain.schedule import retry_backoff_s
from ..domain.status import FINAL, RefillStatus, Status, decide_move
from ..domain.upstream_state import REFILL_TRANSITIONS, UpstreamState as S, check_move

# How much of an upstream's words is kept on the order (``upstream_error``).
MAX_UPSTREAM_ERROR_CHARS = 500
# How much of an upstream's raw status text is kept (``upstream_status``).
MAX_UPSTREAM_STATUS_CHARS = 100
# How much of an upstream's words goes into a note about a cancel or a lookup.
MAX_NOTE_DETAIL_CHARS = 200
# Counts an upstream reports (start_count, remains) beyond this are not counts
# of anything real: the order goes to the operator instead of the database.
MAX_UPSTREAM_COUNT = 10**15
# An answer that does not prove the order was not made (HTTP 429 after the
# upstream may have created it) allows a new ``add`` only while the order has
# been sent fewer times than this; then the operator decides.
MAX_SENDS_WITHOUT_PROOF = 2

# How the client words an entry of a reply it could read but not believe (a
# number past its bounds): that one order's own fault, not the request's.
PROTOCOL_ERROR_MARK = "protocol error"

DEFINITE_REJECTIONS = frozenset({ErrorKind.BAD_SERVICE, ErrorKind.BAD_LINK, ErrorKind.BAD_QUANTITY})
TERMINAL = frozenset({Status.COMPLETED, Status.PARTIAL, Status.CANCELED})


class Tally(Enum):
    """Which counter of the worker's report a decision adds to (the counter
    is the member's name in lower case)."""

    NONE = auto()
    PLACED = auto()
    REQUEUED = auto()
    WAITING_FUNDS = auto()
    REJECTED = auto()
    NEEDS_ATTENTION = auto()
    SETTLED = auto()
    CANCELS_FORWARDED = auto()
    REFILLS_PLACED = auto()


class ProviderFunds(str, Enum):
    """What a placement outcome says about the upstream's balance."""

    UNCHANGED = "unchanged"
    OUT = "out"  # mark it out of funds; hold its queue until the next probe
    BACK = "back"  # it took an order: release everything held for funds


@dataclass(frozen=True)
class Decision:
    """What to write. ``columns`` go on the row as they are; ``status`` (with
    ``remains``/``start_count``) goes through the status machine, which posts
    the refund (``refund_micros``, computed here for the record and the tests)."""

    columns: Mapping[str, Any] = field(default_factory=dict)
    status: Status | None = None
    remains: int | None = None
    start_count: int | None = None
    refund_micros: int = 0
    note: str | None = None
    tally: Tally = Tally.NONE
    funds: ProviderFunds = ProviderFunds.UNCHANGED
    log: str | None = None  # a warning for the operator's log

    @property
    def writes(self) -> bool:
        return bool(self.columns) or self.status is not None


NOTHING = Decision()


@dataclass(frozen=True)
class Claimed:
    """What a decision needs to know of an order row."""

    id: int
    status: Status
    units: int
    charge_micros: int
    remains: int | None
    upstream_state: S | None
    provider_order: str | None
    attempts: int
    created_at_s: int
    refused_sends: int = 0  # sends answered with proof that no order was made

    @classmethod
    def of(cls, row: Any) -> "Claimed":
        state = row["upstream_state"]
        return cls(
            id=row["id"],
            status=Status(row["status"]),
            units=row["units"],
            charge_micros=row["charge_micros"],
            remains=row["remains"],
            upstream_state=None if state is None else S(state),
            provider_order=row["provider_order"],
            attempts=row["attempts"],
            created_at_s=row["created_at_s"],
            refused_sends=row["refused_sends"],
        )


def clip(text: str, limit: int = MAX_UPSTREAM_ERROR_CHARS) -> str:
    return text[:limit]


def _attention(order: Claimed, reason: str, **columns: Any) -> Decision:
    return Decision(
        columns={"upstream_state": check_move(order.upstream_state, S.NEEDS_ATTENTION).value,
                 "upstream_error": clip(reason), "lease_until_s": None, "due_at_s": None, **columns},
        tally=Tally.NEEDS_ATTENTION,
        log=f"order {order.id} needs attention: {clip(reason, MAX_NOTE_DETAIL_CHARS)}",
    )


# ------------------------------------------------------------------ placement


def answered_without_proof(error: UpstreamError) -> bool:
    """An "unreachable" that is really an answer (HTTP 429): the upstream got
    the request, so nothing proves the order was not made."""
    return error.kind is ErrorKind.UNREACHABLE and error.http_status is not None


def proves_not_made(error: UpstreamError) -> bool:
    """The answer to an ``add`` proves no order was made upstream: the request
    never left, or the panel itself refused it. (Counted in ``refused_sends``:
    only an order whose every send was such may go to another upstream.)"""
    if error.kind is ErrorKind.UNREACHABLE:
        return not answered_without_proof(error)
    return error.kind in DEFINITE_KINDS


def decide_placement(order: Claimed, outcome: str | UpstreamError, *, id_taken: bool, now_s: int,
                     first_poll_s: int, funds_retry_s: int) -> Decision:
    """The reply to an ``add`` of a claimed order: an upstream order id, or an error.

    ``id_taken``: the upstream answered an id another of our orders already has.
    """
    if order.upstream_state is not S.IN_FLIGHT:
        # The lease ran out or the operator settled it meanwhile: their word stands. A late
        # success on a needs_attention order is the one reply still worth taking: it is the truth.
        late_truth = (isinstance(outcome, str) and order.upstream_state is S.NEEDS_ATTENTION
                      and order.provider_order is None and not id_taken)
        if not late_truth:
            shown = outcome if isinstance(outcome, str) else outcome.kind.value
            return Decision(log=f"order {order.id}: late upstream reply {shown!r} ignored "
                                f"(now {order.upstream_state.value if order.upstream_state else 'manual'})")
    if isinstance(outcome, str):
        if id_taken:
            return _attention(order, f"upstream returned order id {outcome}, already used by another order")
        return Decision(
            columns={"upstream_state": check_move(order.upstream_state, S.PLACED).value, "provider_order": outcome,
                     "upstream_error": None, "lease_until_s": None, "due_at_s": now_s + first_poll_s},
            tally=Tally.PLACED,
            funds=ProviderFunds.BACK,
        )
    decision = _decide_error(order, outcome, now_s=now_s, funds_retry_s=funds_retry_s)
    if proves_not_made(outcome) and decision.status is None:  # (a canceled order is never sent again anyway)
        decision = replace(decision, columns={**decision.columns, "refused_sends": order.refused_sends + 1})
    return decision


def _decide_error(order: Claimed, outcome: UpstreamError, *, now_s: int, funds_retry_s: int) -> Decision:
    kind, detail = outcome.kind, clip(outcome.detail)
    if kind is ErrorKind.UNREACHABLE:
        if answered_without_proof(outcome) and order.attempts >= MAX_SENDS_WITHOUT_PROOF:
            return _attention(order, f"sent {order.attempts} times, each answered without proof that no order "
                                     f"was made upstream (last: {detail}); check upstream, then resolve")
        return Decision(
            columns={"upstream_state": check_move(S.IN_FLIGHT, S.QUEUED).value, "lease_until_s": None,
                     "upstream_error": detail, "due_at_s": now_s + retry_backoff_s(order.attempts)},
            tally=Tally.REQUEUED,
        )
    if kind is ErrorKind.OUT_OF_FUNDS:
        return Decision(
            columns={"upstream_state": check_move(S.IN_FLIGHT, S.WAITING_FUNDS).value, "lease_until_s": None,
                     "upstream_error": detail, "due_at_s": now_s + funds_retry_s},
            tally=Tally.WAITING_FUNDS,
            funds=ProviderFunds.OUT,
        )
    if kind in DEFINITE_REJECTIONS:
        return Decision(
            columns={"upstream_state": check_move(S.IN_FLIGHT, S.REJECTED).value, "upstream_error": detail,
                     "lease_until_s": None, "due_at_s": None},
            status=Status.CANCELED,
            refund_micros=_refund(order, Status.CANCELED, None),
            note=f"order {order.id} rejected upstream",
            tally=Tally.REJECTED,
        )
    return _attention(order, f"{kind.value}: {detail}")


def decide_unsent(order: Claimed) -> Decision:
    """The worker claimed the order but never sent it (it is stopping, or the
    pass ran out of time): back in the queue as if never claimed."""
    if order.upstream_state is not S.IN_FLIGHT:
        return NOTHING
    return Decision(columns={"upstream_state": check_move(S.IN_FLIGHT, S.QUEUED).value, "lease_until_s": None,
                             "attempts": max(0, order.attempts - 1)})


# ------------------------------------------------------------------ polling


def _refund(order: Claimed, status: Status, remains: int | None) -> int:
    return decide_move(order.status, status, charge=order.charge_micros, units=order.units,
                       remains=remains).refund_micros


def _said(status: UpstreamStatus) -> str:
    """The upstream's reply as it was read, for the operator."""
    return (f"status={status.raw_status[:MAX_UPSTREAM_STATUS_CHARS]!r} remains={status.remains} "
            f"start_count={status.start_count} charge={status.charge}")


def contradiction(status: UpstreamStatus, units: int) -> str | None:
    """Why an upstream's numbers can't be taken as they are (None: they can).

    Over-delivery on a Completed order (negative remains) is what upstreams
    report and stays as reported; anything that would refund on a guess, or
    show a customer more remains than they ordered, is refused.
    """
    remains, start = status.remains, status.start_count
    if start is not None and not 0 <= start <= MAX_UPSTREAM_COUNT:
        return f"start_count {start} is out of range"
    if remains is not None and abs(remains) > MAX_UPSTREAM_COUNT:
        return f"remains {remains} is out of range"
    if remains is not None and remains > units:
        return f"remains {remains} is above the {units} ordered"
    if status.status is Status.COMPLETED and remains is not None and remains > 0:
        return f"Completed with {remains} remaining"
    if status.status is Status.PARTIAL:
        if remains is None:
            return "Partial without remains: a refund is never guessed"
        if remains <= 0:
            return f"Partial with remains {remains}: nothing to refund, yet not Completed"
    if status.status is Status.CANCELED and remains is not None and remains < 0:
        return f"Canceled with remains {remains}: more was delivered than ordered"
    return None


def decide_poll(order: Claimed, result: UpstreamStatus | UpstreamError | None, *, now_s: int,
                next_poll_s: int) -> Decision:
    """A status reply for a placed order (``None``: no usable answer this time)."""
    if order.upstream_state is not S.PLACED:  # resolved by the operator meanwhile
        return NOTHING
    again = {"due_at_s": now_s + next_poll_s}
    if result is None:
        return Decision(columns=again)
    if isinstance(result, UpstreamError):
        if result.kind is ErrorKind.UNKNOWN_ORDER:
            return _attention(order, f"upstream does not know order {order.provider_order}: "
                                     f"{clip(result.detail, MAX_NOTE_DETAIL_CHARS)}")
        if PROTOCOL_ERROR_MARK in result.detail:
            return _attention(order, f"upstream status unusable: {result.detail}")
        return Decision(columns=again)  # a failed request: ask again later
    raw = clip(result.raw_status, MAX_UPSTREAM_STATUS_CHARS)
    if result.status is None:
        return Decision(columns={"upstream_status": raw, **again},
                        log=f"order {order.id}: unknown upstream status {raw!r} kept, not acted on")
    reason = contradiction(result, order.units)
    if reason is not None:
        return _attention(order, f"{reason}; upstream said {_said(result)}", upstream_status=raw)
    new = result.status
    remains = None if new is Status.CANCELED else result.remains  # a cancel refunds all: show all remaining
    try:
        refund = _refund(order, new, remains)
    except StatusMoveRefused:
        final = order.status in FINAL
        return Decision(
            columns={"upstream_status": raw, "due_at_s": None if final else now_s + next_poll_s,
                     **({"upstream_state": check_move(S.PLACED, S.DONE).value} if final else {})},
            log=f"order {order.id}: upstream move {order.status.value} -> {new.value} refused",
        )
    terminal = new in TERMINAL
    columns: dict[str, Any] = {"upstream_status": raw, "due_at_s": None if terminal else now_s + next_poll_s}
    if terminal:
        columns["upstream_state"] = check_move(S.PLACED, S.DONE).value
    return Decision(columns=columns, status=new, remains=remains, start_count=result.start_count,
                    refund_micros=refund, note=f"order {order.id} {new.value} upstream",
                    tally=Tally.SETTLED if terminal else Tally.NONE)


def decide_unrecordable(order: Claimed, error: Exception) -> Decision:
    """Writing what the upstream said failed (a value the database refused):
    the operator looks at it; other orders go on."""
    if order.upstream_state is not S.PLACED:
        return NOTHING
    return _attention(order, f"the upstream's status could not be recorded: {error!r}")


# ------------------------------------------------------------------ multi-status

# A provider that fell back from multi-status (``status``/``orders``) to one
# request per order is asked the multi spelling again after this long.
MULTI_STATUS_RETRY_S = 600
MULTI_STATUS_FIRST = "status"


def multi_status_first(stored: str, retry_at_s: int | None, now_s: int) -> str:
    """The spelling to try first: the stored one, except that a fallback the
    worker made is tried again from the top once its retry time comes (an
    operator's own choice, ``providers set --multi-status``, has no retry time)."""
    if retry_at_s is not None and now_s >= retry_at_s:
        return MULTI_STATUS_FIRST
    return stored


def decide_multi_status(stored: str, retry_at_s: int | None, tried: str, answered: str,
                        now_s: int) -> dict[str, Any]:
    """What to store after a status request tried ``tried`` and got its
    answer with ``answered`` (the client falls back within one reply)."""
    if answered != tried:  # no usable answer in that spelling this time: fall back, for a while
        return {"multi_status_action": answered, "multi_status_retry_at_s": now_s + MULTI_STATUS_RETRY_S}
    if answered != stored or (answered == MULTI_STATUS_FIRST and retry_at_s is not None):
        return {"multi_status_action": answered, "multi_status_retry_at_s": None}  # it answers again
    return {}


# ------------------------------------------------------------------ cancels

NO_ANSWER = UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "no answer for this id")



def decide_cancel(result: UpstreamError | None, *, now_s: int) -> Decision:
    """The upstream's answer to a forwarded cancel (``None``: accepted). The
    order is polled right away either way: polling settles it."""
    again = False
    if result is None:
        note = "cancel forwarded upstream"
    elif result.kind is ErrorKind.UNREACHABLE:  # a second cancel is harmless: sent again next pass
        note, again = f"cancel not sent yet: {clip(result.detail, MAX_NOTE_DETAIL_CHARS)}", True
    elif result.kind is ErrorKind.UNSUPPORTED:
        note = "upstream has no cancel action"
    elif result.kind is ErrorKind.UNKNOWN_OUTCOME:
        # Not re-sent: polling will show whether the upstream canceled it.
        note = f"cancel sent, answer lost: {clip(result.detail, MAX_NOTE_DETAIL_CHARS)}"
    else:
        note = f"cancel refused upstream: {clip(result.detail, MAX_NOTE_DETAIL_CHARS)}"
    return Decision(columns={"cancel_requested": again, "upstream_error": note, "due_at_s": now_s},
                    tally=Tally.NONE if again else Tally.CANCELS_FORWARDED)


# ------------------------------------------------------------------ refills


def decide_refill_placement(outcome: str | UpstreamError, *, now_s: int, first_poll_s: int) -> Decision:
    def to(state: S) -> str:
        return check_move(S.IN_FLIGHT, state, REFILL_TRANSITIONS).value

    if isinstance(outcome, str):
        return Decision(columns={"upstream_state": to(S.PLACED), "provider_refill": outcome,
                                 "due_at_s": now_s + first_poll_s, "upstream_error": None},
                        tally=Tally.REFILLS_PLACED)
    if outcome.kind is ErrorKind.UNREACHABLE:  # a second refill request is refused upstream, never paid
        return Decision(columns={"upstream_state": to(S.QUEUED), "due_at_s": now_s + retry_backoff_s(1),
                                 "upstream_error": clip(outcome.detail)})
    if outcome.kind is ErrorKind.UNKNOWN_OUTCOME:
        return Decision(columns={"upstream_state": to(S.NEEDS_ATTENTION), "due_at_s": None,
                                 "upstream_error": clip(outcome.detail)})
    return Decision(columns={"status": RefillStatus.REJECTED.value, "upstream_state": to(S.REJECTED),
                             "due_at_s": None, "upstream_error": clip(f"{outcome.kind.value}: {outcome.detail}")})


def decide_refill_poll(provider_refill: str, result: RefillStatus | None | UpstreamError, *, now_s: int,
                       next_poll_s: int) -> Decision:
    if isinstance(result, UpstreamError) and result.kind is ErrorKind.UNKNOWN_ORDER:
        return Decision(columns={
            "upstream_state": check_move(S.PLACED, S.NEEDS_ATTENTION, REFILL_TRANSITIONS).value, "due_at_s": None,
            "upstream_error": f"upstream does not know refill {provider_refill}: "
                              f"{clip(result.detail, MAX_NOTE_DETAIL_CHARS)}"})
    if not isinstance(result, RefillStatus):
        return Decision(columns={"due_at_s": now_s + next_poll_s})
    done = result in (RefillStatus.COMPLETED, RefillStatus.REJECTED)
    columns: dict[str, Any] = {"status": result.value, "due_at_s": None if done else now_s + next_poll_s}
    if done:
        columns["upstream_state"] = check_move(S.PLACED, S.DONE, REFILL_TRANSITIONS).value
    return Decision(columns=columns)
