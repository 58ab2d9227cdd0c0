"""The worker's steps (see the package docstring for the rules)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import orjson

from ..client import ErrorKind, ProviderClient, UpstreamError, UpstreamStatus
from ..client.limits import TOTAL_DEADLINE_FACTOR
from ..domain.errors import StatusMoveRefused
from ..domain.ordertypes import ServiceType, upstream_params
from ..domain.schedule import FUNDS_RETRY_S, LEASE_MARGIN_S, poll_interval_s, retry_backoff_s
from ..domain.status import FINAL, RefillStatus, Status
from ..services.orders import apply_status
from ..services.principal import ACTOR_WORKER
from ..services.panel import Panel
from ..services.providers import client_for
from ..store import orders as orders_store, refills as refills_store, upstream

log = logging.getLogger("smmpanel.worker")

IDLE_SLEEP_S = 1.0
MAX_BATCHES_PER_PASS = 50  # per provider and step: bounds one pass, the rest waits for the next
CANCEL_BATCH = 100
DEFINITE_REJECTIONS = (ErrorKind.BAD_SERVICE, ErrorKind.BAD_LINK, ErrorKind.BAD_QUANTITY)
TERMINAL = frozenset({Status.COMPLETED, Status.PARTIAL, Status.CANCELED})
_NO_ANSWER = UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "no answer for this id")


@dataclass
class WorkerReport:
    placed: int = 0
    requeued: int = 0
    waiting_funds: int = 0
    rejected: int = 0
    needs_attention: int = 0
    polled: int = 0
    settled: int = 0
    cancels_forwarded: int = 0
    refills_placed: int = 0
    refills_polled: int = 0
    poll_requests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return any((self.placed, self.requeued, self.waiting_funds, self.rejected, self.needs_attention,
                    self.polled, self.cancels_forwarded, self.refills_placed, self.refills_polled))


class Worker:
    def __init__(
        self,
        panel: Panel,
        make_client: Callable[[Any], ProviderClient] = client_for,
        *,
        funds_retry_s: int = FUNDS_RETRY_S,
        poll_interval: Callable[[int], int] = poll_interval_s,
    ) -> None:
        self.panel = panel
        self.make_client = make_client
        self.funds_retry_s = funds_retry_s
        self.poll_interval = poll_interval
        self._clients: dict[int, tuple[tuple, ProviderClient]] = {}
        self._retired: list[ProviderClient] = []  # replaced clients, closed with the worker (calls may be running)
        self._limits: dict[int, asyncio.Semaphore] = {}

    # ------------------------------------------------------------ plumbing

    async def _provider(self, provider_id: int) -> Any:
        return await upstream.provider_by_id(self.panel.db, provider_id)

    def _client(self, provider: Any) -> ProviderClient:
        """One client per provider, made anew when the operator changes its settings."""
        settings = tuple(provider[k] for k in ("url", "key_sealed", "encoding", "timeout_s", "max_ids", "concurrency"))
        cached = self._clients.get(provider["id"])
        if cached is None or cached[0] != settings:
            if cached is not None:
                self._retired.append(cached[1])
            self._clients[provider["id"]] = (settings, self.make_client(provider))
            self._limits[provider["id"]] = asyncio.Semaphore(max(1, provider["concurrency"]))
        return self._clients[provider["id"]][1]

    def _lease_until(self, provider: Any) -> int:
        """When a claim made now is presumed dead: the client abandons a whole call
        after ``TOTAL_DEADLINE_FACTOR`` x its timeout, plus a margin for recording."""
        return self.panel.clock() + int(provider["timeout_s"] * TOTAL_DEADLINE_FACTOR) + LEASE_MARGIN_S

    async def _limited(self, provider: Any, call: Any) -> Any:
        async with self._limits[provider["id"]]:
            return await call

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        for client in self._retired:
            await client.aclose()
        self._clients.clear()
        self._retired.clear()

    # ---------------------------------------------------------------- loop

    async def run_once(self) -> WorkerReport:
        """Every due step once."""
        report = WorkerReport()
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            expired = await upstream.expire_leases(tx, now)
        report.needs_attention += len(expired)
        for step in (self.place_due, self.forward_cancels, self.place_refills, self.poll_orders, self.poll_refills):
            try:
                await step(report)
            except Exception as exc:  # one broken step must not stop the others
                log.exception("worker step %s failed", step.__name__)
                report.errors.append(f"{step.__name__}: {exc!r}")
        return report

    async def run_forever(self, stop: asyncio.Event | None = None, idle_sleep_s: float = IDLE_SLEEP_S) -> None:
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    report = await self.run_once()
                except Exception:  # the database went away, say: nothing was half-done, try again soon
                    log.exception("worker pass failed; retrying in %.0f s", idle_sleep_s)
                    report = WorkerReport()
                if not report.busy:
                    try:
                        await asyncio.wait_for(stop.wait(), idle_sleep_s)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self.aclose()

    # ----------------------------------------------------------- placement

    async def place_due(self, report: WorkerReport) -> None:
        now = self.panel.clock()
        for provider_id in await upstream.providers_with_due(self.panel.db, "('queued', 'waiting_funds')", now):
            provider = await self._provider(provider_id)
            client = self._client(provider)
            # An upstream out of funds gets one probe order at a time. Never claim more than
            # can be sent at once: a claimed order waiting for a free lane would age towards
            # its lease end without having been sent.
            limit = 1 if provider["out_of_funds"] else max(1, provider["concurrency"])
            for _ in range(MAX_BATCHES_PER_PASS):
                lease_until = self._lease_until(provider)
                async with self.panel.db.transaction() as tx:
                    claimed = await upstream.claim_for_placement(tx, provider_id, self.panel.clock(), lease_until, limit)
                if not claimed:
                    break
                outcomes = await asyncio.gather(*(self._limited(provider, self._send(client, row)) for row in claimed))
                for row, outcome in zip(claimed, outcomes):
                    await self._record_placement(provider, row, outcome, report)
                provider = await self._provider(provider_id)
                if provider["out_of_funds"]:
                    break

    async def _send(self, client: ProviderClient, row: Any) -> str | UpstreamError:
        params = upstream_params(ServiceType(row["type"]), row["link"], row["quantity"], row["runs"],
                                 row["interval_min"], orjson.loads(row["params"]))
        params["service"] = row["provider_service"]
        try:
            return await client.add(params)
        except UpstreamError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected fault: the outcome is unknown
            log.exception("unexpected error placing order %s", row["id"])
            return UpstreamError(ErrorKind.UNKNOWN_OUTCOME, f"unexpected error: {exc!r}")

    async def _record_placement(self, provider: Any, row: Any, outcome: str | UpstreamError,
                                report: WorkerReport) -> None:
        now = self.panel.clock()
        order_id = row["id"]
        async with self.panel.db.transaction() as tx:
            current = await orders_store.order_by_id(tx, order_id, for_update=True)
            late = current["upstream_state"] != "in_flight"
            if late and not (isinstance(outcome, str) and current["upstream_state"] == "needs_attention"
                             and current["provider_order"] is None):
                # The lease ran out or the operator settled the order meanwhile: their word stands. A late
                # success on a needs_attention order is the one reply still worth taking: it is the truth.
                log.warning("order %s: late upstream reply %r ignored (now %s)", order_id,
                            outcome if isinstance(outcome, str) else outcome.kind.value, current["upstream_state"])
                return
            if isinstance(outcome, str):
                if await upstream.provider_order_taken(tx, provider["id"], outcome):
                    # Checked rather than caught: a failed statement would abort a PostgreSQL transaction.
                    await orders_store.update_order(tx, order_id, now, upstream_state="needs_attention", lease_until_s=None,
                                            upstream_error=f"upstream returned order id {outcome}, already used by "
                                                           "another order")
                    report.needs_attention += 1
                    return
                await orders_store.update_order(tx, order_id, now, upstream_state="placed", provider_order=outcome,
                                        upstream_error=None, lease_until_s=None, due_at_s=now + self.poll_interval(0))
                if provider["out_of_funds"]:
                    await upstream.update_provider(tx, provider["id"], out_of_funds=False)
                    await upstream.wake_waiting_funds(tx, provider["id"], now)
                report.placed += 1
                return
            kind, detail = outcome.kind, outcome.detail[:500]
            if kind is ErrorKind.UNREACHABLE:
                await orders_store.update_order(tx, order_id, now, upstream_state="queued", lease_until_s=None,
                                        upstream_error=detail, due_at_s=now + retry_backoff_s(row["attempts"]))
                report.requeued += 1
            elif kind is ErrorKind.OUT_OF_FUNDS:
                await orders_store.update_order(tx, order_id, now, upstream_state="waiting_funds", lease_until_s=None,
                                        upstream_error=detail, due_at_s=now + self.funds_retry_s)
                await upstream.update_provider(tx, provider["id"], out_of_funds=True)
                await upstream.defer_for_funds(tx, provider["id"], now + self.funds_retry_s)
                report.waiting_funds += 1
            elif kind in DEFINITE_REJECTIONS:
                locked = await orders_store.order_by_id(tx, order_id, for_update=True)
                await apply_status(tx, locked, Status.CANCELED, now, actor=ACTOR_WORKER,
                                   note=f"order {order_id} rejected upstream",
                                   upstream_state="rejected", upstream_error=detail, lease_until_s=None, due_at_s=None)
                report.rejected += 1
            else:
                await orders_store.update_order(tx, order_id, now, upstream_state="needs_attention", lease_until_s=None,
                                        upstream_error=f"{kind.value}: {detail}", due_at_s=None)
                report.needs_attention += 1

    # ------------------------------------------------------------- cancels

    async def forward_cancels(self, report: WorkerReport) -> None:
        for provider_id in await upstream.providers_with_cancels(self.panel.db):
            provider = await self._provider(provider_id)
            client = self._client(provider)
            async with self.panel.db.transaction() as tx:
                claimed = await upstream.claim_cancels(tx, provider_id, CANCEL_BATCH)
            if not claimed:
                continue
            ids = [row["provider_order"] for row in claimed]
            try:
                results: dict[str, Any] = await self._limited(provider, client.cancel(ids))
            except UpstreamError as exc:
                results = {pid: exc for pid in ids}
            now = self.panel.clock()
            async with self.panel.db.transaction() as tx:
                for row in claimed:
                    result = results.get(row["provider_order"], _NO_ANSWER)
                    if result is None:
                        note, again = "cancel forwarded upstream", False
                    elif result.kind is ErrorKind.UNREACHABLE:
                        note, again = f"cancel not sent yet: {result.detail[:200]}", True
                    elif result.kind is ErrorKind.UNSUPPORTED:
                        note, again = "upstream has no cancel action", False
                    elif result.kind is ErrorKind.UNKNOWN_OUTCOME:
                        # Not re-sent: polling will show whether the upstream canceled it.
                        note, again = f"cancel sent, answer lost: {result.detail[:200]}", False
                    else:
                        note, again = f"cancel refused upstream: {result.detail[:200]}", False
                    await orders_store.update_order(tx, row["id"], now, cancel_requested=again, upstream_error=note,
                                            due_at_s=now)
                    report.cancels_forwarded += 0 if again else 1

    # ------------------------------------------------------------- polling

    async def poll_orders(self, report: WorkerReport) -> None:
        now = self.panel.clock()
        for provider_id in await upstream.providers_with_due(self.panel.db, "('placed')", now):
            provider = await self._provider(provider_id)
            client = self._client(provider)
            batch = max(1, provider["max_ids"])
            lanes = max(1, provider["concurrency"])
            for _ in range(0, MAX_BATCHES_PER_PASS, lanes):
                lease_until = self._lease_until(provider)
                batches = []
                async with self.panel.db.transaction() as tx:
                    for _ in range(lanes):
                        claimed = await upstream.claim_for_polling(tx, provider_id, self.panel.clock(), lease_until,
                                                                   batch)
                        if not claimed:
                            break
                        batches.append(claimed)
                if not batches:
                    break
                await asyncio.gather(*(self._poll_batch(provider, client, claimed, report) for claimed in batches))

    async def _poll_batch(self, provider: Any, client: ProviderClient, claimed: Sequence[Any],
                          report: WorkerReport) -> None:
        ids = [row["provider_order"] for row in claimed]
        report.poll_requests += 1
        try:
            results: dict[str, Any] = await self._limited(provider, client.statuses(ids))
        except UpstreamError as exc:
            log.warning("polling %s failed: %s", provider["name"], exc.kind.value)
            results = {}
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            learned = getattr(client, "multi_status_action", None)
            if learned and learned != provider["multi_status_action"]:
                # The client found how this upstream spells multi-status: keep it for the next client.
                await upstream.update_provider(tx, provider["id"], multi_status_action=learned)
            for row in await upstream.orders_by_ids(tx, [r["id"] for r in claimed], for_update=True):
                await self._apply_poll(tx, row, results.get(row["provider_order"]), now, report)

    async def _apply_poll(self, tx: Any, row: Any, result: Any, now: int, report: WorkerReport) -> None:
        report.polled += 1
        next_due = now + self.poll_interval(now - row["created_at_s"])
        if row["upstream_state"] != "placed":  # resolved by the operator meanwhile
            return
        if result is None or (isinstance(result, UpstreamError) and result.kind is not ErrorKind.UNKNOWN_ORDER):
            await orders_store.update_order(tx, row["id"], now, due_at_s=next_due)
            return
        if isinstance(result, UpstreamError):
            await orders_store.update_order(tx, row["id"], now, upstream_state="needs_attention", due_at_s=None,
                                    upstream_error=f"upstream does not know order {row['provider_order']}: "
                                                   f"{result.detail[:200]}")
            report.needs_attention += 1
            return
        status: UpstreamStatus = result
        if status.status is None:
            log.warning("order %s: unknown upstream status %r kept, not acted on", row["id"], status.raw_status)
            await orders_store.update_order(tx, row["id"], now, upstream_status=status.raw_status[:100], due_at_s=next_due)
            return
        if status.status is Status.PARTIAL and status.remains is None:
            await orders_store.update_order(tx, row["id"], now, upstream_state="needs_attention", due_at_s=None,
                                    upstream_status=status.raw_status[:100],
                                    upstream_error="upstream reported Partial without remains: set it by hand")
            report.needs_attention += 1
            return
        terminal = status.status in TERMINAL
        extra = {"upstream_status": status.raw_status[:100], "due_at_s": None if terminal else next_due}
        if terminal:
            extra["upstream_state"] = "done"
        try:
            changed = await apply_status(tx, row, status.status, now, actor=ACTOR_WORKER, remains=status.remains,
                                         start_count=status.start_count,
                                         note=f"order {row['id']} {status.status.value} upstream", **extra)
            if not changed:
                await orders_store.update_order(tx, row["id"], now, **extra)
        except StatusMoveRefused:
            log.warning("order %s: upstream move %s -> %s refused", row["id"], row["status"], status.status.value)
            await orders_store.update_order(tx, row["id"], now, upstream_status=status.raw_status[:100],
                                    due_at_s=None if Status(row["status"]) in FINAL else next_due,
                                    upstream_state="done" if Status(row["status"]) in FINAL else "placed")
        if terminal:
            report.settled += 1

    # ------------------------------------------------------------- refills

    async def place_refills(self, report: WorkerReport) -> None:
        now = self.panel.clock()
        for provider_id in await upstream.providers_with_due_refills(self.panel.db, "queued", now):
            provider = await self._provider(provider_id)
            client = self._client(provider)
            for _ in range(MAX_BATCHES_PER_PASS):
                # As for orders: claim only what is sent at once, so no claim ages unsent.
                async with self.panel.db.transaction() as tx:
                    claimed = await upstream.claim_refills(tx, "queued", "in_flight", provider_id, self.panel.clock(),
                                                           self._lease_until(provider),
                                                           max(1, provider["concurrency"]))
                if not claimed:
                    break
                outcomes = await asyncio.gather(*(self._send_refill(provider, client, row) for row in claimed))
                for row, outcome in zip(claimed, outcomes):
                    await self._record_refill(row, outcome, report)

    async def _send_refill(self, provider: Any, client: ProviderClient, row: Any) -> Any:
        try:
            return await self._limited(provider, client.refill(row["provider_order"]))
        except UpstreamError as exc:
            return exc

    async def _record_refill(self, row: Any, outcome: Any, report: WorkerReport) -> None:
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            if isinstance(outcome, str):
                await refills_store.update_refill(tx, row["id"], now, upstream_state="placed", provider_refill=outcome,
                                         due_at_s=now + self.poll_interval(0), upstream_error=None)
                report.refills_placed += 1
            elif outcome.kind is ErrorKind.UNREACHABLE:
                await refills_store.update_refill(tx, row["id"], now, upstream_state="queued",
                                         due_at_s=now + retry_backoff_s(1), upstream_error=outcome.detail[:500])
            elif outcome.kind is ErrorKind.UNKNOWN_OUTCOME:
                await refills_store.update_refill(tx, row["id"], now, upstream_state="needs_attention", due_at_s=None,
                                         upstream_error=outcome.detail[:500])
            else:
                await refills_store.update_refill(tx, row["id"], now, status=RefillStatus.REJECTED.value,
                                         upstream_state="rejected", due_at_s=None,
                                         upstream_error=f"{outcome.kind.value}: {outcome.detail[:400]}")

    async def poll_refills(self, report: WorkerReport) -> None:
        now = self.panel.clock()
        for provider_id in await upstream.providers_with_due_refills(self.panel.db, "placed", now):
            provider = await self._provider(provider_id)
            client = self._client(provider)
            lease_until = self._lease_until(provider)
            async with self.panel.db.transaction() as tx:
                claimed = await upstream.claim_refills(tx, "placed", None, provider_id, now, lease_until,
                                                       max(1, provider["max_ids"]))
            if not claimed:
                continue
            try:
                results: dict[str, Any] = await self._limited(
                    provider, client.refill_statuses([row["provider_refill"] for row in claimed]))
            except UpstreamError:
                results = {}
            now = self.panel.clock()
            async with self.panel.db.transaction() as tx:
                for row in claimed:
                    report.refills_polled += 1
                    result = results.get(row["provider_refill"])
                    if isinstance(result, UpstreamError) and result.kind is ErrorKind.UNKNOWN_ORDER:
                        await refills_store.update_refill(tx, row["id"], now, upstream_state="needs_attention", due_at_s=None,
                                                 upstream_error=f"upstream does not know refill "
                                                                f"{row['provider_refill']}: {result.detail[:200]}")
                        continue
                    if not isinstance(result, RefillStatus):
                        await refills_store.update_refill(tx, row["id"], now, due_at_s=now + self.poll_interval(0))
                        continue
                    done = result in (RefillStatus.COMPLETED, RefillStatus.REJECTED)
                    await refills_store.update_refill(tx, row["id"], now, status=result.value,
                                             upstream_state="done" if done else "placed",
                                             due_at_s=None if done else now + self.poll_interval(0))
