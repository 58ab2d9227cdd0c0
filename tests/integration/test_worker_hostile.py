"""The worker against upstreams that lie, stall and contradict themselves
(issue 7), over real sockets (``SimulatorServer`` with hostile modes).

Every scenario checks what a user would notice: which orders the operator
must look at (``needs_attention``, with the reason), that the other orders and
providers carry on, that refunds stay exact and single, and that ``audit``
stays clean.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, AsyncIterator

import pytest

from smmpanel.client.limits import TOTAL_DEADLINE_FACTOR
from smmpanel.domain.errors import InvalidField
from smmpanel.services import audit, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.services.reselling import MAX_SENDS_WITHOUT_PROOF, MULTI_STATUS_RETRY_S
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.worker import Worker
from smmpanel.worker.loop import PHASE_MARGIN_S
from test_reselling_faults import YOUNG_POLL_S, Shop, link, partial_refund, socket_shop

pytestmark = pytest.mark.anyio


async def placed(shop: Shop, count: int, quantity: int = 1000) -> list[int]:
    ours = [await shop.order(n, quantity=quantity) for n in range(1, count + 1)]
    await shop.run()
    for oid in ours:
        assert (await shop.row(oid))["upstream_state"] == "placed"
    return ours


async def upstream_id(shop: Shop, oid: int) -> int:
    return int((await shop.row(oid))["provider_order"])


@asynccontextmanager
async def second_upstream(panel: Any, name: str, **settings: Any) -> AsyncIterator[tuple[Any, int]]:
    """Another provider on its own socket: (its simulator, our service reselling its service 1)."""
    sim = create_simulator("68smm")
    server = SimulatorServer(sim)
    server.start()
    try:
        await providers.add_provider(panel, name, server.url, sim.key, **settings)
        imported, _ = await providers.import_services(panel, name, markup_percent=Decimal(20))
        yield sim, next(i.service for i in imported if i.provider_service == "1")
    finally:
        server.stop()


async def order_elsewhere(shop: Shop, service: int, n: int) -> int:
    """The shop's buyer orders a service of another provider (counted in ``check_money``)."""
    oid = await orders.place_order(shop.panel, Customer.from_api_key(shop.key),
                                   {"service": service, "link": link(n), "quantity": 1000})
    shop.charged[oid] = (await shop.row(oid))["charge_micros"]
    return oid


async def test_absurd_numbers_set_aside_only_their_own_order(db_url, panel_factory, clock):
    """Defect 2: out-of-range and absurd numbers in one poll batch. Each bad
    item sends its own order to the operator with the reason; the Partial and
    the Completed of the same batch are settled in the same pass."""
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        start_1e30, remains_1e20, remains_huge, partial, done = await placed(shop, 5)
        for mode, oid in (("overflow_start_count", start_1e30), ("overflow_remains", remains_1e20),
                          ("huge_remains", remains_huge)):
            shop.sim.enable(mode, orders=[await upstream_id(shop, oid)])
        shop.sim.set_order(await upstream_id(shop, partial), status="Partial", remains=333)
        shop.sim.set_order(await upstream_id(shop, done), status="Completed", remains=0)
        started = time.monotonic()
        report = await shop.run(YOUNG_POLL_S)
        assert time.monotonic() - started < 5  # no CPU burnt on 1e99999999
        assert report.poll_requests == 1 and report.settled == 2 and report.needs_attention == 3
        for oid, field in ((start_1e30, "start_count"), (remains_1e20, "remains"), (remains_huge, "remains")):
            row = await shop.row(oid)
            assert (row["upstream_state"], row["status"], row["refund_micros"]) == ("needs_attention", "Pending", 0)
            assert field in row["upstream_error"], row["upstream_error"]
        assert (await shop.row(partial))["status"] == "Partial"
        assert (await shop.row(done))["status"] == "Completed"
        # Nothing comes back: set aside means not polled again.
        again = await shop.run(3600)
        assert again.poll_requests == 0 and again.needs_attention == 0
        await shop.check_money({partial: partial_refund(shop.charged[partial], 333, 1000)})


