"""Moving orders to another provider (``orders resend``), against two real
simulated upstreams on sockets and both databases: only an order that
provably never reached its first upstream moves, and no order is ever
created upstream twice, whatever the worker does meanwhile."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, AsyncIterator

import pytest

from smmpanel.domain.errors import InvalidField, NotFound, ResendRefused
from smmpanel.services import accounts, audit, orders, providers, resend
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.store import upstream
from smmpanel.worker import Worker

pytestmark = pytest.mark.anyio

LEASE_S = 3600


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "resend-test-secret")


class Two:
    """Our panel reselling upstream "first"; "second" is where orders may move."""

    def __init__(self, panel: Any, clock: Any, sims: dict[str, Any], servers: dict[str, SimulatorServer],
                 key: str, service: int) -> None:
        self.panel, self.clock, self.sims, self.servers = panel, clock, sims, servers
        self.customer, self.service = Customer.from_api_key(key), service
        self.worker = Worker(panel)
        self.n = 0

    async def order(self) -> int:
        self.n += 1
        return await orders.place_order(self.panel, self.customer, {
            "service": self.service, "link": f"https://x.com/p/{self.n}", "quantity": 1000})

    async def row(self, order_id: int) -> Any:
        return await orders.order(self.panel, order_id)

    async def run(self, advance: int = 0) -> Any:
        self.clock.advance(advance)
        report = await self.worker.run_once()
        assert report.errors == []
        return report

    def created(self, name: str, link: str) -> int:
        return sum(1 for c in self.sims[name].created_orders if str(c.params["link"]) == link)


@asynccontextmanager
async def two_upstreams(panel: Any, clock: Any) -> AsyncIterator[Two]:
    sims = {name: create_simulator("68smm") for name in ("first", "second")}
    servers = {name: SimulatorServer(sim) for name, sim in sims.items()}
    for server in servers.values():
        server.start()
    two = None
    try:
        for name in ("first", "second"):
            await providers.add_provider(panel, name, servers[name].url, sims[name].key, timeout_s=1)
        imported, _ = await providers.import_services(panel, "first", only=["1"])
        _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="cli")
        two = Two(panel, clock, sims, servers, key, imported[0].service)
        yield two
    finally:
        if two is not None:
            await two.worker.aclose()
        for server in servers.values():
            server.stop()


async def refusal(two: Two, order_id: int) -> str:
    with pytest.raises(ResendRefused) as refused:
        await resend.resend(two.panel, order_id, "second", "1", actor="olga")
    return refused.value.params["reason"]


async def test_an_order_its_upstream_never_got_moves_with_the_operators_name_and_is_placed_once(
        db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        waiting = await two.order()  # not sent yet
        unreachable = await two.order()
        two.servers["first"].stop()  # connection refused: provably never sent
        await two.run()
        row = await two.row(unreachable)
        assert (row["upstream_state"], row["attempts"], row["refused_sends"]) == ("queued", 1, 1)
        before = await accounts.balance(panel, two.customer)

        moved = await resend.resend(panel, unreachable, "second", "1", actor="olga")
        assert (moved["provider"], moved["provider_service"], moved["upstream_state"]) == ("second", "1", "queued")
        assert (moved["status"], moved["upstream_error"], moved["attempts"]) == ("Pending", None, 0)
        [event] = await orders.history(panel, unreachable)
        assert event.actor == "olga" and "resent to second service 1 (was first service 1" in event.note
        outcome = await resend.resend_each(panel, [waiting], "second", "1", actor="olga")
        assert outcome.moved == [waiting] and not outcome.refused

        await two.run(60)
        for order_id in (waiting, unreachable):
            row = await two.row(order_id)
            assert (row["upstream_state"], row["provider"]) == ("placed", "second")
            assert two.created("second", row["link"]) == 1 and two.created("first", row["link"]) == 0
        # Placed now: it may not move again, and moving money was never part of it.
        assert await refusal(two, waiting) == "placed"
        assert await accounts.balance(panel, two.customer) == before
        assert await audit.run(panel) == []


async def test_an_upstream_out_of_funds_refused_it_so_it_may_move(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        order_id = await two.order()
        two.sims["first"].set_balance(0)
        await two.run()
        row = await two.row(order_id)
        assert (row["upstream_state"], row["refused_sends"]) == ("waiting_funds", 1)
        await resend.resend(panel, order_id, "second", "1", actor="olga")
        await two.run(60)
        row = await two.row(order_id)
        assert row["upstream_state"] == "placed" and two.created("second", row["link"]) == 1
        assert two.created("first", row["link"]) == 0


@pytest.mark.parametrize("fault", ["timeout_after_create", "timeout_before_create", "http_500"])
async def test_an_unknown_outcome_is_refused_whether_or_not_the_upstream_made_it(db_url, panel_factory, clock,
                                                                                 fault):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        order_id = await two.order()
        two.sims["first"].inject("add", fault)
        await two.run()
        assert (await two.row(order_id))["upstream_state"] == "needs_attention"
        assert await refusal(two, order_id) == "maybe_sent"
        row = await two.row(order_id)
        assert (row["provider"], row["upstream_state"]) == ("first", "needs_attention")
        assert await orders.history(panel, order_id) == []


async def test_an_answer_without_proof_keeps_it_even_while_queued(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        order_id = await two.order()
        two.sims["first"].enable("created_then_429", count=1)  # made upstream, answered HTTP 429
        await two.run()
        row = await two.row(order_id)
        assert (row["upstream_state"], row["attempts"], row["refused_sends"]) == ("queued", 1, 0)
        assert two.created("first", row["link"]) == 1
        assert await refusal(two, order_id) == "maybe_sent"


async def test_a_claim_then_a_crash_can_never_be_moved(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        order_id = await two.order()
        first = await providers.provider_named(panel, "first")
        # A worker claims it (committed) and dies before recording anything: the add may have gone out.
        async with panel.db.transaction() as tx:
            [claimed] = await upstream.claim_for_placement(tx, first["id"], clock(), clock() + LEASE_S, 1)
        assert claimed["id"] == order_id
        assert await refusal(two, order_id) == "sending"
        clock.advance(LEASE_S + 1)
        await two.run()  # the lease expired: needs_attention
        assert (await two.row(order_id))["upstream_state"] == "needs_attention"
        assert await refusal(two, order_id) == "maybe_sent"


async def test_a_move_racing_a_worker_claim_never_places_twice(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        first = await providers.provider_named(panel, "first")
        ids: list[int] = []

        async def claim(order_id: int) -> bool:
            async with panel.db.transaction() as tx:
                rows = await upstream.claim_for_placement(tx, first["id"], clock(), clock() + 30, 1)
            return [r["id"] for r in rows] == [order_id]

        async def move(order_id: int) -> bool:
            try:
                await resend.resend(panel, order_id, "second", "1", actor="olga")
            except ResendRefused as exc:
                assert exc.params["reason"] == "sending"
                return False
            return True

        winners = []
        for i in range(8):
            order_id = await two.order()  # the only one due at "first": a claim takes it or nothing
            ids.append(order_id)
            if i % 2:  # either one starts first (on SQLite the first to start wins)
                moved, claimed = await asyncio.gather(move(order_id), claim(order_id))
            else:
                claimed, moved = await asyncio.gather(claim(order_id), move(order_id))
            assert claimed != moved, (order_id, claimed, moved)  # exactly one of them wins
            winners.append("claim" if claimed else "move")
            if claimed:  # the worker that claimed it dies; its lease ends into needs_attention
                await panel.db.execute("UPDATE orders SET lease_until_s = 0 WHERE id = $1", order_id)
        await two.run(60)
        for order_id in ids:
            row = await two.row(order_id)
            total = two.created("first", row["link"]) + two.created("second", row["link"])
            assert total <= 1, (order_id, row["upstream_state"])
            assert (row["upstream_state"] == "placed") == (total == 1)
        # Every order that was moved is placed at the second upstream, exactly once.
        for order_id, winner in zip(ids, winners):
            row = await two.row(order_id)
            if winner == "move":
                assert (row["provider"], row["upstream_state"]) == ("second", "placed")
                assert two.created("second", row["link"]) == 1
            else:
                assert row["provider"] == "first" and row["upstream_state"] == "needs_attention"


async def test_a_bad_target_is_refused_before_any_order_is_read(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel, two_upstreams(panel, clock) as two:
        order_id = await two.order()
        with pytest.raises(NotFound):
            await resend.resend_each(panel, [order_id], "nobody", "1", actor="olga")
        with pytest.raises(InvalidField) as blank:
            await resend.resend_each(panel, [order_id], "second", " ", actor="olga")
        assert blank.value.params["field"] == "service"
        outcome = await resend.resend_each(panel, [order_id, 999999], "first", "1", actor="olga")
        assert outcome.moved == [] and outcome.refused[order_id].params["reason"] == "unchanged"
        assert isinstance(outcome.refused[999999], NotFound)
