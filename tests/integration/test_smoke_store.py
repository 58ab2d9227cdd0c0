"""The order transaction on both engines: charge, order row, ledger entry."""

from decimal import Decimal

import pytest

from smmpanel.domain.errors import NotEnoughFunds
from smmpanel.services import accounts, audit, catalog, orders
from smmpanel.services.principal import Customer
from smmpanel.store import refills as refills_store

pytestmark = pytest.mark.anyio


async def test_order_charges_and_audits_clean(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "alice", Decimal("1"), actor="ops")
        sid = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="0.9", min=10, max=10000)
        order_id = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "https://x.com/p", "quantity": "1000"})
        assert await accounts.balance(panel, Customer.from_api_key(key)) == 100_000
        with pytest.raises(NotEnoughFunds):
            await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "https://x.com/p", "quantity": "1000"})
        rows = await orders.statuses(panel, Customer.from_api_key(key), [order_id])
        assert rows[order_id]["net_micros"] == 900_000
        assert await audit.run(panel) == []


async def test_operator_partial_needs_remains(db_url, panel_factory):
    from smmpanel.domain.errors import InvalidField

    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "bob", Decimal("5"), actor="ops")
        sid = await catalog.add_service(panel, name="Views", category="TT", type="Default", rate="1", min=10, max=10000)
        order_id = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "@bob", "quantity": "1000"})
        with pytest.raises(InvalidField) as refused:
            await orders.operator_set_status(panel, order_id, "Partial", actor="ops")
        assert refused.value.params["field"] == "remains"
        assert (await orders.order(panel, order_id))["status"] == "Pending"
        assert await orders.operator_set_status(panel, order_id, "Partial", remains=250, actor="ops")
        assert (await orders.order(panel, order_id))["refund_micros"] == 250_000


async def test_a_refill_refused_by_the_unique_index_keeps_the_others(db_url, panel_factory, monkeypatch):
    """The database's one-active-refill rule refuses one id of a multi refill;
    the other ids' refills stand (PostgreSQL needs a savepoint for that)."""
    from smmpanel.domain.errors import RefillNotAllowed
    from smmpanel.services import refills

    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "rita", Decimal("5"), actor="ops")
        sid = await catalog.add_service(panel, name="Subs", category="YT", type="Default", rate="1", min=10,
                                        max=10000, refill=True)
        first = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "@a", "quantity": "100"})
        second = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "@b", "quantity": "100"})
        for order_id in (first, second):
            await orders.operator_set_status(panel, order_id, "Completed", actor="ops")
        assert isinstance((await refills.request(panel, Customer.from_api_key(key), [first]))[first], int)
        # The race the pre-check can't see: pretend the active refill wasn't there yet.
        async def not_yet(conn, order_id):
            return False
        monkeypatch.setattr(refills_store, "has_active_refill", not_yet)
        result = await refills.request(panel, Customer.from_api_key(key), [first, second])
        assert isinstance(result[first], RefillNotAllowed) and result[first].params["reason"] == "active"
        assert isinstance(result[second], int)
        assert set(await refills.statuses(panel, Customer.from_api_key(key), [result[second]])) == {result[second]}
