"""The reselling worker: places queued orders upstream, forwards cancels and
refills, polls statuses in batches, and settles refunds through the same
``apply_status`` the operator uses (so a refund is still posted at most once).

Its rules, in one place:

* Exactly-once placement. An order is claimed (``in_flight``, with a lease) in
  a committed transaction *before* the upstream call. The reply is recorded in
  a second transaction. Only a request that provably never left
  (``ErrorKind.UNREACHABLE``) is queued again, with backoff. Any unknown
  outcome, and any claim whose lease expires (a crash mid-call), becomes
  ``needs_attention`` for the operator: never re-sent by itself.
* Upstream out of funds: the order waits (``waiting_funds``), not refunded;
  the provider is marked and probed with one order every ``FUNDS_RETRY_S``
  until it takes one again, then all waiting orders go.
* Bad service, link or quantity upstream: the order is Canceled and refunded;
  the upstream's words stay in ``upstream_error`` for the operator.
* Polling: oldest due first, one request per batch of ``max_ids``; terminal
  orders are never polled again; older orders are polled less often
  (``domain.schedule``). An unknown upstream status is recorded, never
  guessed into a refund.
* No database transaction is ever held across an upstream call.
"""

from .loop import Worker, WorkerReport

__all__ = ["Worker", "WorkerReport"]