async def test_absurd_numbers_from_one_provider_hold_no_other_provider(db_url, panel_factory, clock, caplog):
    """Defect 2, across providers: one provider's absurd numbers set aside its
    orders only, each named in the log; another provider's Partial of the same
    pass is refunded exactly once."""
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop, \
            second_upstream(panel, "other") as (other_sim, other_service):
        theirs = await order_elsewhere(shop, other_service, 77)
        bad = await placed(shop, 3)
        assert (await shop.row(theirs))["upstream_state"] == "placed"
        lies = (("huge_start_count", "start_count"), ("huge_remains", "remains"), ("overflow_remains", "remains"))
        for (mode, _), oid in zip(lies, bad):
            shop.sim.enable(mode, orders=[await upstream_id(shop, oid)])
        other_sim.set_order((await shop.row(theirs))["provider_order"], status="Partial", remains=250)
        started = time.monotonic()
        report = await shop.run(YOUNG_POLL_S)
        assert time.monotonic() - started < 5
        assert (report.settled, report.needs_attention) == (1, 3)
        for (mode, field), oid in zip(lies, bad):
            row = await shop.row(oid)
            assert (row["upstream_state"], row["status"], row["refund_micros"]) == ("needs_attention", "Pending", 0)
            assert field in row["upstream_error"], mode
            assert f"order {oid} needs attention" in caplog.text, mode
        assert (await shop.row(theirs))["status"] == "Partial"
        again = await shop.run(3600)  # the other provider's later passes go on as usual
        assert again.needs_attention == 0
        await shop.check_money({theirs: partial_refund(shop.charged[theirs], 250, 1000)})


async def test_a_status_the_database_refuses_sets_aside_only_its_order(db_url, panel_factory, clock, monkeypatch):
    """Belt and braces under the decisions: should a write still fail (a value
    no check foresaw), the batch is recorded order by order and only that
    order goes to the operator."""
    from dataclasses import replace

    from smmpanel.services import reselling

    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        poisoned, partial = await placed(shop, 2)
        decide = reselling.decide_poll

        def unforeseen(order, result, **kw):
            decision = decide(order, result, **kw)
            return replace(decision, start_count=10**30) if order.id == poisoned else decision

        monkeypatch.setattr(reselling, "decide_poll", unforeseen)
        for oid in (poisoned, partial):
            shop.sim.set_order(await upstream_id(shop, oid), status="Partial", remains=250)
        shop.clock.advance(YOUNG_POLL_S)
        report = await shop.worker.run_once()
        assert len(report.errors) == 1 and str(poisoned) in report.errors[0]
        row = await shop.row(poisoned)
        assert (row["upstream_state"], row["status"], row["refund_micros"]) == ("needs_attention", "Pending", 0)
        assert "could not be recorded" in row["upstream_error"]
        assert (await shop.row(partial))["status"] == "Partial"
        await shop.check_money({partial: partial_refund(shop.charged[partial], 250, 1000)})


LIES = [
    # mode, what the order shows afterwards, refunded?
    ("completed_with_remains", "needs_attention"),
    ("code_completed_with_remains", "needs_attention"),
    ("partial_negative_remains", "needs_attention"),
    ("partial_remains_above_quantity", "needs_attention"),
    ("partial_huge_remains", "needs_attention"),
    ("over_delivery", "done"),
]


async def test_contradictory_statuses_wait_for_the_operator_with_the_upstream_reply(db_url, panel_factory, clock):
    """Defect 3: a status whose numbers contradict it is never settled on a
    guess; over-delivery on Completed stays as reported, without a refund."""
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        ours = await placed(shop, len(LIES))
        shown_before = {oid: (await shop.row(oid))["remains"] for oid in ours}
        for (mode, _), oid in zip(LIES, ours):
            shop.sim.set_order(await upstream_id(shop, oid), status="In progress", remains=400)
            shop.sim.enable(mode, orders=[await upstream_id(shop, oid)])
        await shop.run(YOUNG_POLL_S)
        for (mode, state), oid in zip(LIES, ours):
            row = await shop.row(oid)
            assert row["upstream_state"] == state, mode
            assert row["refund_micros"] == 0, mode
            assert row["remains"] <= row["units"], mode  # a customer never sees more remaining than ordered
            if state == "needs_attention":
                assert row["status"] == "Pending", mode  # nothing taken from that reply
                assert row["remains"] == shown_before[oid], mode  # neither -50 nor 1000000000 shown
                assert "upstream said status=" in row["upstream_error"], mode  # the raw reply is kept
            else:
                assert (row["status"], row["remains"]) == ("Completed", -2)
        # The operator decides one of them: refunded once, by the one rule.
        first = ours[0]
        assert await orders.operator_set_status(panel, first, "Partial", remains=500, actor="ops")
        shop.sim.clear_modes()
        await shop.run(3600)
        await shop.check_money({first: partial_refund(shop.charged[first], 500, 1000)})


