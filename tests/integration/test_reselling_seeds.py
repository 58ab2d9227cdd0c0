"""Reselling each of the five seed panels (in-process, ``sim.mock_transport()``).

For Like3s, shopvn.pro, baostar, subpro.vn and 68smm, as the simulator mimics
them: registration detects the encoding, an import prices services by
``upstream rate x fx x (1 + markup/100)``, orders of each type the panel
documents reach it with the right parameters, the worker settles them
(Completed, Partial with the exact refund, Canceled with a full one), refills
and cancels go upstream where the panel has them, unknown statuses are never
turned into refunds, terminal orders are not polled again, and the ledger
audits clean.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest

from smmpanel.client import ProviderClient
from smmpanel.domain.errors import CancelNotAllowed, RefillNotAllowed
from smmpanel.services import accounts, audit, catalog, orders, providers, refills
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.services.providers import Imported, client_for
from smmpanel.simulator import PROFILES, SimService, Simulator, create_simulator
from smmpanel.store import catalog as catalog_store, refills as refills_store
from smmpanel.worker import Worker, WorkerReport
from money_oracle import charge_for, partial_refund, resale_micros

pytestmark = pytest.mark.anyio

MICROS = 10**6
SEED_PROFILES = ("like3s", "shopvn", "baostar", "subpro", "68smm")
YOUNG_POLL_S = 31  # the worker polls a young order every 30 s


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "reselling-seeds-test-secret")


# ----------------------------------------------------------------- the reseller under test


@dataclass(frozen=True)
class Seed:
    encoding: str
    currency: str  # the upstream's, as its balance reply says
    fx: str
    markup: str
    main: str  # the upstream service the flow orders (Default; refillable where the panel has refill)
    quantities: tuple[int, int, int, int, int]  # completed, partial, canceled, unknown status, cancel request
    partial_remains: int
    refill: bool
    cancel: bool
    numbers_are_json_ints: bool  # a JSON panel gets service/quantity as JSON numbers
    panel_currency: str = "USD"


SEEDS: dict[str, Seed] = {
    # Like3s: VND upstream, our panel in USD (fx 0.00004), a markup with a half-micro to round.
    "like3s": Seed("json", "VND", "0.00004", "12.5", "102", (777, 1001, 150, 300, 500), 100, False, False, True),
    "shopvn": Seed("form", "VND", "0.00004", "20", "1", (777, 1001, 250, 300, 500), 333, True, False, False),
    "baostar": Seed("json", "VND", "0.00004", "15", "1", (777, 1001, 250, 300, 500), 333, True, False, True),
    # subpro: a Vietnamese reseller selling in VND (fx 1).
    "subpro": Seed("form", "VND", "1", "30", "1", (777, 1001, 250, 300, 500), 333, True, False, False,
                   panel_currency="VND"),
    "68smm": Seed("form", "USD", "1", "20", "1", (777, 1001, 250, 300, 500), 123, True, True, False),
}


@dataclass
class Shop:
    panel: Panel
    sim: Simulator
    worker: Worker
    clock: Any
    key: str
    provider: Any
    services: dict[str, Imported]
    charged: dict[int, int] = field(default_factory=dict)

    async def order(self, provider_service: str, **params: Any) -> int:
        service = self.services[provider_service]
        order_id = await orders.place_order(self.panel, Customer.from_api_key(self.key), {"service": service.service, **params})
        self.charged[order_id] = (await self.row(order_id))["charge_micros"]
        return order_id

    async def row(self, order_id: int) -> Any:
        return await orders.order(self.panel, order_id)

    async def run(self, advance: int = 0) -> WorkerReport:
        self.clock.advance(advance)
        report = await self.worker.run_once()
        assert report.errors == []
        return report

    async def balance(self) -> int:
        return await accounts.balance(self.panel, Customer.from_api_key(self.key))

    def created_by_link(self) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        for created in self.sim.created_orders:
            found.setdefault(str(created.params["link"]), []).append(created)
        return found


OPENING = Decimal("1000000")


async def open_shop(panel: Panel, clock: Any, sim: Simulator, *, fx: str, markup: str) -> Shop:
    transport = sim.mock_transport()
    row = await providers.add_provider(
        panel, "up", "https://upstream.example/api/v2", sim.key, encoding="auto", fx=Decimal(fx),
        make_client=functools.partial(ProviderClient, transport=transport),
    )
    factory = functools.partial(client_for, transport=transport)
    imported, skipped = await providers.import_services(
        panel, "up", markup_percent=Decimal(markup), make_client=factory
    )
    assert skipped == []
    _, key = await accounts.add_user(panel, "buyer", OPENING, actor="ops")
    worker = Worker(panel, factory)
    return Shop(panel, sim, worker, clock, key, row, {i.provider_service: i for i in imported})


def link(n: int) -> str:
    return f"https://www.facebook.com/post/{n}"


# ----------------------------------------------------------------- tests


@pytest.mark.parametrize("profile", SEED_PROFILES)
async def test_registration_detects_encoding_and_import_prices_exactly(profile, sqlite_url, panel_factory, clock):
    seed = SEEDS[profile]
    async with panel_factory(sqlite_url, currency=seed.panel_currency) as panel:
        sim = create_simulator(profile)
        shop = await open_shop(panel, clock, sim, fx=seed.fx, markup=seed.markup)
        try:
            assert shop.provider["encoding"] == seed.encoding
            assert shop.provider["currency"] == seed.currency
            assert Decimal(shop.provider["balance_text"]) == sim.balance
            upstream = {str(s.id): s for s in PROFILES[profile].services}
            assert set(shop.services) == set(upstream)
            for sid, item in shop.services.items():
                offered = upstream[sid]
                assert item.rate_micros == resale_micros(offered.rate, seed.fx, seed.markup), sid
                assert item.cost_micros == resale_micros(offered.rate, seed.fx, 0), sid
                assert (item.min, item.max) == (offered.min, offered.max)
                listed_type = offered.type if "type" in PROFILES[profile].service_fields else "Default"  # Like3s: none
                assert item.type == listed_type
                row = await catalog_store.service_by_id(panel.db, item.service)
                assert bool(row["refill"]) == offered.refill
                assert bool(row["cancel"]) == (offered.cancel and "cancel" in PROFILES[profile].service_fields)
            # Re-importing is idempotent: same services, same prices.
            again, _ = await providers.import_services(
                panel, "up", markup_percent=Decimal(seed.markup),
                make_client=functools.partial(client_for, transport=sim.mock_transport()),
            )
            assert [(i.service, i.rate_micros, i.created) for i in again] == [
                (i.service, i.rate_micros, False) for i in shop.services.values()
            ]
        finally:
            await shop.worker.aclose()


async def test_vnd_to_usd_rates_keep_every_micro(sqlite_url, panel_factory, clock):
    """A Like3s rate of 1234.5 VND per 1000 at fx 0.00004 and 12.5 % markup is
    0.0555525 USD: 55 553 micro-USD after the one half-up rounding."""
    async with panel_factory(sqlite_url) as panel:
        shop = await open_shop(panel, clock, create_simulator("like3s"), fx="0.00004", markup="12.5")
        try:
            assert shop.services["102"].rate_micros == 55_553
            assert shop.services["102"].cost_micros == 49_380
            assert shop.services["101"].rate_micros == 1_125_000
        finally:
            await shop.worker.aclose()


async def test_fine_grained_upstream_rate_is_rounded_once(sqlite_url, panel_factory, clock):
    """A USD upstream rate with more than six decimals, resold in VND (fx 25 000):
    the money rule rounds once, at the end, not the upstream rate first."""
    profile = replace(
        PROFILES["standard"],
        services=(SimService(1, "Views", "Default", "TikTok", Decimal("0.0123456789"), 100, 1_000_000),),
    )
    async with panel_factory(sqlite_url, currency="VND") as panel:
        shop = await open_shop(panel, clock, Simulator(profile), fx="25000", markup="0")
        try:
            # 0.0123456789 x 25000 = 308.6419725 VND -> 308 641 972.5 micro -> 308 641 973
            assert shop.services["1"].rate_micros == 308_641_973
            assert shop.services["1"].cost_micros == 308_641_973
        finally:
            await shop.worker.aclose()


@pytest.mark.parametrize("profile", SEED_PROFILES)
async def test_seed_panel_order_lifecycle(profile, db_url, panel_factory, clock):
    seed = SEEDS[profile]
    async with panel_factory(db_url, currency=seed.panel_currency) as panel:
        sim = create_simulator(profile)
        shop = await open_shop(panel, clock, sim, fx=seed.fx, markup=seed.markup)
        try:
            await _lifecycle(shop, profile, seed)
        finally:
            await shop.worker.aclose()


async def _lifecycle(shop: Shop, profile: str, seed: Seed) -> None:
    sim, main = shop.sim, seed.main
    q_done, q_part, q_canc, q_unk, q_cx = seed.quantities
    done = await shop.order(main, link=link(1), quantity=q_done)
    part = await shop.order(main, link=link(2), quantity=q_part)
    canc = await shop.order(main, link=link(3), quantity=q_canc)
    unk = await shop.order(main, link=link(4), quantity=q_unk)
    cx = await shop.order(main, link=link(5), quantity=q_cx)
    ours = {done: q_done, part: q_part, canc: q_canc, unk: q_unk, cx: q_cx}
    rate = shop.services[main].rate_micros
    for oid, qty in ours.items():
        assert shop.charged[oid] == charge_for(rate, qty)
    extra: dict[int, tuple[str, int]] = {}  # order -> (what upstream does, units)
    if profile == "68smm":
        extra.update(await _place_68smm_types(shop))
    total_orders = len(ours) + len(extra)

    # A queued order is not upstream yet: nothing was sent before the worker ran.
    assert sim.add_requests == 0
    assert (await shop.row(done))["upstream_state"] == "queued"

    report = await shop.run()
    assert report.placed == total_orders
    assert sim.add_requests == total_orders
    by_link = shop.created_by_link()
    for n, (oid, qty) in enumerate(ours.items(), start=1):
        [created] = by_link[link(n)]
        params = created.params
        assert str(params["service"]) == main
        assert int(params["quantity"]) == qty
        assert set(params) == {"service", "link", "quantity"}
        if seed.numbers_are_json_ints:
            assert isinstance(params["service"], int) and isinstance(params["quantity"], int)
        row = await shop.row(oid)
        assert row["upstream_state"] == "placed"
        assert row["provider_order"] == str(created.order_id)
        assert row["status"] == "Pending"
    if profile == "68smm":
        _check_68smm_params(shop)
    upstream_of = {oid: (await shop.row(oid))["provider_order"] for oid in [*ours, *extra]}
    assert len(set(upstream_of.values())) == total_orders

    # Nothing is due before 30 s: no status request, no second add.
    statuses_before = sim.request_count("status") + sim.request_count("orders")
    report = await shop.run()
    assert (report.placed, report.polled) == (0, 0)
    assert sim.request_count("status") + sim.request_count("orders") == statuses_before

    # Upstream moves the orders.
    sim.set_order(upstream_of[done], status="Completed", remains=0, start_count=1200)
    sim.set_order(upstream_of[part], status="Partial", remains=seed.partial_remains, start_count=50)
    sim.set_order(upstream_of[canc], status="Canceled")
    sim.set_order(upstream_of[unk], status="Fail", start_count=7)
    sim.set_order(upstream_of[cx], status="In progress", remains=q_cx - 10, start_count=3)
    for oid, (word, units) in extra.items():
        sim.set_order(upstream_of[oid], status=word, remains=units // 3 if word == "Partial" else 0)

    balance_before = await shop.balance()
    report = await shop.run(YOUNG_POLL_S)
    assert report.polled == total_orders
    assert report.settled == 3 + len(extra)

    row = await shop.row(done)
    # baostar's multi-status entries carry only the status: no start count to copy.
    start = 1200 if PROFILES[profile].multi_status_entries_full else None
    assert (row["status"], row["remains"], row["start_count"], row["refund_micros"]) == ("Completed", 0, start, 0)
    [event] = await orders.history(shop.panel, done)
    assert (event.status, event.remains, event.start_count, event.actor) == ("Completed", 0, start, "worker")
    assert row["upstream_state"] == "done"

    row = await shop.row(part)
    expected_partial = partial_refund(shop.charged[part], seed.partial_remains, q_part)
    assert (row["status"], row["remains"], row["start_count"]) == ("Partial", seed.partial_remains, 50)
    assert row["refund_micros"] == expected_partial

    row = await shop.row(canc)
    assert (row["status"], row["refund_micros"], row["remains"]) == ("Canceled", shop.charged[canc], q_canc)

    # An unmapped status is kept for the operator, never guessed into a refund.
    row = await shop.row(unk)
    assert (row["status"], row["refund_micros"], row["upstream_status"]) == ("Pending", 0, "Fail")
    assert row["upstream_state"] == "placed"

    row = await shop.row(cx)
    progress = q_cx - 10 if PROFILES[profile].multi_status_entries_full else q_cx  # baostar: status only
    assert (row["status"], row["remains"], row["refund_micros"]) == ("In progress", progress, 0)

    extra_refunds = 0
    for oid, (word, units) in extra.items():
        row = await shop.row(oid)
        assert row["status"] == word
        if word == "Partial":
            assert row["refund_micros"] == partial_refund(shop.charged[oid], units // 3, units)
        extra_refunds += row["refund_micros"]
    assert await shop.balance() == balance_before + expected_partial + shop.charged[canc] + extra_refunds

    # The unknown status is polled again (it may still move), and never refunded meanwhile.
    sim.set_order(upstream_of[unk], status="Error")
    await shop.run(YOUNG_POLL_S)
    row = await shop.row(unk)
    assert (row["status"], row["refund_micros"], row["upstream_status"]) == ("Pending", 0, "Error")

    # Cancel: forwarded where the panel has it, refused or reported unsupported otherwise.
    if seed.cancel:
        assert await orders.cancel(shop.panel, Customer.from_api_key(shop.key), [cx]) == {cx: None}
        report = await shop.run()
        assert report.cancels_forwarded == 1
        assert sim.request_count("cancel") == 1
        assert sim.order(upstream_of[cx]).status == "Canceled"
        row = await shop.row(cx)  # the same pass polled it: the upstream's Canceled is settled
        assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("Canceled", shop.charged[cx], "done")
        again = await orders.cancel(shop.panel, Customer.from_api_key(shop.key), [cx])
        assert isinstance(again[cx], CancelNotAllowed)
    else:
        refused = await orders.cancel(shop.panel, Customer.from_api_key(shop.key), [cx])
        assert isinstance(refused[cx], CancelNotAllowed)
        # The operator switches cancel on anyway: the worker asks, the upstream has no such action.
        await catalog.set_service(shop.panel, shop.services[main].service, {"cancel": "true"})
        assert await orders.cancel(shop.panel, Customer.from_api_key(shop.key), [cx]) == {cx: None}
        report = await shop.run()
        assert report.cancels_forwarded == 1
        assert sim.request_count("cancel") == 1
        row = await shop.row(cx)
        assert row["upstream_error"] == "upstream has no cancel action"
        assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("In progress", 0, "placed")
        assert not row["cancel_requested"]
        await shop.run(YOUNG_POLL_S)
        assert sim.request_count("cancel") == 1  # not asked again
        sim.set_order(upstream_of[cx], status="Completed", remains=0)

    sim.set_order(upstream_of[unk], status="Completed", remains=0)
    await shop.run(YOUNG_POLL_S)
    assert (await shop.row(unk))["status"] == "Completed"

    # Refill: forwarded and synced where the panel has it.
    if seed.refill:
        refill_id = (await refills.request(shop.panel, Customer.from_api_key(shop.key), [done]))[done]
        assert isinstance(refill_id, int)
        report = await shop.run()
        assert report.refills_placed == 1
        [upstream_refill] = sim.refills()
        assert upstream_refill.order_id == int(upstream_of[done])
        ours_refill = await refills_store.refill_by_id(shop.panel.db, refill_id)
        assert (ours_refill["upstream_state"], ours_refill["provider_refill"]) == ("placed", str(upstream_refill.id))
        sim.set_refill(upstream_refill.id, "In progress")
        report = await shop.run(YOUNG_POLL_S)
        assert report.refills_polled == 1
        assert (await refills_store.refill_by_id(shop.panel.db, refill_id))["status"] == "In progress"
        sim.set_refill(upstream_refill.id, "Completed")
        await shop.run(YOUNG_POLL_S)
        ours_refill = await refills_store.refill_by_id(shop.panel.db, refill_id)
        assert (ours_refill["status"], ours_refill["upstream_state"]) == ("Completed", "done")
        refill_polls = sim.request_count("refill_status")
        await shop.run(YOUNG_POLL_S)
        assert sim.request_count("refill_status") == refill_polls
        assert sim.request_count("refill") == 1
    else:
        outcome = await refills.request(shop.panel, Customer.from_api_key(shop.key), [done])
        assert isinstance(outcome[done], RefillNotAllowed)
        await shop.run(YOUNG_POLL_S)
        assert sim.request_count("refill") == 0

    # Every order is terminal now: none is polled again, however long we wait.
    status_requests = sim.request_count("status") + sim.request_count("orders")
    for wait in (YOUNG_POLL_S, 10 * 60, 24 * 3600):
        report = await shop.run(wait)
        assert (report.polled, report.placed, report.poll_requests) == (0, 0, 0)
    assert sim.request_count("status") + sim.request_count("orders") == status_requests
    assert sim.add_requests == total_orders  # no order was ever sent twice

    # Money: exactly the refunds due, each once; the ledger consistent.
    expected = {part: expected_partial, canc: shop.charged[canc]}
    if seed.cancel:
        expected[cx] = shop.charged[cx]
    for oid, (word, units) in extra.items():
        if word == "Partial":
            expected[oid] = partial_refund(shop.charged[oid], units // 3, units)
    for oid in shop.charged:
        assert (await shop.row(oid))["refund_micros"] == expected.get(oid, 0), oid
    assert await shop.balance() == int(OPENING) * MICROS - sum(shop.charged.values()) + sum(expected.values())
    assert await audit.run(shop.panel) == []


async def _place_68smm_types(shop: Shop) -> dict[int, tuple[str, int]]:
    """68smm's other documented forms: drip-feed (runs/interval) and Custom Comments."""
    # 68smm's service list has no dripfeed flag: the operator switches it on for service 1.
    await catalog.set_service(shop.panel, shop.services["1"].service, {"dripfeed": "true"})
    drip = await shop.order("1", link=link(6), quantity=100, runs=3, interval=15)
    row = await shop.row(drip)
    assert (row["units"], row["charge_micros"]) == (300, charge_for(shop.services["1"].rate_micros, 300))
    comments = "\n".join(f"great post {i}" for i in range(12)) + "\n\n"
    talk = await shop.order("2", link=link(7), comments=comments)
    row = await shop.row(talk)
    assert (row["units"], row["charge_micros"]) == (12, charge_for(shop.services["2"].rate_micros, 12))
    return {drip: ("Partial", 300), talk: ("Completed", 12)}


