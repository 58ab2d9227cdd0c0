"""Who acted: every manual ledger entry names its operator, and every order
status change is in the order's history with who made it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.domain.errors import InvalidField
from smmpanel.services import accounts, catalog, orders
from smmpanel.services.principal import Customer

pytestmark = pytest.mark.anyio


async def _entries(panel, customer):
    return (await accounts.statement(panel, customer)).items


async def test_manual_ledger_entries_name_their_operator(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "alice", Decimal("10"), actor="ann")
        await accounts.add_funds(panel, "alice", Decimal("5"), "bank transfer", actor="bob")
        await accounts.add_funds(panel, "alice", Decimal("-2"), actor="cli")
        entries = await _entries(panel, Customer.from_api_key(key))
        assert [(e.kind, e.amount_micros, e.actor) for e in entries] == [
            ("adjustment", -2_000_000, "cli"), ("deposit", 5_000_000, "bob"), ("deposit", 10_000_000, "ann")]


async def test_status_changes_are_recorded_with_their_actor(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "alice", Decimal("10"), actor="ann")
        alice = Customer.from_api_key(key)
        sid = await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate="1", min=10,
                                        max=10_000, cancel=True)
        worked, canceled = [await orders.place_order(panel, alice, {"service": sid, "link": f"@u{n}", "quantity": 1000})
                            for n in (1, 2)]
        assert await orders.operator_set_status(panel, worked, "In progress", actor="ann", start_count=40)
        assert await orders.operator_set_status(panel, worked, "Partial", actor="bob", remains=100)
        assert not await orders.operator_set_status(panel, worked, "Partial", actor="carl", remains=100)  # a no-op
        assert await orders.cancel(panel, alice, [canceled]) == {canceled: None}

        history = [(e.status, e.remains, e.start_count, e.actor) for e in await orders.history(panel, worked)]
        assert history == [("In progress", 1000, 40, "ann"), ("Partial", 100, 40, "bob")]
        assert [(e.status, e.actor) for e in await orders.history(panel, canceled)] == [("Canceled", "customer")]
        refunds = {e.order_id: e.actor for e in await _entries(panel, alice) if e.kind == "refund"}
        assert refunds == {worked: "bob", canceled: "customer"}


@pytest.mark.parametrize("actor", ["", "   ", "a\nb", "x" * 65, None])
async def test_an_operator_change_needs_a_named_actor(db_url, panel_factory, actor):
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "alice", Decimal("10"), actor="ann")
        sid = await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate="1", min=10,
                                        max=10_000)
        order = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "@u", "quantity": 100})
        for change in (orders.operator_set_status(panel, order, "Canceled", actor=actor),
                       accounts.add_funds(panel, "alice", Decimal("1"), actor=actor)):
            with pytest.raises(InvalidField) as err:
                await change
            assert err.value.params["field"] == "actor"
        assert (await orders.order(panel, order))["status"] == "Pending"
        assert await orders.history(panel, order) == []
        assert await accounts.balance(panel, Customer.from_api_key(key)) == 9_900_000
