"""The reselling worker: places queued orders upstream, forwards cancels and
refills, polls statuses in batches, and settles refunds through the same
``apply_status`` the operator uses (so a refund is still posted at most once).

The loop (``loop.py``) only claims, calls and records; every decision ("this
order, this upstream answer: what is written, what is refunded") is a pure
function in ``services.reselling``; the states are ``domain.upstream_state``'s.
Each upstream is untrusted input. The rules, in one place:

* Exactly-once placement. An order is claimed (``in_flight``, with a lease) in
  a committed transaction *before* the upstream call. The reply is recorded in
  a second transaction. Only a request that provably never left (connection
  refused, DNS, connect timeout) is queued again, with backoff. Any unknown
  outcome, and any claim whose lease expires (a crash mid-call), becomes
  ``needs_attention`` for the operator: never re-sent by itself.
* Retry cap. An answer that is not proof of non-delivery (HTTP 429: the
  upstream got the request and may have made the order) is retried only while
  the order has been sent fewer than ``MAX_SENDS_WITHOUT_PROOF`` (2) times;
  then it waits in ``needs_attention``.
* Upstream out of funds: the order waits (``waiting_funds``), not refunded;
  the provider is marked and probed with one order every ``FUNDS_RETRY_S``
  until it takes one again, then all waiting orders go.
* Bad service, link or quantity upstream: the order is Canceled and refunded;
  the upstream's words stay in ``upstream_error`` for the operator.
* Polling: oldest due first, one request per batch of ``max_ids``; terminal
  orders are never polled again; older orders are polled less often
  (``domain.schedule``). An unknown upstream status is recorded, never
  guessed into a refund.
* Numbers are believed only when they fit the status: ``Completed`` with
  remains above 0, ``Partial`` without remains or with remains at or below 0,
  any remains above the quantity, ``Canceled`` with negative remains, a count
  out of range or one the client could not read: the order goes to
  ``needs_attention`` with the upstream's reply in ``upstream_error``, nothing
  is refunded until the operator decides. Over-delivery on ``Completed``
  (negative remains) is kept as reported, without a refund.
* Each order of a batch is recorded on its own (a savepoint): one bad item
  sets its own order aside, never another order or provider.
* Multi-status fallback is decided per reply: when ``action=status&orders=``
  gives no usable answer (an empty ``{}``, a refusal) the client falls back
  (``orders``, then one request per order) for that reply; the worker stores
  the fallback (``providers list`` shows it) and asks the multi spelling again
  after ``MULTI_STATUS_RETRY_S``; ``providers set --multi-status`` resets it.
* Providers proceed at the same time, each with its own lanes
  (``concurrency``) and its own time: a phase of a provider's pass (placements
  and cancels, then polls) starts no call that could end later than one call
  deadline (``timeout x TOTAL_DEADLINE_FACTOR``) plus ``PHASE_MARGIN_S`` after
  it began, so a pass ends within two call deadlines plus a margin whatever an
  upstream does. One provider's failure (a bad setting, a bug) is logged and
  reported (``errors``); the others proceed.
* Circuit breaker (``domain.breaker``): after ``BREAKER_TRIP_FAILURES`` calls
  in a row that got no reply (timeouts, refused or dropped connections) a
  provider is held for 30 s, doubling while it keeps failing, up to 10 min;
  it is logged, stored on the provider and shown by ``providers list``. One
  reply closes it.
* Stop (SIGTERM/SIGINT): no new call starts; the calls under way end within
  their deadline and are recorded; a claimed order not yet sent goes back to
  the queue untouched.
* Requests are counted by the client in memory (action, outcome); at the end
  of a provider's pass they are added to ``upstream_calls`` in one statement,
  with the breaker's state, so ``/metrics`` (another process) shows them.
* No database transaction is ever held across an upstream call.
"""

from .loop import Worker, WorkerReport

__all__ = ["Worker", "WorkerReport"]