def _check_68smm_params(shop: Shop) -> None:
    sim = shop.sim
    by_link = shop.created_by_link()
    [drip_sent] = by_link[link(6)]
    assert {k: str(v) for k, v in drip_sent.params.items()} == {
        "service": "1", "link": link(6), "quantity": "100", "runs": "3", "interval": "15"
    }
    assert sim.order(drip_sent.order_id).quantity == 300  # upstream counts the runs as we do
    [talk_sent] = by_link[link(7)]
    assert "quantity" not in talk_sent.params
    assert str(talk_sent.params["service"]) == "2"
    assert str(talk_sent.params["comments"]).split("\n") == [f"great post {i}" for i in range(12)]
    assert sim.order(talk_sent.order_id).quantity == 12


async def test_baostar_partial_without_remains_is_not_guessed(sqlite_url, panel_factory, clock):
    """baostar's multi-status says only ``{"status": "Partial"}``. The client asks
    the single status for the remains; when that fails too, the worker refunds
    nothing and hands the order to the operator, whose word settles it once."""
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("baostar")
        shop = await open_shop(panel, clock, sim, fx="0.00004", markup="15")
        try:
            oid = await shop.order("1", link=link(1), quantity=1000)
            await shop.run()
            upstream = (await shop.row(oid))["provider_order"]
            sim.set_order(upstream, status="Partial", remains=400)
            sim.inject("status", "slow", delay_s=0)  # the multi-status call goes through (status only)
            sim.inject("status", "http_500")  # the single call for the remains fails
            report = await shop.run(YOUNG_POLL_S)
            assert report.needs_attention == 1
            row = await shop.row(oid)
            assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("Pending", 0, "needs_attention")
            assert "Partial without remains" in row["upstream_error"]
            assert row["upstream_status"] == "Partial"
            # Not polled again by itself.
            polls = sim.request_count("status")
            await shop.run(YOUNG_POLL_S)
            await shop.run(3600)
            assert sim.request_count("status") == polls
            # The operator reads the upstream's page and records it.
            assert await orders.operator_set_status(panel, oid, "Partial", remains=400, actor="ops")
            row = await shop.row(oid)
            assert row["refund_micros"] == partial_refund(shop.charged[oid], 400, 1000)
            assert row["upstream_state"] == "done"
            assert not await orders.operator_set_status(panel, oid, "Partial", remains=400, actor="ops")  # once
            assert await audit.run(panel) == []
        finally:
            await shop.worker.aclose()


