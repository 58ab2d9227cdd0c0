"""Upstream calls and errors by kind in ``/metrics``: the worker (its own
process in production) adds its request counts to the database once per
provider pass, and a scrape of the server shows them, summed over every
worker and every restart. Both engines."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.testclient import TestClient

from smmpanel.app import PanelApp
from smmpanel.client import ProviderClient
from smmpanel.services import accounts, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.settings import Settings
from smmpanel.worker import Worker
from smmpanel.worker import loop as worker_loop
from test_observability import _sample

pytestmark = pytest.mark.anyio

TOKEN = "metrics-token-upstream-calls"
UPSTREAM_KEY = "upstream-key-for-metrics-0123"
CATALOG = [{"service": 1, "name": "Likes", "type": "Default", "category": "IG", "rate": "1.00", "min": 10,
            "max": 10000}]
# How the fake upstream answers an add, by the last word of the order's link.
ADD_FAULTS = ("ok", "timeout", "garbage", "http500", "refused", "unreachable")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMMPANEL_SECRET", "upstream-call-metrics-secret")


class FakeUpstream:
    """An upstream over ``httpx.MockTransport`` that times out, answers garbage or errors on request."""

    def __init__(self) -> None:
        self.status_reply = "garbage"
        self.next_order = 100

    def handle(self, request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        action = params.get("action")
        if action == "balance":
            return httpx.Response(200, json={"balance": "100.00", "currency": "USD"})
        if action == "services":
            return httpx.Response(200, json=CATALOG)
        if action == "add":
            fault = params["link"].rsplit("-", 1)[1]
            if fault == "timeout":
                raise httpx.ReadTimeout("peer stalled", request=request)
            if fault == "unreachable":
                raise httpx.ConnectError("connection refused", request=request)
            if fault == "garbage":
                return httpx.Response(200, text="<html>maintenance</html>")
            if fault == "http500":
                return httpx.Response(500, text="Internal Server Error")
            if fault == "refused":
                return httpx.Response(200, json={"error": "Incorrect link"})
            self.next_order += 1
            return httpx.Response(200, json={"order": self.next_order})
        if action == "status":
            if self.status_reply == "garbage":
                return httpx.Response(200, text="not json at all")
            return httpx.Response(200, json={"status": "In progress", "charge": "1", "remains": "5",
                                             "start_count": "0", "currency": "USD"})
        return httpx.Response(200, json={"error": "Invalid action"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


async def _shop(panel: Any, fake: FakeUpstream, faults: tuple[str, ...] = ADD_FAULTS, guarded: bool = True) -> None:
    """Two providers (one behind the outbound guard) and a customer with an order for each fault."""
    make = partial(ProviderClient, transport=fake.transport())
    for name, url in (("alpha", "https://alpha.example/api/v2"), ("guarded", "http://127.0.0.1:9/api/v2")):
        await providers.add_provider(panel, name, url, UPSTREAM_KEY, encoding="form", concurrency=8, make_client=make)
        await providers.import_services(panel, name, make_client=lambda p: providers.client_for(
            p, transport=fake.transport()), category_prefix=f"{name} ")
    _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="ops")
    customer = Customer.from_api_key(key)
    services = await orders_services(panel)
    for fault in faults:
        await orders.place_order(panel, customer, {"service": services["alpha"], "quantity": 100,
                                                   "link": f"https://www.instagram.com/p/m-{fault}"})
    if guarded:
        await orders.place_order(panel, customer, {"service": services["guarded"], "quantity": 100,
                                                   "link": "https://www.instagram.com/p/m-ok"})


async def orders_services(panel: Any) -> dict[str, int]:
    rows = await panel.db.fetch("SELECT s.id, p.name FROM services s JOIN providers p ON p.id = s.provider_id")
    return {row["name"]: row["id"] for row in rows}


def _worker(panel: Any, fake: FakeUpstream) -> Worker:
    def make(provider: Any) -> ProviderClient:
        if provider["name"] == "guarded":  # the production guard: a loopback address is refused
            return providers.client_for(provider, allow_private=False)
        return providers.client_for(provider, transport=fake.transport())

    return Worker(panel, make)


def _scrape(db_url: str) -> str:
    with TestClient(PanelApp(Settings(database_url=db_url, metrics_token=TOKEN))) as client:
        reply = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    return reply.text


def _calls(text: str, provider: str, action: str, outcome: str) -> float | None:
    return _sample(text, "smmpanel_upstream_calls_total", action=action, outcome=outcome, provider=provider)


async def test_metrics_show_upstream_calls_by_provider_action_and_outcome(db_url, panel_factory, clock, monkeypatch):
    fake = FakeUpstream()
    flushes: list[int] = []
    real_add_calls = worker_loop.calls_store.add_calls

    async def counting_add_calls(tx: Any, provider_id: int, counts: dict) -> None:
        flushes.append(sum(counts.values()))
        await real_add_calls(tx, provider_id, counts)

    monkeypatch.setattr(worker_loop.calls_store, "add_calls", counting_add_calls)
    async with panel_factory(db_url) as panel:
        await _shop(panel, fake)
        worker = _worker(panel, fake)
        try:
            report = await worker.run_once()
        finally:
            await worker.aclose()
        assert report.errors == [] and report.placed == 1
        # Seven requests, two providers: one write of the counts per provider pass, not one per request.
        assert sorted(flushes) == [1, 6]
        text = await asyncio.to_thread(_scrape, db_url)
        for outcome in ("ok", "timeout", "unparsable_reply", "http_error_status", "error_reply", "connection_error"):
            assert _calls(text, "alpha", "add", outcome) == 1, outcome
        assert _calls(text, "guarded", "add", "refused_by_guard") == 1
        assert _calls(text, "guarded", "add", "ok") is None
        assert "# TYPE smmpanel_upstream_calls_total counter" in text

        # Another worker (a restart, or a second process) adds to the same counters.
        clock.advance(3600)  # the unreachable add is due again; the placed order is due a poll
        again = _worker(panel, fake)
        try:
            await again.run_once()
        finally:
            await again.aclose()
        text = await asyncio.to_thread(_scrape, db_url)
        assert _calls(text, "alpha", "add", "connection_error") == 2
        assert _calls(text, "alpha", "add", "ok") == 1
        assert _calls(text, "alpha", "status", "unparsable_reply") == 1
        assert _calls(text, "guarded", "add", "refused_by_guard") == 2


async def test_counts_a_failed_write_could_not_store_come_with_the_next_pass(db_url, panel_factory, clock,
                                                                             monkeypatch):
    fake = FakeUpstream()
    real_add_calls = worker_loop.calls_store.add_calls
    failing = {"left": 1}

    async def flaky_add_calls(tx: Any, provider_id: int, counts: dict) -> None:
        if failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("database went away")
        await real_add_calls(tx, provider_id, counts)

    monkeypatch.setattr(worker_loop.calls_store, "add_calls", flaky_add_calls)
    async with panel_factory(db_url) as panel:
        await _shop(panel, fake, ("unreachable",), guarded=False)
        worker = _worker(panel, fake)
        try:
            first = await worker.run_once()
            assert len(first.errors) == 1  # the pass's write failed: said, and the counts kept
            clock.advance(3600)
            await worker.run_once()
        finally:
            await worker.aclose()
        text = await asyncio.to_thread(_scrape, db_url)
        assert _calls(text, "alpha", "add", "connection_error") == 2
