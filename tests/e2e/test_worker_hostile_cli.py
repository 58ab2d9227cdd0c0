"""Issue 7 through the commands an operator runs: ``smmpanel worker --once``
against an upstream that answers absurd numbers (defect 1 as it was found:
89 s of CPU until killed), and ``providers list`` / ``providers set`` showing
and ending what a misbehaving upstream made the worker do (defects 4 and 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from conftest import LOOPBACK_UPSTREAMS, run_cli
from money_oracle import partial_refund
from smmpanel.services import accounts, audit, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.worker import Worker

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SECRET = "worker-hostile-cli-secret"
ONCE_BUDGET_S = 15.0  # a process start, a placement and a poll on loopback; before the fix it never ended


def cli_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(LOOPBACK_UPSTREAMS, SMMPANEL_DATABASE_URL=db_url, SMMPANEL_SECRET=SECRET)
    return env


async def pass_in_process(panel) -> None:
    worker = Worker(panel)
    try:
        report = await worker.run_once()
    finally:
        await worker.aclose()
    assert report.errors == []


async def test_worker_once_ends_promptly_on_absurd_numbers(sqlite_url, panel_factory, clock, monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    clock.now_s = int(time.time()) - 3600  # placed an hour ago: due for a poll on the worker's real clock
    sim = create_simulator("68smm")
    with SimulatorServer(sim) as server:
        async with panel_factory(sqlite_url) as panel:
            await providers.add_provider(panel, "up", server.url, sim.key, timeout_s=3)
            imported, _ = await providers.import_services(panel, "up", markup_percent=Decimal(10))
            service = next(i.service for i in imported if i.provider_service == "1")
            _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="ops")
            buyer = Customer.from_api_key(key)

            async def order(n: int) -> int:
                return await orders.place_order(panel, buyer, {"service": service, "quantity": 1000,
                                                               "link": f"https://x.com/p/{n}"})

            bad, good = await order(1), await order(2)
            await pass_in_process(panel)
            upstream = {oid: (await orders.order(panel, oid))["provider_order"] for oid in (bad, good)}
            sim.enable("huge_remains", orders=[upstream[bad]])  # {"remains": "1e99999999"}
            sim.set_order(upstream[good], status="Partial", remains=250)
            unplaced = await order(3)
            sim.enable("huge_order_id")  # {"order": 1e99999999} once it made the order

            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "smmpanel.cli", "worker", "--once"], env=cli_env(sqlite_url),
                                  capture_output=True, text=True, timeout=120)
            elapsed = time.monotonic() - started
            assert done.returncode == 0, done.stderr[-3000:]
            assert elapsed < ONCE_BUDGET_S, elapsed
            assert "Traceback" not in done.stderr

            row = await orders.order(panel, bad)
            assert (row["upstream_state"], row["status"], row["refund_micros"]) == ("needs_attention", "Pending", 0)
            assert "protocol error: remains" in row["upstream_error"]
            row = await orders.order(panel, good)
            assert (row["status"], row["refund_micros"]) == ("Partial", partial_refund(row["charge_micros"], 250, 1000))
            row = await orders.order(panel, unplaced)
            assert (row["upstream_state"], row["provider_order"], row["refund_micros"]) == ("needs_attention", None, 0)
            assert "protocol error: order id" in row["upstream_error"]
            assert len(sim.created_orders) == 3  # each order made upstream once
            assert await audit.run(panel) == []


async def test_providers_list_shows_a_fallback_and_an_open_circuit_and_set_ends_the_fallback(
        sqlite_url, panel_factory, clock, monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    clock.now_s = int(time.time()) - 1  # the CLI judges the breaker on the real clock
    sim = create_simulator("68smm")
    with SimulatorServer(sim) as server:
        async with panel_factory(sqlite_url) as panel:
            await providers.add_provider(panel, "up", server.url, sim.key, timeout_s=1, concurrency=1)
            imported, _ = await providers.import_services(panel, "up", markup_percent=Decimal(10))
            _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="ops")
            for n in range(3):
                await orders.place_order(panel, Customer.from_api_key(key), {"service": imported[0].service,
                                                                             "quantity": 1000,
                                                                             "link": f"https://x.com/p/{n}"})
            await pass_in_process(panel)
            sim.enable("empty_multi_status")  # one {}: the worker falls back to one request per order
            clock.advance(31)
            await pass_in_process(panel)
            sim.enable("drip", action="status", delay_s=30)  # then no answer in time, pass after pass
            for _ in range(3):
                clock.advance(31)
                await pass_in_process(panel)

            env = cli_env(sqlite_url)
            [shown] = json.loads(run_cli(env, "providers", "list", "--offline", "--json", check=True).stdout)
            assert shown["multi_status"] == "single" and shown["multi_status_retry_at"] is not None
            assert shown["breaker"]["state"] == "open" and shown["breaker"]["failures"] >= 3
            assert shown["breaker"]["error"]
            text = run_cli(env, "providers", "list", "--offline", check=True).stdout
            assert "single (fallback, retried later)" in text
            assert f"open ({shown['breaker']['failures']} failed calls: " in text

            ended = json.loads(run_cli(env, "providers", "set", "up", "--multi-status", "status", "--json",
                                       check=True).stdout)
            assert (ended["multi_status"], ended["multi_status_retry_at"]) == ("status", None)
            text = run_cli(env, "providers", "list", "--offline", check=True).stdout
            assert "fallback" not in text and " status " in text
