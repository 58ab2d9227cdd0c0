"""The worker against a faulty upstream, over a REAL socket (``SimulatorServer``).

Spec section 6: an upstream has no idempotency key, so an ``add`` whose outcome
is unknown (timeout, dropped connection, 5xx, unreadable body, a worker crash
between sending and recording) must never be sent again by the worker: it waits
in ``needs_attention`` for the operator (``orders resolve``). Only a request that
provably never left (connection refused) is retried, with backoff. An upstream
out of funds makes orders wait without refunding the customer; a definite
refusal (bad service, link, quantity) cancels and refunds with the upstream's
words kept.

Every scenario counts what the upstream received (``add`` requests and orders
created, per our order: each order has its own link) and checks the ledger.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, AsyncIterator, Callable

import pytest

from smmpanel.domain.errors import InvalidField, PanelError
from smmpanel.services import accounts, audit, catalog, orders, providers, refills
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.simulator import Simulator, SimulatorServer, create_simulator
from smmpanel.simulator import panel as sim_panel
from smmpanel.store import catalog as catalog_store, refills as refills_store, upstream
from smmpanel.worker import Worker, WorkerReport
from conftest import free_port
from money_oracle import partial_refund

pytestmark = pytest.mark.anyio

MICROS = 10**6
OPENING_MICROS = 1_000 * MICROS
TIMEOUT_S = 1  # the provider's client timeout
HANG_S = 1.5  # a hanging upstream says nothing for longer than that
LATER = (5, 61, 600, 3600)  # clock advances past backoff, lease and funds-retry times, then long after
YOUNG_POLL_S = 31


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "reselling-faults-test-secret")


def link(n: int) -> str:
    return f"https://www.instagram.com/p/fault{n}"


class Shop:
    """Our panel reselling one simulated upstream served on a real socket."""

    def __init__(self, panel: Panel, clock: Any, sim: Simulator, server: SimulatorServer, key: str,
                 provider: Any, services: dict[str, int]) -> None:
        self.panel, self.clock, self.sim, self.server = panel, clock, sim, server
        self.key, self.provider, self.services = key, provider, services
        self.worker = Worker(panel)  # the production client factory: real HTTP
        self.charged: dict[int, int] = {}
        self.links: dict[int, str] = {}

    async def order(self, n: int, provider_service: str = "1", quantity: int = 1000) -> int:
        oid = await orders.place_order(self.panel, Customer.from_api_key(self.key), {"service": self.services[provider_service],
                                                               "link": link(n), "quantity": quantity})
        self.charged[oid] = (await self.row(oid))["charge_micros"]
        self.links[oid] = link(n)
        return oid

    async def row(self, oid: int) -> Any:
        return await orders.order(self.panel, oid)

    async def run(self, advance: int = 0, worker: Worker | None = None) -> WorkerReport:
        self.clock.advance(advance)
        report = await (worker or self.worker).run_once()
        assert report.errors == []
        return report

    async def run_later(self) -> list[WorkerReport]:
        return [await self.run(step) for step in LATER]

    async def balance(self) -> int:
        return await accounts.balance(self.panel, Customer.from_api_key(self.key))

    def created_for(self, oid: int) -> list[int]:
        """Upstream orders created for one of ours (by its link)."""
        return [c.order_id for c in self.sim.created_orders if str(c.params["link"]) == self.links[oid]]

    async def complete_all(self) -> None:
        """The upstream completes whatever it has; the worker syncs it."""
        for view in self.sim.orders():
            if view.status == "Pending":
                self.sim.set_order(view.id, status="Completed", remains=0)
        await self.run(3600)  # due by then, however old the orders are

    async def check_money(self, refunded: dict[int, int]) -> None:
        """Every refund as expected (exactly once), nothing else, audit clean."""
        for oid in self.charged:
            assert (await self.row(oid))["refund_micros"] == refunded.get(oid, 0), oid
        assert await self.balance() == OPENING_MICROS - sum(self.charged.values()) + sum(refunded.values())
        assert await audit.run(self.panel) == []


@asynccontextmanager
async def socket_shop(panel: Panel, clock: Any, profile: str = "68smm", *, balance: Any = None,
                      timeout_s: int = TIMEOUT_S, concurrency: int = 4, port: int = 0) -> AsyncIterator[Shop]:
    sim = create_simulator(profile, hang_s=HANG_S, balance=balance)
    server = SimulatorServer(sim, port=port)
    server.start()
    shop = None
    try:
        provider = await providers.add_provider(panel, "up", server.url, sim.key, timeout_s=timeout_s,
                                                concurrency=concurrency)
        imported, _ = await providers.import_services(panel, "up", markup_percent=Decimal(20))
        _, key = await accounts.add_user(panel, "buyer", Decimal(OPENING_MICROS) / MICROS, actor="ops")
        shop = Shop(panel, clock, sim, server, key, provider, {i.provider_service: i.service for i in imported})
        yield shop
    finally:
        if shop is not None:
            await shop.worker.aclose()
        server.stop()


async def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# ----------------------------------------------------------------- unknown outcomes of add

# fault -> (the upstream created the order, how the operator settles it)
UNKNOWN_OUTCOMES = {
    "timeout_before_create": (False, "requeue"),
    "timeout_after_create": (True, "provider_order"),
    "drop_before_create": (False, "cancel"),
    "drop_after_create": (True, "provider_order"),
    "http_500": (False, "requeue"),
    "http_500_after_create": (True, "cancel"),
    "garbled": (True, "provider_order"),
}


@pytest.mark.parametrize("fault", list(UNKNOWN_OUTCOMES))
async def test_unknown_outcome_of_add_is_never_resent(fault, sqlite_url, panel_factory, clock):
    created, resolution = UNKNOWN_OUTCOMES[fault]
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        ours = [await shop.order(n) for n in range(1, 4)]
        sim.inject("add", fault)  # whichever of the three arrives first meets it
        report = await shop.run()
        assert (report.placed, report.needs_attention) == (2, 1)
        assert sim.add_requests == 3
        assert len(sim.created_orders) == (3 if created else 2)
        [stuck] = [oid for oid in ours if (await shop.row(oid))["upstream_state"] == "needs_attention"]
        row = await shop.row(stuck)
        assert row["status"] == "Pending" and row["provider_order"] is None
        assert row["upstream_error"].startswith("unknown_outcome")
        assert len(shop.created_for(stuck)) == (1 if created else 0)

        # However long we wait (past backoff, lease and retry times), it is not sent again.
        for report in await shop.run_later():
            assert report.placed == 0 and report.needs_attention == 0
        assert sim.add_requests == 3
        assert (await shop.row(stuck))["upstream_state"] == "needs_attention"
        assert (await providers.list_providers(panel, live=False))[0].orders["needs_attention"] == 1
        # The customer cannot cancel it either: nobody knows if it exists upstream.
        assert isinstance((await orders.cancel(panel, Customer.from_api_key(shop.key), [stuck]))[stuck], PanelError)

        # The operator settles it.
        refunded: dict[int, int] = {}
        if resolution == "provider_order":
            [upstream_id] = shop.created_for(stuck)
            row = await orders.resolve(panel, stuck, provider_order=f" {upstream_id} ", actor="ops")
            assert (row["upstream_state"], row["provider_order"]) == ("placed", str(upstream_id))
            sim.set_order(upstream_id, status="Partial", remains=250)
            await shop.run()  # due at once: polled in this pass
            refunded[stuck] = partial_refund(shop.charged[stuck], 250, 1000)
            assert (await shop.row(stuck))["status"] == "Partial"
            assert sim.add_requests == 3
            assert [(e.status, e.actor) for e in await orders.history(panel, stuck)] == [
                ("Pending", "ops"), ("Partial", "worker")]
        elif resolution == "requeue":
            await orders.resolve(panel, stuck, requeue=True, actor="ops")
            report = await shop.run()
            assert report.placed == 1
            assert sim.add_requests == 4  # sent exactly once more
            assert len(shop.created_for(stuck)) == 1
            assert (await shop.row(stuck))["provider_order"] == str(shop.created_for(stuck)[0])
            assert [(e.status, e.actor, e.note) for e in await orders.history(panel, stuck)] == [
                ("Pending", "ops", "requeued by operator")]
        else:
            row = await orders.resolve(panel, stuck, cancel=True, actor="ops")
            assert (row["status"], row["upstream_state"]) == ("Canceled", "canceled")
            assert [(e.status, e.actor) for e in await orders.history(panel, stuck)] == [("Canceled", "ops")]
            refunded[stuck] = shop.charged[stuck]
            with pytest.raises(InvalidField):
                await orders.resolve(panel, stuck, cancel=True, actor="ops")  # refunded once, not twice
            await shop.run_later()
            assert sim.add_requests == 3
        with pytest.raises(InvalidField):  # only a needs_attention order can be resolved
            await orders.resolve(panel, stuck, requeue=True, actor="ops")

        await shop.complete_all()
        for oid in ours:
            assert len(shop.created_for(oid)) <= 1
            assert (await shop.row(oid))["status"] in ("Completed", "Partial", "Canceled")
        await shop.check_money(refunded)


async def test_resolve_with_an_upstream_id_of_another_order_is_refused(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        first = await shop.order(1)
        await shop.run()
        second = await shop.order(2)
        shop.sim.inject("add", "http_500")
        await shop.run()
        assert (await shop.row(second))["upstream_state"] == "needs_attention"
        taken = (await shop.row(first))["provider_order"]
        # Taken already (however it is spelled), or not an id at all: refused, nothing changes.
        for word in (taken, f"00{taken}", "", "  ", f"{taken},{int(taken) + 1}", "abc", "-5"):
            with pytest.raises(InvalidField):
                await orders.resolve(panel, second, provider_order=word, actor="ops")
        row = await shop.row(second)
        assert (row["upstream_state"], row["provider_order"]) == ("needs_attention", None)
        # Polling of the other orders is unharmed.
        shop.sim.set_order(taken, status="Completed", remains=0)
        await shop.run(YOUNG_POLL_S)
        assert (await shop.row(first))["status"] == "Completed"
        assert await audit.run(panel) == []


async def test_slow_reply_within_the_timeout_is_a_normal_placement(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, "baostar") as shop:
        oid = await shop.order(1)
        shop.sim.inject("add", "slow", delay_s=0.5)
        report = await shop.run()
        assert report.placed == 1
        assert (await shop.row(oid))["provider_order"] == str(shop.created_for(oid)[0])
        await shop.run_later()
        assert shop.sim.add_requests == 1
        await shop.complete_all()
        assert (await shop.row(oid))["status"] == "Completed"
        await shop.check_money({})


# ----------------------------------------------------------------- connection refused: provably never sent


async def test_connection_refused_is_retried_with_backoff_and_placed_once(sqlite_url, panel_factory, clock):
    port = free_port()
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, port=port) as shop:
        sim = shop.sim
        # The worker has talked to the upstream before (a kept-alive connection may linger).
        warm = await shop.order(1)
        await shop.run()
        await shop.complete_all()
        assert (await shop.row(warm))["status"] == "Completed"

        shop.server.stop()  # the upstream goes down
        oid = await shop.order(2)
        report = await shop.run()
        assert (report.requeued, report.needs_attention) == (1, 0)
        row = await shop.row(oid)
        assert row["upstream_state"] == "queued" and "never sent" in row["upstream_error"]
        first_gap = row["due_at_s"] - clock()
        assert first_gap > 0
        # Not retried before its time.
        assert (await shop.run()).requeued == 0
        assert (await shop.row(oid))["attempts"] == 1
        clock.advance(first_gap)
        assert (await shop.run()).requeued == 1
        row = await shop.row(oid)
        assert row["attempts"] == 2
        second_gap = row["due_at_s"] - clock()
        assert second_gap > first_gap  # backing off

        # The upstream comes back on the same address.
        shop.server = SimulatorServer(sim, port=port)
        shop.server.start()
        clock.advance(second_gap)
        report = await shop.run()
        assert report.placed == 1
        assert sim.add_requests == 2  # the warm-up order and this one: refused attempts never arrived
        assert len(shop.created_for(oid)) == 1
        await shop.run_later()
        assert sim.add_requests == 2
        await shop.complete_all()
        await shop.check_money({})


# ----------------------------------------------------------------- out of funds upstream


async def test_out_of_funds_waits_unrefunded_and_goes_once_funded(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, socket_shop(panel, clock, balance="0") as shop:
        sim = shop.sim
        ours = [await shop.order(n) for n in range(1, 4)]
        dropped = await shop.order(4)
        paid = await shop.balance()
        report = await shop.run()
        assert report.waiting_funds == 4
        assert sim.add_requests == 4 and sim.created_orders == []
        for oid in ours:
            row = await shop.row(oid)
            assert (row["upstream_state"], row["status"], row["refund_micros"]) == ("waiting_funds", "Pending", 0)
            assert "funds" in row["upstream_error"].lower()
        assert await shop.balance() == paid  # nobody refunded
        [view] = await providers.list_providers(panel)
        assert view.orders == {"waiting_funds": 4}
        assert view.row["out_of_funds"]
        assert Decimal(view.balance) == 0

        # A waiting order has not left: the customer may still cancel it, refunded at once.
        assert await orders.cancel(panel, Customer.from_api_key(shop.key), [dropped]) == {dropped: None}

        # Nothing is sent before the retry time; then one probe, not the whole queue.
        assert (await shop.run()).waiting_funds == 0
        assert sim.add_requests == 4
        report = await shop.run(61)
        assert report.waiting_funds == 1
        assert sim.add_requests == 5 and sim.created_orders == []
        # The probe failed: the others wait for the next probe time too (no burst of adds).
        for _ in range(3):
            assert (await shop.run()).waiting_funds == 0
        assert sim.add_requests == 5

        sim.set_balance("100")
        await shop.run()  # not due yet
        assert sim.add_requests == 5
        report = await shop.run(61)
        assert report.placed == 3
        assert sim.add_requests == 8
        for oid in ours:
            assert len(shop.created_for(oid)) == 1
            assert (await shop.row(oid))["upstream_state"] == "placed"
        [view] = await providers.list_providers(panel, live=False)
        assert view.orders == {"placed": 3, "canceled": 1}
        assert not view.row["out_of_funds"]
        await shop.run_later()
        assert sim.add_requests == 8
        await shop.complete_all()
        await shop.check_money({dropped: shop.charged[dropped]})


# ----------------------------------------------------------------- definite refusals


async def test_bad_service_link_or_quantity_cancel_and_refund_with_the_reason(
        sqlite_url, panel_factory, clock, monkeypatch):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        # The upstream changed since our import: service 3 is gone, service 1's minimum went up to 50
        # (ours still says 10), and it refuses a link ours accepts.
        async with panel.db.transaction() as tx:
            await catalog_store.update_service(tx, shop.services["3"], {"provider_service": "777"})
        await catalog.set_service(panel, shop.services["1"], {"min": 10})
        monkeypatch.setattr(sim_panel, "_link_ok", lambda text: "blocked" not in text)

        gone = await shop.order(1, "3", quantity=100)
        small = await shop.order(2, "1", quantity=20)
        bad_link = await orders.place_order(panel, Customer.from_api_key(shop.key), {"service": shop.services["1"],
                                                               "link": "https://www.instagram.com/blocked/1",
                                                               "quantity": 100})
        shop.charged[bad_link] = (await shop.row(bad_link))["charge_micros"]
        fine = await shop.order(4, "1", quantity=100)

        report = await shop.run()
        assert (report.rejected, report.placed) == (3, 1)
        words = {gone: "Incorrect service ID", small: "Quantity less than minimal 50", bad_link: "Bad link"}
        for oid, text in words.items():
            row = await shop.row(oid)
            assert (row["status"], row["upstream_state"], row["upstream_error"]) == ("Canceled", "rejected", text)
            assert row["refund_micros"] == shop.charged[oid]
        assert sim.add_requests == 4 and len(sim.created_orders) == 1
        await shop.run_later()
        assert sim.add_requests == 4
        await shop.complete_all()
        assert (await shop.row(fine))["status"] == "Completed"
        await shop.check_money({oid: shop.charged[oid] for oid in words})


# ----------------------------------------------------------------- a worker that dies mid-call


async def test_worker_killed_mid_add_ends_in_needs_attention_not_a_second_add(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        oid = await shop.order(1)
        sim.inject("add", "timeout_after_create")  # created upstream, then the reply never comes
        doomed = Worker(panel)
        task = asyncio.create_task(doomed.run_once())
        await wait_until(lambda: len(sim.created_orders) == 1, "the upstream to create the order")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await doomed.aclose()
        row = await shop.row(oid)
        assert row["upstream_state"] == "in_flight"

        # Another worker (a restart): the claim is still leased, so the order is left alone...
        report = await shop.run()
        assert (report.placed, report.needs_attention) == (0, 0)
        assert (await shop.row(oid))["upstream_state"] == "in_flight"
        # ...until the lease runs out: then it is the operator's, never sent again.
        report = await shop.run(TIMEOUT_S * 2 + 61)
        assert report.needs_attention == 1
        row = await shop.row(oid)
        assert row["upstream_state"] == "needs_attention" and "worker stopped" in row["upstream_error"]
        await shop.run_later()
        assert sim.add_requests == 1 and len(sim.created_orders) == 1

        [upstream_id] = shop.created_for(oid)
        await orders.resolve(panel, oid, provider_order=str(upstream_id), actor="ops")
        await shop.complete_all()
        assert (await shop.row(oid))["status"] == "Completed"
        await shop.check_money({})


async def test_claim_committed_then_crash_before_sending(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        oid = await shop.order(1)
        kept = await shop.order(2)
        async with panel.db.transaction() as tx:  # a worker claims, commits, and dies
            [claimed] = await upstream.claim_for_placement(tx, shop.provider["id"], clock(), clock() + 61, 1)
        assert claimed["id"] == oid
        report = await shop.run()
        assert report.placed == 1  # the other order is not held up
        report = await shop.run(62)
        assert report.needs_attention == 1
        await shop.run_later()
        assert shop.sim.add_requests == 1 and shop.created_for(oid) == []
        # The operator checked the upstream: it is not there, so it goes once.
        await orders.resolve(panel, oid, requeue=True, actor="ops")
        assert (await shop.run()).placed == 1
        await shop.run_later()
        assert shop.sim.add_requests == 2
        assert len(shop.created_for(oid)) == 1 and len(shop.created_for(kept)) == 1
        await shop.complete_all()
        await shop.check_money({})


async def test_stop_between_claim_and_send_puts_the_order_back_in_the_queue(
        db_url, panel_factory, clock, monkeypatch):
    """SIGTERM lands after the worker claimed an order and before it sent it:
    the order goes back to the queue as if never claimed (its claim's attempt
    given back), with no error and no operator alarm, and the next worker
    sends it once. (Once broken: ``attempts`` was not a writable order column,
    so recording the give-back raised and the order sat ``in_flight`` until its
    lease ran out into ``needs_attention``.)"""
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        oid = await shop.order(1)
        assert (await shop.row(oid))["attempts"] == 0
        stopping = Worker(panel)
        claimed: list[Any] = []
        real_claim = upstream.claim_for_placement

        async def claim_then_stop(*args: Any, **kwargs: Any) -> list[Any]:
            rows = await real_claim(*args, **kwargs)
            claimed.extend(rows)
            stopping.stop.set()  # the signal arrives now, the order claimed and not yet sent
            return rows

        try:
            with monkeypatch.context() as patch:
                patch.setattr(upstream, "claim_for_placement", claim_then_stop)
                report = await stopping.run_once()
        finally:
            await stopping.aclose()
        assert [(row["id"], row["upstream_state"], row["attempts"]) for row in claimed] == [(oid, "in_flight", 1)]
        assert report.errors == []
        assert (report.placed, report.requeued, report.needs_attention) == (0, 0, 0)
        assert sim.add_requests == 0
        row = await shop.row(oid)
        assert (row["upstream_state"], row["attempts"], row["refused_sends"]) == ("queued", 0, 0)
        assert row["due_at_s"] <= clock()  # still due: it waits for nothing

        # The next worker (the restart) sends it right away, once; nothing is left for the operator.
        report = await shop.run()
        assert (report.placed, report.needs_attention) == (1, 0)
        row = await shop.row(oid)
        assert (row["upstream_state"], row["attempts"]) == ("placed", 1)
        await shop.run_later()
        assert sim.add_requests == 1 and len(shop.created_for(oid)) == 1
        await shop.complete_all()
        assert (await shop.row(oid))["status"] == "Completed"
        await shop.check_money({})


async def test_a_second_worker_never_takes_over_an_order_still_queued_behind_a_call(
        db_url, panel_factory, clock):
    """Two workers share a provider. Worker A's claim must cover only what it is
    sending right now: an order it claimed but has not sent yet must not be
    declared lost by worker B (``needs_attention``) and then sent by A anyway."""
    async with panel_factory(db_url) as panel, \
            socket_shop(panel, clock, timeout_s=30, concurrency=1) as shop:
        sim = shop.sim
        ours = [await shop.order(n) for n in range(1, 4)]
        sim.inject("add", "slow", count=3, delay_s=0.4)
        worker_a, worker_b = Worker(panel), Worker(panel)
        try:
            task = asyncio.create_task(worker_a.run_once())
            # A slow upstream: A's first call takes 50 s, its second is 41 s in (both within
            # the client's 30 s read timeout, twice that for a whole call) when B wakes up.
            await wait_until(lambda: sim.add_requests == 1, "A's first add")
            clock.advance(50)
            await wait_until(lambda: sim.add_requests == 2, "A's second add")
            clock.advance(41)
            report_b = await worker_b.run_once()
            assert report_b.errors == []
            report_a = await task
            assert report_a.errors == []
            assert report_a.needs_attention + report_b.needs_attention == 0
            for oid in ours:
                assert (await shop.row(oid))["upstream_state"] == "placed"
                assert len(shop.created_for(oid)) == 1
            assert sim.add_requests == 3
        finally:
            await worker_a.aclose()
            await worker_b.aclose()
        await shop.complete_all()
        await shop.check_money({})


# ----------------------------------------------------------------- faults on the other calls


@pytest.mark.parametrize("fault", ["http_500", "garbled", "drop_after_create", "timeout_after_create"])
async def test_failed_status_poll_changes_nothing_and_is_retried(fault, sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, "shopvn") as shop:
        sim = shop.sim
        oid = await shop.order(1, quantity=1000)
        await shop.run()
        upstream_id = (await shop.row(oid))["provider_order"]
        sim.set_order(upstream_id, status="Partial", remains=333)
        sim.inject("status", fault)
        report = await shop.run(YOUNG_POLL_S)
        assert report.poll_requests == 1
        row = await shop.row(oid)
        assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("Pending", 0, "placed")
        await shop.run(YOUNG_POLL_S)
        row = await shop.row(oid)
        assert (row["status"], row["remains"]) == ("Partial", 333)
        assert sim.add_requests == 1
        await shop.check_money({oid: partial_refund(shop.charged[oid], 333, 1000)})


async def test_cancel_with_unknown_outcome_is_not_resent_and_the_poll_settles_it(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        oid = await shop.order(1)
        await shop.run()
        assert await orders.cancel(panel, Customer.from_api_key(shop.key), [oid]) == {oid: None}
        sim.inject("cancel", "http_500_after_create")  # canceled upstream, but we get a 500
        await shop.run()
        assert sim.request_count("cancel") == 1
        # The answer was lost, but the poll that follows (same pass) finds it Canceled upstream.
        row = await shop.row(oid)
        assert (row["status"], row["refund_micros"]) == ("Canceled", shop.charged[oid])
        assert not row["cancel_requested"]
        assert row["upstream_error"].startswith("cancel sent, answer lost")
        await shop.run_later()
        assert sim.request_count("cancel") == 1
        await shop.check_money({oid: shop.charged[oid]})


async def test_refill_with_unknown_outcome_is_not_resent(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        sim = shop.sim
        oid = await shop.order(1)
        await shop.run()
        await shop.complete_all()
        [refill_id] = (await refills.request(panel, Customer.from_api_key(shop.key), [oid])).values()
        sim.inject("refill", "drop_after_create")
        await shop.run()
        row = await refills_store.refill_by_id(panel.db, refill_id)
        assert (row["status"], row["upstream_state"]) == ("Pending", "needs_attention")
        await shop.run_later()
        assert sim.request_count("refill") == 1 and len(sim.refills()) == 1
        await shop.check_money({})
