"""Group commit on real databases: one order that the database refuses
(here a charge beyond 64 bits, as the domain's limit would stop it earlier)
fails alone; the orders committed with it in the same batch stand."""

import asyncio
import dataclasses
from decimal import Decimal

import pytest

from smmpanel.domain.ordertypes import ServiceTerms, ServiceType, build_order
from smmpanel.services import accounts, audit, catalog
from smmpanel.store import orders as orders_store

pytestmark = pytest.mark.anyio

BEYOND_64_BITS = 3 * 10**19


async def test_an_order_the_database_refuses_never_fails_its_batch(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        good_user, _ = await accounts.add_user(panel, "burst", Decimal("1000"), actor="cli")
        bad_user, _ = await accounts.add_user(panel, "mallory", Decimal("1000"), actor="cli")
        sid = await catalog.add_service(panel, name="Views", category="TT", type="Default", rate="1", min=10,
                                        max=10_000)
        terms = ServiceTerms(id=sid, type=ServiceType.DEFAULT, rate_micros=1_000_000, min=10, max=10_000,
                             dripfeed=False)
        draft = build_order(terms, {"link": "https://example.com/p", "quantity": 100})
        bad = dataclasses.replace(draft, charge_micros=BEYOND_64_BITS)
        now = panel.clock()
        calls = [orders_store.place_order(panel.db, good_user, draft, now) for _ in range(25)]
        calls += [orders_store.place_order(panel.db, bad_user, bad, now)]
        calls += [orders_store.place_order(panel.db, good_user, draft, now) for _ in range(25)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[25], Exception)
        placed = results[:25] + results[26:]
        assert all(isinstance(order_id, int) for order_id in placed), placed
        assert len(set(placed)) == 50
        assert (await accounts.user_named(panel, "burst"))["balance_micros"] == 1000_000_000 - 50 * 100_000
        assert (await accounts.user_named(panel, "mallory"))["balance_micros"] == 1000_000_000
        assert await audit.run(panel) == []
