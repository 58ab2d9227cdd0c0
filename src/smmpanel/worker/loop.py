"""The worker's loop: it only claims, calls and records (see the package
docstring for the rules; every decision is in ``services.reselling``)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import orjson

from ..client import ErrorKind, ProviderClient, UpstreamError
from ..client.limits import SINGLE_CALL_CONCURRENCY, TOTAL_DEADLINE_FACTOR
from ..domain.ordertypes import ServiceType, upstream_params
from ..domain.schedule import FUNDS_RETRY_S, LEASE_MARGIN_S, poll_interval_s
from ..domain.breaker import Breaker
from ..domain.upstream_state import UpstreamState
from ..services import reselling
from ..services.orders import apply_status
from ..services.panel import Panel
from ..services.principal import ACTOR_WORKER
from ..services.providers import client_for
from ..services.reselling import Claimed, Decision, ProviderFunds, Tally
from ..domain.errors import DatabaseBusy
from ..store import calls as calls_store, linksearch, orders as orders_store, refills as refills_store, upstream

log = logging.getLogger("smmpanel.worker")

T = TypeVar("T")

IDLE_SLEEP_S = 1.0
MAX_BATCHES_PER_PASS = 50  # per provider and step: bounds one pass, the rest waits for the next
LINK_INDEX_CHUNKS_PER_PASS = 20  # of linksearch.INDEX_CHUNK_ROWS links each
CANCEL_BATCH = 100
# A phase of a provider's pass starts no call that could end later than one
# call deadline plus this after the phase began: fast upstreams get several
# rounds, a slow one gets one, and a pass ends within two call deadlines (one
# per phase) plus this twice, whatever the upstream does.
PHASE_MARGIN_S = 10.0
SINGLE_STATUS = "single"


class _Unsent:
    """A call the worker did not make (stopping, or the phase's time was up)."""

    def __repr__(self) -> str:
        return "UNSENT"


UNSENT = _Unsent()


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
    providers_held: list[str] = field(default_factory=list)  # skipped: their circuit breaker is open
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return any((self.placed, self.requeued, self.waiting_funds, self.rejected, self.needs_attention,
                    self.polled, self.cancels_forwarded, self.refills_placed, self.refills_polled))

    def add(self, other: "WorkerReport") -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
            else:
                getattr(self, name).extend(value)

    def count(self, tally: Tally) -> None:
        if tally is not Tally.NONE:
            name = tally.name.lower()
            setattr(self, name, getattr(self, name) + 1)


@dataclass
class _Pass:
    """One provider's share of a pass: its client, its lanes, its time."""

    provider: Any
    client: ProviderClient
    lanes: asyncio.Semaphore
    breaker: Breaker
    stop: asyncio.Event
    call_deadline_s: float
    phase_ends_at: float = 0.0

    def start_phase(self) -> None:
        self.phase_ends_at = time.monotonic() + self.call_deadline_s + PHASE_MARGIN_S

    def may_call(self) -> bool:
        return not self.stop.is_set() and time.monotonic() + self.call_deadline_s <= self.phase_ends_at

    async def call(self, make: Callable[[], Awaitable[T]]) -> T | _Unsent:
        """One upstream call on a free lane, unless the worker is stopping or the
        phase has no time left for a whole call. Raises ``UpstreamError``."""
        async with self.lanes:
            if not self.may_call():
                return UNSENT
            try:
                result = await make()
            except UpstreamError as exc:
                self.breaker.record(exc)
                raise
            self.breaker.record(result)
            return result

    async def read(self, make: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """A call that only reads (statuses): abandoned at the call deadline,
        however many requests the client makes for it."""
        try:
            result = await self.call(lambda: asyncio.wait_for(make(), self.call_deadline_s))
        except UpstreamError:
            return {}
        except asyncio.TimeoutError:
            self.breaker.record(UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "no answer within the call deadline"))
            log.warning("provider %s: status reads took longer than %.0f s; asked again later",
                        self.provider["name"], self.call_deadline_s)
            return {}
        return {} if result is UNSENT else result


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
        self.stop = asyncio.Event()  # set: no new call starts; the calls running end and are recorded
        self._clients: dict[int, tuple[tuple, ProviderClient]] = {}
        self._retired: list[ProviderClient] = []  # replaced clients, closed with the worker (calls may be running)
        self._lanes: dict[int, asyncio.Semaphore] = {}

    # ------------------------------------------------------------ plumbing

    def _client(self, provider: Any) -> ProviderClient:
        """One client per provider, made anew when the operator changes its settings."""
        settings = tuple(provider[k] for k in ("url", "key_sealed", "encoding", "timeout_s", "max_ids", "concurrency"))
        cached = self._clients.get(provider["id"])
        if cached is None or cached[0] != settings:
            client = self.make_client(provider)
            if cached is not None:
                self._retired.append(cached[1])
                client.calls.give_back(cached[1].calls.take())  # not yet stored: the new client carries them
            self._clients[provider["id"]] = (settings, client)
            self._lanes[provider["id"]] = asyncio.Semaphore(max(1, provider["concurrency"]))
        return self._clients[provider["id"]][1]

    def _breaker(self, provider: Any) -> Breaker:
        """The provider's breaker as stored: every worker process shares it."""
        return Breaker(self.panel.clock, failures=provider["breaker_failures"],
                       open_for_s=provider["breaker_open_for_s"], open_until_s=provider["breaker_open_until_s"],
                       error=provider["breaker_error"])

    def _call_deadline_s(self, provider: Any) -> float:
        return provider["timeout_s"] * TOTAL_DEADLINE_FACTOR

    def _lease_until(self, provider: Any) -> int:
        """When a claim made now is presumed dead: a call starts only if it can end
        within its phase (one call deadline plus ``PHASE_MARGIN_S``, well inside
        ``LEASE_MARGIN_S``), and the margin covers recording the reply."""
        return self.panel.clock() + int(self._call_deadline_s(provider)) + LEASE_MARGIN_S

    async def aclose(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        for client in self._retired:
            await client.aclose()
        self._clients.clear()
        self._retired.clear()

    # ---------------------------------------------------------------- loop

    async def run_once(self) -> WorkerReport:
        """Every due step once, every provider at the same time and on its own:
        one provider's failure or slowness never holds another."""
        report = WorkerReport()
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            expired = await upstream.expire_leases(tx, now)
        report.needs_attention += len(expired)
        provider_ids = await upstream.providers_with_work(self.panel.db, now)
        await asyncio.gather(*(self._provider_pass(pid, report) for pid in provider_ids))
        await self._index_new_links()
        return report

    async def _index_new_links(self) -> None:
        """SQLite: the link search's index is filled here, off the API's path
        (a few short transactions per pass, so orders keep flowing)."""
        try:
            for _ in range(LINK_INDEX_CHUNKS_PER_PASS):
                if await linksearch.index_new_links(self.panel.db) < linksearch.INDEX_CHUNK_ROWS:
                    return
        except DatabaseBusy:  # the server is writing: the next pass goes on
            pass

    async def run_forever(self, stop: asyncio.Event | None = None, idle_sleep_s: float = IDLE_SLEEP_S,
                          on_pass: Callable[[WorkerReport], None] | None = None) -> None:
        """Pass after pass until ``stop``; ``on_pass`` hears of every pass that did something."""
        if stop is not None:
            self.stop = stop
        try:
            while not self.stop.is_set():
                try:
                    report = await self.run_once()
                except Exception:  # the database went away, say: nothing was half-done, try again soon
                    log.exception("worker pass failed; retrying in %.0f s", idle_sleep_s)
                    report = WorkerReport()
                if on_pass is not None and (report.busy or report.errors):
                    on_pass(report)
                if not report.busy:
                    try:
                        await asyncio.wait_for(self.stop.wait(), idle_sleep_s)
                    except asyncio.TimeoutError:
                        pass
        finally:
            await self.aclose()

    async def _provider_pass(self, provider_id: int, report: WorkerReport) -> None:
        name = str(provider_id)
        try:
            provider = await upstream.provider_by_id(self.panel.db, provider_id)
            name = provider["name"]
            breaker = self._breaker(provider)
            if not breaker.allows():
                report.providers_held.append(name)
                return
            was_open = breaker.tripped
            before = breaker.snapshot()
            run = _Pass(provider, self._client(provider), self._lanes[provider_id], breaker, self.stop,
                        self._call_deadline_s(provider))
            run.start_phase()
            # Cancels and placements first; then the polls, which settle what the cancels asked for.
            await self._steps(run, report, self.place_due, self.forward_cancels, self.place_refills)
            run.start_phase()
            await self._steps(run, report, self.poll_orders, self.poll_refills)
            await self._record_pass(run, breaker.snapshot() != before)
            if breaker.tripped and breaker.open_until_s != (before["breaker_open_until_s"] or 0):
                log.warning("provider %s: circuit open after %d failed calls in a row (%s); held for %d s",
                            name, breaker.failures, breaker.error, breaker.open_for_s)
            elif was_open and not breaker.tripped:
                log.warning("provider %s: answers again; circuit closed", name)
        except Exception as exc:  # one provider's fault (a bad setting, a bug) is its own
            log.exception("provider %s: pass failed", name)
            report.errors.append(f"provider {name}: {exc!r}")

    async def _record_pass(self, run: _Pass, breaker_moved: bool) -> None:
        """The breaker's new state and the pass's request counts, in one transaction
        (one statement for all the counts, however many calls the pass made)."""
        calls = run.client.calls.take()
        if not breaker_moved and not calls:
            return
        try:
            async with self.panel.db.transaction() as tx:
                if breaker_moved:
                    await upstream.update_provider(tx, run.provider["id"], **run.breaker.snapshot())
                await calls_store.add_calls(tx, run.provider["id"], calls)
        except BaseException:
            run.client.calls.give_back(calls)  # counted with the next pass instead
            raise

    async def _steps(self, run: _Pass, report: WorkerReport, *steps: Callable[[_Pass, WorkerReport], Any]) -> None:
        async def one(step: Callable[[_Pass, WorkerReport], Any]) -> None:
            try:
                await step(run, report)
            except Exception as exc:  # one broken step must not stop the others
                log.exception("provider %s: worker step %s failed", run.provider["name"], step.__name__)
                report.errors.append(f"{run.provider['name']} {step.__name__}: {exc!r}")

        await asyncio.gather(*(one(step) for step in steps))

    # ----------------------------------------------------------- placement

    async def place_due(self, run: _Pass, report: WorkerReport) -> None:
        provider_id = run.provider["id"]
        for _ in range(MAX_BATCHES_PER_PASS):
            provider = await upstream.provider_by_id(self.panel.db, provider_id)
            # An upstream out of funds gets one probe order at a time. Never claim more than
            # can be sent at once: a claimed order waiting for a free lane would age towards
            # its lease end without having been sent.
            limit = 1 if provider["out_of_funds"] else max(1, provider["concurrency"])
            if not run.may_call():
                return
            async with self.panel.db.transaction() as tx:
                claimed = await upstream.claim_for_placement(tx, provider_id, self.panel.clock(),
                                                             self._lease_until(provider), limit)
            if not claimed:
                return
            outcomes = await asyncio.gather(*(self._send(run, row) for row in claimed))
            for row, outcome in zip(claimed, outcomes):
                await self._record_placement(provider, row["id"], outcome, report)

    async def _send(self, run: _Pass, row: Any) -> str | UpstreamError | _Unsent:
        params = upstream_params(ServiceType(row["type"]), row["link"], row["quantity"], row["runs"],
                                 row["interval_min"], orjson.loads(row["params"]))
        params["service"] = row["provider_service"]
        try:
            return await run.call(lambda: run.client.add(params))
        except UpstreamError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected fault: the outcome is unknown
            log.exception("unexpected error placing order %s", row["id"])
            return UpstreamError(ErrorKind.UNKNOWN_OUTCOME, f"unexpected error: {exc!r}")

    async def _record_placement(self, provider: Any, order_id: int, outcome: str | UpstreamError | _Unsent,
                                report: WorkerReport) -> None:
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            row = await orders_store.order_by_id(tx, order_id, for_update=True)
            if outcome is UNSENT:
                decision = reselling.decide_unsent(Claimed.of(row))
            else:
                taken = isinstance(outcome, str) and await upstream.provider_order_taken(tx, provider["id"], outcome)
                decision = reselling.decide_placement(Claimed.of(row), outcome, id_taken=taken, now_s=now,
                                                      first_poll_s=self.poll_interval(0),
                                                      funds_retry_s=self.funds_retry_s)
            await self._record_order(tx, row, decision, now, report)
            if decision.funds is ProviderFunds.OUT:
                await upstream.update_provider(tx, provider["id"], out_of_funds=True)
                await upstream.defer_for_funds(tx, provider["id"], now + self.funds_retry_s)
            elif decision.funds is ProviderFunds.BACK and provider["out_of_funds"]:
                await upstream.update_provider(tx, provider["id"], out_of_funds=False)
                await upstream.wake_waiting_funds(tx, provider["id"], now)

    async def _record_order(self, tx: Any, row: Any, decision: Decision, now: int, report: WorkerReport) -> None:
        """Write one decision about one order (locked by the caller)."""
        if decision.log:
            log.warning(decision.log)
        report.count(decision.tally)
        if decision.status is not None:
            changed = await apply_status(tx, row, decision.status, now, actor=ACTOR_WORKER, remains=decision.remains,
                                         start_count=decision.start_count, note=decision.note, **decision.columns)
            if changed:
                return
        if decision.columns:
            await orders_store.update_order(tx, row["id"], now, **decision.columns)

    # ------------------------------------------------------------- cancels

    async def forward_cancels(self, run: _Pass, report: WorkerReport) -> None:
        if not run.may_call():
            return
        async with self.panel.db.transaction() as tx:
            claimed = await upstream.claim_cancels(tx, run.provider["id"], CANCEL_BATCH)
        if not claimed:
            return
        ids = [row["provider_order"] for row in claimed]
        try:
            results: Any = await run.call(lambda: run.client.cancel(ids))
        except UpstreamError as exc:
            results = dict.fromkeys(ids, exc)
        if results is UNSENT:
            results = dict.fromkeys(ids, UpstreamError(ErrorKind.UNREACHABLE, "not sent: the worker is stopping"))
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            for row in claimed:
                result = results.get(row["provider_order"], reselling.NO_ANSWER)
                decision = reselling.decide_cancel(result, now_s=now)
                report.count(decision.tally)
                await orders_store.update_order(tx, row["id"], now, **decision.columns)

    # ------------------------------------------------------------- polling

    async def poll_orders(self, run: _Pass, report: WorkerReport) -> None:
        provider = run.provider
        first = reselling.multi_status_first(provider["multi_status_action"], provider["multi_status_retry_at_s"],
                                             self.panel.clock())
        # One request per order: claim no more than are asked at once, so a batch is one call deadline.
        batch = SINGLE_CALL_CONCURRENCY if first == SINGLE_STATUS else max(1, provider["max_ids"])
        lanes = max(1, provider["concurrency"])
        for _ in range(0, MAX_BATCHES_PER_PASS, lanes):
            if not run.may_call():
                return
            batches = []
            async with self.panel.db.transaction() as tx:
                for _ in range(lanes):
                    claimed = await upstream.claim_for_polling(tx, provider["id"], self.panel.clock(),
                                                               self._lease_until(provider), batch)
                    if not claimed:
                        break
                    batches.append(claimed)
            if not batches:
                return
            run.client.multi_status_action = first
            await asyncio.gather(*(self._poll_batch(run, claimed, report) for claimed in batches))
            learned = run.client.multi_status_action
            values = reselling.decide_multi_status(provider["multi_status_action"],
                                                   provider["multi_status_retry_at_s"], first, learned,
                                                   self.panel.clock())
            if values:
                log.warning("provider %s: multi-status asked as %r, answered as %r; stored %s", provider["name"],
                            first, learned, values)
                async with self.panel.db.transaction() as tx:
                    await upstream.update_provider(tx, provider["id"], **values)
                provider = run.provider = await upstream.provider_by_id(self.panel.db, provider["id"])
            first = learned

    async def _poll_batch(self, run: _Pass, claimed: Sequence[Any], report: WorkerReport) -> None:
        ids = [row["provider_order"] for row in claimed]
        report.poll_requests += 1
        report.polled += len(claimed)
        results = await run.read(lambda: run.client.statuses(ids))
        now = self.panel.clock()
        order_ids = [r["id"] for r in claimed]
        try:  # the whole batch in one transaction: the common case, and the cheap one
            batch = WorkerReport()
            async with self.panel.db.transaction() as tx:
                for row in await upstream.orders_by_ids(tx, order_ids, for_update=True):
                    await self._record_order(tx, row, self._poll_decision(row, results, now), now, batch)
            report.add(batch)
            return
        except Exception:
            log.exception("provider %s: recording a status batch failed; recording its orders one by one",
                          run.provider["name"])
        # Each order on its own: a reply that breaks one order's write never blocks another.
        async with self.panel.db.transaction() as tx:
            for row in await upstream.orders_by_ids(tx, order_ids, for_update=True):
                try:
                    async with tx.savepoint():
                        await self._record_order(tx, row, self._poll_decision(row, results, now), now, report)
                except Exception as exc:
                    log.exception("order %s: recording its upstream status failed", row["id"])
                    report.errors.append(f"order {row['id']}: {exc!r}")
                    try:
                        async with tx.savepoint():
                            await self._record_order(tx, row, reselling.decide_unrecordable(Claimed.of(row), exc),
                                                     now, report)
                    except Exception:  # still polled again once its claim runs out
                        log.exception("order %s: could not be set aside for the operator", row["id"])

    def _poll_decision(self, row: Any, results: dict[str, Any], now: int) -> Decision:
        return reselling.decide_poll(Claimed.of(row), results.get(row["provider_order"]), now_s=now,
                                     next_poll_s=self.poll_interval(now - row["created_at_s"]))

    # ------------------------------------------------------------- refills

    async def place_refills(self, run: _Pass, report: WorkerReport) -> None:
        provider = run.provider
        for _ in range(MAX_BATCHES_PER_PASS):
            if not run.may_call():
                return
            # As for orders: claim only what is sent at once, so no claim ages unsent.
            async with self.panel.db.transaction() as tx:
                claimed = await upstream.claim_refills(tx, UpstreamState.QUEUED, UpstreamState.IN_FLIGHT,
                                                       provider["id"], self.panel.clock(),
                                                       self._lease_until(provider), max(1, provider["concurrency"]))
            if not claimed:
                return
            outcomes = await asyncio.gather(*(self._send_refill(run, row) for row in claimed))
            now = self.panel.clock()
            async with self.panel.db.transaction() as tx:
                for row, outcome in zip(claimed, outcomes):
                    if outcome is UNSENT:
                        outcome = UpstreamError(ErrorKind.UNREACHABLE, "not sent: the worker is stopping")
                    decision = reselling.decide_refill_placement(outcome, now_s=now,
                                                                 first_poll_s=self.poll_interval(0))
                    report.count(decision.tally)
                    await refills_store.update_refill(tx, row["id"], now, **decision.columns)

    async def _send_refill(self, run: _Pass, row: Any) -> Any:
        try:
            return await run.call(lambda: run.client.refill(row["provider_order"]))
        except UpstreamError as exc:
            return exc

    async def poll_refills(self, run: _Pass, report: WorkerReport) -> None:
        provider = run.provider
        if not run.may_call():
            return
        async with self.panel.db.transaction() as tx:
            claimed = await upstream.claim_refills(tx, UpstreamState.PLACED, None, provider["id"], self.panel.clock(),
                                                   self._lease_until(provider), max(1, provider["max_ids"]))
        if not claimed:
            return
        results = await run.read(lambda: run.client.refill_statuses([row["provider_refill"] for row in claimed]))
        now = self.panel.clock()
        async with self.panel.db.transaction() as tx:
            for row in claimed:
                report.refills_polled += 1
                decision = reselling.decide_refill_poll(row["provider_refill"], results.get(row["provider_refill"]),
                                                        now_s=now, next_poll_s=self.poll_interval(0))
                await refills_store.update_refill(tx, row["id"], now, **decision.columns)

