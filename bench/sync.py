#!/usr/bin/env python3
"""How fast the worker syncs orders from an upstream: batched vs one by one.

Run with ``scripts/bench-sync`` (or ``.venv/bin/python bench/sync.py``).

1. Starts a simulated upstream panel (``smmpanel simulate --profile standard``)
   as its own process pinned to CPU 1; this process (the worker) is pinned to
   CPU 0.
2. A fresh panel database (SQLite by default, ``--database-url`` for
   PostgreSQL) with the upstream registered, its catalog imported and
   ``--orders`` (10,000) customer orders queued; the worker places them all
   (timed: placements per second, each one HTTP request, as the upstream has
   no bulk add).
3. All orders due for polling at once; the worker polls them to the end with
   the provider's ``max_ids`` at 100 (one request per 100 orders), then again
   with ``max_ids`` 1 (one request per order). Printed: orders synced per
   second and requests made, for each; written to bench/results/sync.json.
Every process it starts binds 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smmpanel.domain.upstream_state import UpstreamState  # noqa: E402
from smmpanel.services import accounts, orders, providers  # noqa: E402
from smmpanel.services.panel import Panel  # noqa: E402
from smmpanel.services.principal import Customer  # noqa: E402
from smmpanel.store.db import open_database  # noqa: E402
from smmpanel.store.migrate import upgrade  # noqa: E402
from smmpanel.worker import Worker, WorkerReport  # noqa: E402

T0 = 1_900_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_simulator(port: int) -> subprocess.Popen:
    cmd = ["taskset", "-c", "1", sys.executable, "-m", "smmpanel.cli", "simulate", "--profile", "standard",
           "--port", str(port), "--balance", "100000000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not start")


async def run(database_url: str, n_orders: int, sim_url: str, sim_key: str) -> dict:
    now = [T0]
    db = await open_database(database_url, pg_pool_max=8)
    panel = Panel(db=db, clock=lambda: now[0])
    try:
        await providers.add_provider(panel, "sim", sim_url, sim_key, encoding="form", max_ids=100)
        imported, _ = await providers.import_services(panel, "sim")
        service = next(i for i in imported if i.type == "Default" and i.min <= 100 <= i.max)
        _, key = await accounts.add_user(panel, "bench", Decimal(10) ** 9, actor="bench")
        buyer = Customer.from_api_key(key)
        for n in range(n_orders):
            await orders.place_order(panel, buyer, {"service": service.service, "link": f"https://x.com/p/{n}",
                                                    "quantity": 100})

        worker = Worker(panel, poll_interval=lambda _age: 3600)
        started = time.perf_counter()
        placed = WorkerReport()
        while placed.placed < n_orders:
            before = placed.placed
            placed.add(await worker.run_once())
            if placed.placed == before:
                raise RuntimeError(f"placement stalled at {placed.placed}: {placed}")
        place_s = time.perf_counter() - started
        await worker.aclose()

        results = {"orders": n_orders, "place_per_s": round(n_orders / place_s, 1), "place_s": round(place_s, 2)}
        for label, max_ids in (("batched", 100), ("one_by_one", 1)):
            async with db.transaction() as tx:
                await tx.execute("UPDATE providers SET max_ids = $1", max_ids)
                await tx.execute("UPDATE orders SET due_at_s = $1 WHERE upstream_state = $2", T0,
                                 UpstreamState.PLACED.value)
            worker = Worker(panel, poll_interval=lambda _age: 3600)
            report = WorkerReport()
            started = time.perf_counter()
            while report.polled < n_orders:
                before = report.polled
                report.add(await worker.run_once())
                if report.polled == before:
                    raise RuntimeError(f"polling stalled at {report.polled}")
            elapsed = time.perf_counter() - started
            await worker.aclose()
            results[label] = {"synced_per_s": round(report.polled / elapsed, 1), "seconds": round(elapsed, 2),
                              "requests": report.poll_requests}
            now[0] += 1
        return results
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    os.environ.setdefault("SMMPANEL_SECRET", "bench-sync")
    os.environ.setdefault("SMMPANEL_ALLOW_PRIVATE_UPSTREAMS", "1")  # the simulated upstream is on 127.0.0.1
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/sync.db"
        upgrade(url)
        port = free_port()
        sim = start_simulator(port)
        try:
            from smmpanel.simulator import DEFAULT_KEY

            results = asyncio.run(run(url, args.orders, f"http://127.0.0.1:{port}/api/v2", DEFAULT_KEY))
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    results["database"] = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"worker sync against a local simulator, {results['orders']:,} active orders ({results['database']})")
    print(f"  placement (one request per order): {results['place_per_s']:>9,.1f} orders/s")
    for label in ("batched", "one_by_one"):
        r = results[label]
        print(f"  polling {label:<11} {r['synced_per_s']:>9,.1f} orders/s  ({r['requests']:,} requests, {r['seconds']} s)")
    speedup = results["batched"]["synced_per_s"] / results["one_by_one"]["synced_per_s"]
    print(f"  batched / one by one: x{speedup:.1f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sync-{results['database']}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
