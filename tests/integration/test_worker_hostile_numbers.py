"""Issue 7, defect 1, through the worker: an absurd number from the upstream no longer freezes a pass.

Before the fix one status reply with ``"remains": "1e99999999"`` made ``worker --once``
burn minutes of CPU; an ``add`` reply ``{"order": 1e99999999}`` did the same. Now the
pass ends at once, the other order of the batch is settled exactly, no order is
sent twice, and the spoiled order waits for the operator with the reason.
"""

from __future__ import annotations

import functools
import time
from decimal import Decimal

import pytest

from smmpanel.client import ProviderClient
from smmpanel.services import accounts, audit, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.services.providers import client_for
from smmpanel.simulator import create_simulator
from smmpanel.worker import Worker

pytestmark = pytest.mark.anyio

PASS_BUDGET_S = 5.0  # a pass over two orders on an in-process upstream takes milliseconds
POLL_LATER_S = 3600  # past any poll schedule


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "worker-hostile-numbers-secret")


async def timed_pass(worker: Worker) -> float:
    started = time.monotonic()
    await worker.run_once()
    return time.monotonic() - started


@pytest.mark.parametrize("field", ["remains", "start_count"])
async def test_an_absurd_status_number_does_not_freeze_the_pass(field, db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel:
        sim = create_simulator("68smm")
        await providers.add_provider(panel, "up", "https://upstream.example/api/v2", sim.key, encoding="form",
                                     make_client=functools.partial(ProviderClient, transport=sim.mock_transport()))
        factory = functools.partial(client_for, transport=sim.mock_transport())
        imported, _ = await providers.import_services(panel, "up", make_client=factory)
        service = next(i.service for i in imported if i.provider_service == "1")
        _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="test")
        customer = Customer.from_api_key(key)
        bad, good = [await orders.place_order(panel, customer, {"service": service, "link": f"https://x.com/{n}",
                                                                "quantity": 1000}) for n in (1, 2)]
        worker = Worker(panel, factory)
        try:
            assert await timed_pass(worker) < PASS_BUDGET_S
            upstream_of = {oid: (await orders.order(panel, oid))["provider_order"] for oid in (bad, good)}
            sim.set_order(upstream_of[bad], status="In progress", **{field: "1e99999999"})
            sim.set_order(upstream_of[good], status="Partial", remains=250)
            clock.advance(POLL_LATER_S)
            assert await timed_pass(worker) < PASS_BUDGET_S
            settled = await orders.order(panel, good)
            assert (settled["status"], settled["refund_micros"]) == ("Partial", settled["charge_micros"] // 4)
            spoiled = await orders.order(panel, bad)
            assert (spoiled["upstream_state"], spoiled["status"], spoiled["refund_micros"]) == (
                "needs_attention", "Pending", 0)
            assert f"protocol error: {field} 1E+99999999 is past the bound" in spoiled["upstream_error"]
            assert len(sim.created_orders) == 2
            assert await audit.run(panel) == []
        finally:
            await worker.aclose()


async def test_an_absurd_order_id_in_the_add_reply_is_never_resent(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel:
        sim = create_simulator("like3s")  # a bare JSON number: {"order": 1e99999999}
        await providers.add_provider(panel, "up", "https://upstream.example/api/v2", sim.key, encoding="json",
                                     make_client=functools.partial(ProviderClient, transport=sim.mock_transport()))
        factory = functools.partial(client_for, transport=sim.mock_transport())
        imported, _ = await providers.import_services(panel, "up", make_client=factory)
        _, key = await accounts.add_user(panel, "buyer", Decimal(10**6), actor="test")
        oid = await orders.place_order(panel, Customer.from_api_key(key),
                                       {"service": imported[0].service, "link": "https://x.com/1", "quantity": 100})
        sim.enable("huge_order_id")
        worker = Worker(panel, factory)
        try:
            for _ in range(3):
                assert await timed_pass(worker) < PASS_BUDGET_S
                clock.advance(POLL_LATER_S)
            assert len(sim.created_orders) == 1  # the order exists upstream: an unknown outcome is never resent
            row = await orders.order(panel, oid)
            assert row["provider_order"] is None and "order id" in (row["upstream_error"] or "")
            assert (row["upstream_state"], row["refund_micros"]) == ("needs_attention", 0)  # it may exist upstream
            assert await audit.run(panel) == []
        finally:
            await worker.aclose()