async def test_an_empty_multi_status_reply_falls_back_for_a_while_then_recovers(sqlite_url, panel_factory, clock):
    """Defect 4: one ``{}`` does not switch the provider to one request per
    order for good: the fallback is visible, retried later, and resettable."""
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        ours = await placed(shop, 3)
        shop.sim.enable("empty_multi_status")  # once, then the panel recovers
        await shop.run(YOUNG_POLL_S)
        [view] = await providers.list_providers(panel, live=False)
        assert view.row["multi_status_action"] == "single"
        assert view.row["multi_status_retry_at_s"] == clock() + MULTI_STATUS_RETRY_S
        # Until the retry time, one request per order...
        before = shop.sim.request_count("status")
        await shop.run(YOUNG_POLL_S)
        assert shop.sim.request_count("status") - before == len(ours)
        # ...then the multi spelling is asked again, and kept when it answers.
        clock.advance(MULTI_STATUS_RETRY_S)
        before = shop.sim.request_count("status")
        await shop.run(YOUNG_POLL_S)
        assert shop.sim.request_count("status") - before == 1
        [view] = await providers.list_providers(panel, live=False)
        assert (view.row["multi_status_action"], view.row["multi_status_retry_at_s"]) == ("status", None)
        # An operator can end a fallback at once, and choose a spelling that stays.
        shop.sim.enable("empty_multi_status")
        await shop.run(YOUNG_POLL_S)
        row = await providers.update_provider(panel, "up", multi_status="status")
        assert (row["multi_status_action"], row["multi_status_retry_at_s"]) == ("status", None)
        with pytest.raises(InvalidField):
            await providers.update_provider(panel, "up", multi_status="guess")
        await shop.complete_all()
        await shop.check_money({})


async def test_an_upstream_that_creates_then_answers_429_is_not_sent_the_order_again_and_again(
        db_url, panel_factory, clock):
    """Defect 7: HTTP 429 after the order was made is no proof it wasn't: the
    order is sent at most MAX_SENDS_WITHOUT_PROOF times, then waits for the operator."""
    async with panel_factory(db_url) as panel, socket_shop(panel, clock) as shop:
        shop.sim.enable("created_then_429")
        oid = await shop.order(1)
        for advance in (0, 5, 61, 600, 3600):
            await shop.run(advance)
        row = await shop.row(oid)
        assert row["upstream_state"] == "needs_attention"
        assert "without proof" in row["upstream_error"]
        assert shop.sim.request_count("add") == MAX_SENDS_WITHOUT_PROOF
        assert row["refund_micros"] == 0  # the operator decides: it may exist upstream
        await orders.resolve(panel, oid, provider_order=str(shop.created_for(oid)[0]), actor="ops")
        shop.sim.clear_modes()
        await shop.complete_all()
        await shop.check_money({})


