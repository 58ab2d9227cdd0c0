"""PostgreSQL as the coordination engine: three worker processes share 2,000
orders; each is placed upstream exactly once and all are synced."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

import pytest

from smmpanel.services import audit, orders
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.store.db import open_database
from conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ORDERS = 2000
WORKERS = 3
DEADLINE_S = 240  # a wait, not a speed test: generous for a loaded machine


def _env(pg_url: str, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(SMMPANEL_DATABASE_URL=pg_url, SMMPANEL_SECRET="pg-workers-test", SMMPANEL_LOG_LEVEL="warning")
    return env


async def _place_orders(pg_url: str, key: str, service: int) -> list[int]:
    db = await open_database(pg_url, pg_pool_max=4)
    try:
        panel = Panel(db=db)
        return [
            await orders.place_order(panel, Customer.from_api_key(key), {"service": service, "link": f"https://x.com/p/{n}", "quantity": 100})
            for n in range(ORDERS)
        ]
    finally:
        await db.close()


async def _states(pg_url: str) -> Counter:
    db = await open_database(pg_url, pg_pool_max=1)
    try:
        rows = await db.fetch("SELECT upstream_state, status, COUNT(*) AS n FROM orders GROUP BY 1, 2")
        return Counter({(r["upstream_state"], r["status"]): r["n"] for r in rows})
    finally:
        await db.close()


async def _totals(pg_url: str) -> tuple[int, int, list]:
    db = await open_database(pg_url, pg_pool_max=1)
    try:
        refunds = await db.fetchval("SELECT COALESCE(SUM(amount_micros), 0) FROM ledger WHERE kind = 'refund'")
        balance = await db.fetchval("SELECT balance_micros FROM users WHERE name = 'bulk'")
        return refunds, balance, await audit.run(Panel(db=db))
    finally:
        await db.close()


def _wait_until(predicate, what: str, show) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {show()}")


def test_three_workers_place_each_order_once_and_sync_all(pg_url, tmp_path):
    env = _env(pg_url, tmp_path)
    sim = create_simulator("standard", balance="1000000")
    with SimulatorServer(sim) as server:
        run_cli(env, "providers", "add", "up", "--url", server.url, "--key", sim.key, "--encoding", "form",
                "--max-ids", "100", "--concurrency", "4", check=True)
        imported = json.loads(run_cli(env, "providers", "import", "up", "--markup", "10", "--json",
                                      check=True).stdout)["imported"]
        service = next(i["service"] for i in imported if i["type"] == "Default" and i["min"] <= 100 <= i["max"])
        key = json.loads(run_cli(env, "users", "add", "bulk", "--balance", "100000", "--json", check=True).stdout)["api_key"]
        ids = asyncio.run(_place_orders(pg_url, key, service))
        assert len(set(ids)) == ORDERS

        workers = [
            subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "worker", "--poll-interval", "1"], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker{n}.log", "w"))
            for n in range(WORKERS)
        ]
        try:
            _wait_until(lambda: asyncio.run(_states(pg_url))[("placed", "Pending")] == ORDERS, "all orders placed",
                        lambda: (asyncio.run(_states(pg_url)), sim.add_requests))
            created = sim.created_orders
            assert len(created) == ORDERS
            assert sim.add_requests == ORDERS  # nothing was sent twice
            links = Counter(str(c.params["link"]) for c in created)
            assert max(links.values()) == 1 and len(links) == ORDERS

            # The upstream finishes them: a quarter Partial (40 of 100 left), a quarter Canceled.
            upstream_ids = [c.order_id for c in created]
            for n, upstream_id in enumerate(upstream_ids):
                if n % 4 == 0:
                    sim.set_order(upstream_id, status="Partial", remains=40, start_count=7)
                elif n % 4 == 1:
                    sim.set_order(upstream_id, status="Canceled")
                else:
                    sim.set_order(upstream_id, status="Completed", remains=0, start_count=7)
            _wait_until(lambda: asyncio.run(_states(pg_url))[("done", "Completed")] == ORDERS // 2
                        and asyncio.run(_states(pg_url))[("done", "Partial")] == ORDERS // 4
                        and asyncio.run(_states(pg_url))[("done", "Canceled")] == ORDERS // 4, "all orders synced",
                        lambda: asyncio.run(_states(pg_url)))
        finally:
            for proc in workers:
                proc.terminate()
            for proc in workers:
                proc.wait(timeout=15)
    assert all(proc.returncode in (0, -15) for proc in workers), [(tmp_path / f"worker{n}.log").read_text()[-2000:]
                                                                  for n in range(WORKERS)]

    refunds, balance, findings = asyncio.run(_totals(pg_url))
    rate = Decimal(next(i["rate"] for i in imported if i["service"] == service))
    charge_micros = int(rate * 100 / 1000 * 1_000_000)
    expected_refunds = (ORDERS // 4) * (charge_micros * 40 // 100) + (ORDERS // 4) * charge_micros
    assert refunds == expected_refunds
    assert balance == 100_000 * 1_000_000 - ORDERS * charge_micros + expected_refunds
    assert findings == []
    assert sim.add_requests == ORDERS