async def test_status_spellings_map_without_guessing(sqlite_url, panel_factory, clock):
    """British ``Cancelled``, ``Refunded``, any case and numeric codes settle;
    ``Error`` and code 6 (Fail) refund nothing."""
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("68smm")
        shop = await open_shop(panel, clock, sim, fx="1", markup="20")
        try:
            words = {"CANCELLED": "Canceled", "Refunded": "Canceled", "completed": "Completed", "2": "Completed",
                     "4": "Canceled", "Error": "Pending", "6": "Pending", "in PROGRESS": "In progress"}
            placed = {}
            for n, word in enumerate(words, start=1):
                placed[word] = await shop.order("3", link=link(n), quantity=1000 + n)
            await shop.run()
            for word, oid in placed.items():
                sim.set_order((await shop.row(oid))["provider_order"], status=word)
            await shop.run(YOUNG_POLL_S)
            for word, ours in words.items():
                row = await shop.row(placed[word])
                assert row["status"] == ours, word
                assert row["upstream_status"] == word
                assert row["refund_micros"] == (shop.charged[placed[word]] if ours == "Canceled" else 0), word
            assert await audit.run(panel) == []
        finally:
            await shop.worker.aclose()


async def test_standard_panel_package_mentions_and_dripfeed(sqlite_url, panel_factory, clock):
    """A full Perfect Panel upstream (or another copy of ours): the types the
    68smm page documents but its catalog lacks."""
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("standard")
        shop = await open_shop(panel, clock, sim, fx="1", markup="10")
        try:
            assert shop.provider["encoding"] == "form"
            package = await shop.order("3", link="https://instagram.com/story/1")
            names = [f"@user{i}" for i in range(10)]
            mentions = await shop.order("4", link="https://instagram.com/p/2", usernames="\r\n".join(names))
            drip = await shop.order("1", link="https://instagram.com/u/3", quantity=60, runs=2, interval=30)
            assert shop.charged[package] == shop.services["3"].rate_micros == resale_micros("5", 1, 10)
            assert shop.charged[mentions] == charge_for(shop.services["4"].rate_micros, 10)
            assert shop.charged[drip] == charge_for(shop.services["1"].rate_micros, 120)
            assert (await shop.run()).placed == 3
            sent = {str(c.params["link"]): c for c in sim.created_orders}
            assert {k: str(v) for k, v in sent["https://instagram.com/story/1"].params.items()} == {
                "service": "3", "link": "https://instagram.com/story/1"}
            m = sent["https://instagram.com/p/2"]
            assert "quantity" not in m.params and str(m.params["usernames"]).split("\n") == names
            assert sim.order(m.order_id).quantity == 10
            d = sent["https://instagram.com/u/3"]
            assert (str(d.params["runs"]), str(d.params["interval"]), str(d.params["quantity"])) == ("2", "30", "60")

            sim.set_order(str(sent["https://instagram.com/story/1"].order_id), status="Completed")
            sim.set_order(str(m.order_id), status="Partial", remains=3)
            await shop.run(YOUNG_POLL_S)
            assert (await shop.row(package))["status"] == "Completed"
            row = await shop.row(mentions)
            assert (row["status"], row["refund_micros"]) == ("Partial", partial_refund(shop.charged[mentions], 3, 10))
            # Cancel goes upstream and the upstream's refund comes back as ours.
            assert await orders.cancel(panel, Customer.from_api_key(shop.key), [drip]) == {drip: None}
            report = await shop.run()
            assert report.cancels_forwarded == 1
            row = await shop.row(drip)
            assert (row["status"], row["refund_micros"]) == ("Canceled", shop.charged[drip])
            assert sim.add_requests == 3
            assert await audit.run(panel) == []
        finally:
            await shop.worker.aclose()