async def test_a_slow_upstream_holds_neither_another_provider_nor_the_pass(sqlite_url, panel_factory, clock):
    """Defect 5: providers proceed at the same time; a pass ends within the
    call deadlines plus a margin however slowly one upstream drips."""
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, timeout_s=1) as slow:
        fast_sim = create_simulator("68smm")
        fast_server = SimulatorServer(fast_sim)
        fast_server.start()
        try:
            await providers.add_provider(panel, "fast", fast_server.url, fast_sim.key, timeout_s=1)
            imported, _ = await providers.import_services(panel, "fast", markup_percent=Decimal(20))
            fast_service = imported[0].service
            slow_orders = await placed(slow, 8)
            slow.sim.enable("drip", action="status", delay_s=30)
            fast_order = await orders.place_order(panel, Customer.from_api_key(slow.key),
                                                  {"service": fast_service, "link": link(99), "quantity": 1000})
            started = time.monotonic()
            report = await slow.run(YOUNG_POLL_S)
            elapsed = time.monotonic() - started
            deadline_s = 1 * TOTAL_DEADLINE_FACTOR
            assert elapsed < 2 * (deadline_s + PHASE_MARGIN_S) + 1, elapsed
            assert report.placed == 1
            assert (await orders.order(panel, fast_order))["upstream_state"] == "placed"
            for oid in slow_orders:  # nothing settled on a guess: asked again later
                assert (await slow.row(oid))["upstream_state"] == "placed"
        finally:
            fast_server.stop()
        slow.sim.clear_modes()
        await slow.complete_all()


async def test_slow_placements_on_one_provider_do_not_delay_placement_on_another(sqlite_url, panel_factory, clock):
    """Defect 5 as found: slow ``add`` replies on one provider delayed placement on
    another by seconds. Now the other provider's order is placed before the slow
    provider's first reply, and the slow orders go one after another, each once."""
    slow_add_s = 2.0
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, timeout_s=3, concurrency=1) as slow, \
            second_upstream(panel, "fast", timeout_s=3) as (fast_sim, fast_service):
        slow.sim.enable("slow", action="add", delay_s=slow_add_s)
        slow_orders = [await slow.order(n) for n in range(1, 4)]
        fast_order = await order_elsewhere(slow, fast_service, 99)
        started = time.monotonic()
        run = asyncio.create_task(slow.run())
        while fast_sim.request_count("add") < 1:
            assert time.monotonic() - started < slow_add_s, "the fast provider waited for the slow one"
            await asyncio.sleep(0.02)
        assert not run.done() and slow.sim.request_count("add") <= 1
        report = await run
        assert report.placed == 4 and time.monotonic() - started < 3 * slow_add_s + 2
        for oid in [*slow_orders, fast_order]:
            assert (await slow.row(oid))["upstream_state"] == "placed"
        assert slow.sim.request_count("add") == 3 and len(fast_sim.created_orders) == 1
        slow.sim.clear_modes()
        fast_sim.set_order((await slow.row(fast_order))["provider_order"], status="Completed", remains=0)
        await slow.complete_all()
        await slow.check_money({})


async def test_a_dripping_upstream_asked_one_order_at_a_time_ends_the_pass_in_its_time(sqlite_url, panel_factory,
                                                                                     clock):
    """Defect 5, the second finding: a status reply that drips (each piece inside the
    read timeout) in single mode made a pass over 40 orders take a minute. Each call
    is abandoned at its deadline, the phase starts no call it could not end in time,
    and nothing is settled on a guess."""
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, timeout_s=1, concurrency=1) as shop:
        ours = await placed(shop, 40)
        await providers.update_provider(panel, "up", multi_status="single")
        shop.sim.enable("drip", action="status", delay_s=10)  # 20 pieces, one every 0.5 s: never a read timeout
        deadline_s = 1 * TOTAL_DEADLINE_FACTOR
        started = time.monotonic()
        report = await shop.run(YOUNG_POLL_S)
        elapsed = time.monotonic() - started
        assert elapsed < deadline_s + PHASE_MARGIN_S + 2, elapsed  # before: 40 calls of 2 s, four at a time
        assert 0 < report.polled < len(ours)  # the rest waits for a later pass
        assert report.settled == report.needs_attention == 0
        for oid in ours:
            assert (await shop.row(oid))["upstream_state"] == "placed"
        [view] = await providers.list_providers(panel, live=False)
        assert view.breaker == "open"  # the next passes skip it instead of waiting out its deadlines
        held = await shop.run()  # within the breaker's hold
        assert held.providers_held == ["up"] and held.polled == 0
        shop.sim.clear_modes()
        clock.advance(view.row["breaker_open_until_s"] - clock())
        await shop.complete_all()
        for oid in ours:
            assert (await shop.row(oid))["status"] == "Completed"
        await shop.check_money({})