async def test_like3s_rejection_in_vietnamese_cancels_and_refunds(sqlite_url, panel_factory, clock):
    """Like3s raised its minimum after our import: its Vietnamese refusal is a
    definite rejection, so the customer gets the charge back at once, and the
    operator sees the upstream's own words."""
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("like3s")
        shop = await open_shop(panel, clock, sim, fx="0.00004", markup="20")
        try:
            await catalog.set_service(panel, shop.services["101"].service, {"min": 10})  # ours is stale
            oid = await shop.order("101", link=link(1), quantity=20)
            before = await shop.balance()
            report = await shop.run()
            assert report.rejected == 1
            row = await shop.row(oid)
            assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("Canceled", shop.charged[oid],
                                                                                   "rejected")
            assert row["upstream_error"] == "Số lượng tối thiểu là 50"
            assert [(e.status, e.actor) for e in await orders.history(panel, oid)] == [("Canceled", "worker")]
            assert await shop.balance() == before + shop.charged[oid]
            await shop.run(3600)
            assert sim.add_requests == 1 and sim.created_orders == []
            assert await audit.run(panel) == []
        finally:
            await shop.worker.aclose()


async def test_order_canceled_before_the_worker_runs_is_never_sent(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("68smm")
        shop = await open_shop(panel, clock, sim, fx="1", markup="20")
        try:
            oid = await shop.order("1", link=link(1), quantity=500)
            assert await orders.cancel(panel, Customer.from_api_key(shop.key), [oid]) == {oid: None}
            row = await shop.row(oid)
            assert (row["status"], row["refund_micros"], row["upstream_state"]) == ("Canceled", shop.charged[oid],
                                                                                   "canceled")
            await shop.run()
            await shop.run(3600)
            assert sim.add_requests == 0 and sim.request_count("cancel") == 0
            assert await shop.balance() == int(OPENING) * MICROS
            assert await audit.run(panel) == []
        finally:
            await shop.worker.aclose()


async def test_sync_keeps_a_flag_the_upstream_does_not_list(sqlite_url, panel_factory, clock):
    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("68smm")
        shop = await open_shop(panel, clock, sim, fx="1", markup="20")
        try:
            sid = shop.services["1"].service
            await catalog.set_service(panel, sid, {"dripfeed": "true"})
            await providers.sync_services(panel, "up",
                                          make_client=functools.partial(client_for, transport=sim.mock_transport()))
            row = await catalog_store.service_by_id(panel.db, sid)
            assert row["dripfeed"]  # 68smm's list has no dripfeed field: not listed is not "no"
            assert row["cancel"]  # listed there as true, so kept in step with the upstream
        finally:
            await shop.worker.aclose()


async def test_provider_settings_change_without_losing_orders(sqlite_url, panel_factory, clock, monkeypatch):
    """A rotated upstream key is taken by the next worker pass; bad settings are refused."""
    from smmpanel.domain.errors import InvalidField
    from smmpanel.secrets import unseal
    from smmpanel.store import upstream as upstream_store

    async with panel_factory(sqlite_url) as panel:
        sim = create_simulator("68smm")
        shop = await open_shop(panel, clock, sim, fx="1", markup="0")
        try:
            row = await providers.update_provider(panel, "up", key="rotated-key", max_ids=50, timeout_s=5)
            assert (row["max_ids"], row["timeout_s"]) == (50, 5)
            stored = await upstream_store.provider_by_name(panel.db, "up")
            assert stored["key_sealed"] != "rotated-key" and unseal(stored["key_sealed"]) == "rotated-key"
            # The running worker sends the next order with the new key (which this upstream refuses).
            order = await orders.place_order(panel, Customer.from_api_key(shop.key), {"service": shop.services["1"].service,
                                                               "link": "https://x.com/rotated", "quantity": 100})
            await shop.worker.run_once()
            row = await orders.order(panel, order)
            assert row["upstream_state"] == "needs_attention" and "Invalid API key" in row["upstream_error"]
            await providers.update_provider(panel, "up", key=sim.key)
            await orders.resolve(panel, order, requeue=True, actor="ops")
            await shop.worker.run_once()
            assert (await orders.order(panel, order))["upstream_state"] == "placed"
            assert sim.add_requests == 2 and len(sim.created_orders) == 1  # refused for the key, then created
            with pytest.raises(InvalidField):
                await providers.update_provider(panel, "up", url="ftp://x")
            with pytest.raises(InvalidField):
                await providers.update_provider(panel, "up", max_ids=0)
        finally:
            await shop.worker.aclose()