async def test_a_provider_that_keeps_timing_out_is_held_by_its_circuit_breaker(sqlite_url, panel_factory, clock,
                                                                                caplog):
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, timeout_s=1, concurrency=1) as shop:
        ours = await placed(shop, 3)
        shop.sim.enable("drip", action="status", delay_s=30)
        for _ in range(3):
            await shop.run(YOUNG_POLL_S)
        [view] = await providers.list_providers(panel, live=False)
        assert view.breaker == "open" and view.row["breaker_failures"] >= 3
        assert "circuit open" in caplog.text
        waiting = await shop.order(9)
        held = await shop.run()
        assert held.providers_held == ["up"] and shop.sim.request_count("add") == len(ours)
        assert (await shop.row(waiting))["upstream_state"] == "queued"
        shop.sim.clear_modes()  # the upstream recovers; the breaker lets calls go once its time is up
        clock.advance(view.row["breaker_open_until_s"] - clock())
        await shop.complete_all()
        [view] = await providers.list_providers(panel, live=False)
        assert view.breaker == "closed"
        for oid in ours:
            assert (await shop.row(oid))["status"] == "Completed"
        await shop.check_money({})


async def test_one_broken_provider_is_reported_and_the_others_proceed(sqlite_url, panel_factory, clock):
    """Defect of issue 6: building one provider's client failed and every
    provider's step ended. Now it is that provider's error alone."""
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock) as shop:
        for bad in (0, 101, 500):  # the rule the client enforces, at add and set time alike
            with pytest.raises(InvalidField) as refused:
                await providers.update_provider(panel, "up", max_ids=bad)
            assert refused.value.params == {"field": "max_ids", "rule": "range", "min": 1, "max": 100}
            with pytest.raises(InvalidField) as refused:
                await providers.add_provider(panel, "other", shop.server.url, shop.sim.key, max_ids=bad)
            assert refused.value.params["field"] == "max_ids"
        assert (await providers.update_provider(panel, "up", max_ids=100))["max_ids"] == 100
        other_sim = create_simulator("68smm")
        other_server = SimulatorServer(other_sim)
        other_server.start()
        try:
            await providers.add_provider(panel, "broken", other_server.url, other_sim.key)
            imported, _ = await providers.import_services(panel, "broken", markup_percent=Decimal(20))
            broken_order = await orders.place_order(panel, Customer.from_api_key(shop.key),
                                                    {"service": imported[0].service, "link": link(50), "quantity": 1000})
            oid = await shop.order(1)

            def factory(provider: Any):
                if provider["name"] == "broken":
                    raise RuntimeError("cannot build this client")
                return providers.client_for(provider)

            worker = Worker(panel, factory)
            try:
                report = await worker.run_once()
            finally:
                await worker.aclose()
            assert report.placed == 1 and (await shop.row(oid))["upstream_state"] == "placed"
            assert len(report.errors) == 1 and "broken" in report.errors[0]
            assert (await orders.order(panel, broken_order))["upstream_state"] == "queued"
        finally:
            other_server.stop()


async def test_stop_ends_a_pass_within_the_running_call_and_sends_nothing_more(sqlite_url, panel_factory, clock):
    """SIGTERM (the worker's ``stop``): the call under way ends and is recorded;
    no other order is claimed."""
    async with panel_factory(sqlite_url) as panel, socket_shop(panel, clock, timeout_s=2, concurrency=1) as shop:
        ours = [await shop.order(n) for n in range(1, 4)]
        shop.sim.enable("slow", action="add", delay_s=1.0)
        worker = Worker(panel)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, idle_sleep_s=0.05))
        deadline = time.monotonic() + 5
        while shop.sim.request_count("add") < 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(task, 2 * TOTAL_DEADLINE_FACTOR + PHASE_MARGIN_S)
        assert time.monotonic() - started < 2 * TOTAL_DEADLINE_FACTOR
        states = [(await shop.row(oid))["upstream_state"] for oid in ours]
        assert states == ["placed", "queued", "queued"]
        assert shop.sim.request_count("add") == 1
        assert await audit.run(panel) == []
