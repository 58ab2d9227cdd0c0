#!/usr/bin/env python3
"""Crash test (run it with ``scripts/crash``): load, faults and SIGKILL.

A panel reselling a simulated upstream (in this process, on 127.0.0.1) that
moves orders along by itself, finishes some Partial or Canceled, and has
faults injected into its replies (timeouts and dropped connections before
and after creating, HTTP 500s, garbled bodies, slow replies). Against it:
server processes and worker processes (SQLite: one of each; PostgreSQL: two
of each), and clients sending ``add``, ``addBulk``, ``cancel``, ``refill``
and ``status`` without pause. Meanwhile a killer sends SIGKILL to a random
server or worker at random moments and starts it again, until each kind was
killed ``--kills`` times. Then the load stops, the workers get time to
settle, and the script checks:

* every order acknowledged to a client exists, with its link, and was
  charged exactly once (lost: 0);
* half the adds carry an ``Idempotency-Key``; one cut off by a kill is sent
  again with its key (to any server) until it is answered, and no key made
  two orders (keyed twice: 0);
* no order was created upstream twice (each order has its own link, and the
  simulator records every order it created: duplicated: 0);
* no order was refunded more than once;
* ``smmpanel audit`` is clean.

Prints a table of the figures; exits 1 if one is wrong. Bounded: a load
loop stops with the killer, and the whole run has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from common import drop_pg_database, free_port, scratch_pg_database, stop
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.store.db import open_database
from smmpanel.store.migrate import upgrade

BIN = Path(sys.executable).parent
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CLIENTS = 8
KILL_GAP_S = (0.4, 1.6)  # random pause between two kills
FAULT_GAP_S = 0.3
START_TIMEOUT_S = 30
SETTLE_S = 40  # after the load: time for the workers to place and poll what is left
RUN_DEADLINE_S = 1800
UPSTREAM_PROGRESS_S = 1.0
KEYED_SENDS = 20  # an add under a key, cut off by kills, is sent again up to this many times
RETRYABLE_STATUSES = (429, 503)
FAULTS = ["timeout_before_create", "timeout_after_create", "drop_before_create", "drop_after_create", "http_500",
          "http_500_after_create", "garbled", "slow"]
FAULTED_ACTIONS = ["add", "status", "cancel", "refill", "*"]


def cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([str(BIN / "smmpanel"), *args, "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"smmpanel {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return json.loads(done.stdout)


class Process:
    """A server or worker that the killer kills and starts again."""

    def __init__(self, kind: str, env: dict[str, str], logdir: Path, n: int) -> None:
        self.kind, self.env, self.n = kind, env, n
        self.port = free_port() if kind == "server" else None
        self.log = open(logdir / f"{kind}{n}.log", "a")
        self.proc: subprocess.Popen | None = None
        self.kills = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def start(self) -> None:
        if self.kind == "server":
            command = [str(BIN / "smmpanel"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            command = [str(BIN / "smmpanel"), "worker", "--poll-interval", "1"]
        self.proc = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=self.log)
        if self.kind == "server":
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    time.sleep(0.1)
            raise SystemExit(f"server {self.n} did not come back in time")

    def kill_and_restart(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        stop(self.proc)


class Load:
    def __init__(self, servers: list[Process], key: str, services: list[int], manual: int) -> None:
        self.servers, self.key, self.services, self.manual = servers, key, services, manual
        self.acknowledged: dict[int, str] = {}  # order id -> link
        self.keyed: dict[str, int | None] = {}  # link of an add sent under a key -> its order (None: no answer)
        self.keyed_resent = 0  # keyed adds answered only after being sent again
        self.requests = 0
        self.cut_off = 0  # requests that got no reply (a kill, a restart)
        self.stop = threading.Event()

    def _link(self) -> str:
        return f"https://x.com/crash/{uuid.uuid4().hex}"

    async def _one(self, client: httpx.AsyncClient) -> None:
        url = random.choice(self.servers).url
        roll = random.random()
        known = list(self.acknowledged) or [1]
        if roll < 0.45:
            link = self._link()
            service = random.choice(self.services + [self.manual])
            fields = {"key": self.key, "action": "add", "service": service, "link": link, "quantity": 100}
            if random.random() < 0.5:
                await self._keyed_add(client, fields)
                return
            reply = await client.post(url, data=fields)
            order = reply.json().get("order")
            if isinstance(order, int):
                self.acknowledged[order] = link
        elif roll < 0.55:
            links = [self._link() for _ in range(random.randint(2, 5))]
            reply = await client.post(url, json={"key": self.key, "action": "addBulk",
                                                 "service": random.choice(self.services), "links": links,
                                                 "quantity": 100})
            for created in reply.json().get("created", []):
                self.acknowledged[created["order"]] = created["link"]
        elif roll < 0.7:
            ids = random.sample(known, min(len(known), 3))
            await client.post(url, data={"key": self.key, "action": "cancel", "orders": ",".join(map(str, ids))})
        elif roll < 0.8:
            await client.post(url, data={"key": self.key, "action": "refill", "order": random.choice(known)})
        else:
            ids = random.sample(known, min(len(known), 50))
            await client.post(url, data={"key": self.key, "action": "status", "orders": ",".join(map(str, ids))})

    async def _keyed_add(self, client: httpx.AsyncClient, fields: dict[str, Any]) -> None:
        """An add as a retrying client sends it: the same key and fields
        again after a cut-off or a retryable refusal, until it is answered."""
        link, headers = fields["link"], {"Idempotency-Key": uuid.uuid4().hex}
        self.keyed[link] = None
        for send in range(KEYED_SENDS):
            if send:  # the loop counted the first
                self.requests += 1
            try:
                reply = await client.post(random.choice(self.servers).url, data=fields, headers=headers)
                if reply.status_code in RETRYABLE_STATUSES:
                    raise ValueError(reply.status_code)
                order = reply.json().get("order")
            except (httpx.HTTPError, ValueError):
                self.cut_off += 1
                await asyncio.sleep(0.2)
                continue
            if isinstance(order, int):
                self.acknowledged[order] = link
                self.keyed[link] = order
                if send:
                    self.keyed_resent += 1
            return

    async def _client_loop(self) -> None:
        async with httpx.AsyncClient(timeout=15) as client:
            while not self.stop.is_set():
                self.requests += 1
                try:
                    await self._one(client)
                except (httpx.HTTPError, ValueError):
                    self.cut_off += 1  # no (whole) reply: not acknowledged
                    await asyncio.sleep(0.05)

    def run(self) -> None:
        async def main() -> None:
            await asyncio.gather(*(self._client_loop() for _ in range(CLIENTS)))

        asyncio.run(main())


def upstream_chaos(sim: Any, stop: threading.Event) -> None:
    """Faults in the upstream's replies, and some orders finished Partial or Canceled there."""
    while not stop.wait(FAULT_GAP_S):
        sim.inject(random.choice(FAULTED_ACTIONS), random.choice(FAULTS))
        created = sim.created_orders
        if created:
            target = random.choice(created[-200:]).order_id
            try:
                if random.random() < 0.5:
                    sim.set_order(target, status="Partial", remains=random.randint(1, 99), start_count=5)
                else:
                    sim.set_order(target, status="Canceled")
            except Exception:  # already final there: the simulator refuses, which is fine
                pass


async def findings(url: str, acknowledged: dict[int, str], keyed: dict[str, int | None]) -> dict[str, Any]:
    db = await open_database(url, pg_pool_max=2)
    try:
        rows = {r["id"]: r for r in await db.fetch(
            "SELECT o.id, o.link, (SELECT COUNT(*) FROM ledger l WHERE l.order_id = o.id AND l.kind = 'charge') "
            "AS charges FROM orders o")}
        twice_refunded = await db.fetchval(
            "SELECT COUNT(*) FROM (SELECT order_id FROM ledger WHERE kind = 'refund' GROUP BY order_id "
            "HAVING COUNT(*) > 1) t")
        refunds = await db.fetchval("SELECT COUNT(*) FROM ledger WHERE kind = 'refund'")
        states = {r["upstream_state"]: int(r["n"]) for r in await db.fetch(
            "SELECT upstream_state, COUNT(*) AS n FROM orders WHERE upstream_state IS NOT NULL GROUP BY 1")}
    finally:
        await db.close()
    lost = [i for i, link in acknowledged.items() if i not in rows or rows[i]["link"] != link]
    wrong_charge = [i for i, r in rows.items() if int(r["charges"]) != 1]
    orders_per_link = Counter(r["link"] for r in rows.values())
    keyed_twice = [link for link in keyed if orders_per_link[link] > 1]
    return {"orders": len(rows), "lost": lost, "wrong_charge": wrong_charge, "twice_refunded": int(twice_refunded),
            "refunds": int(refunds), "states": states, "keyed_twice": keyed_twice}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of servers, and of workers, at least")
    parser.add_argument("--servers", type=int, default=None, help="default: 1 on SQLite, 2 on PostgreSQL")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 on SQLite, 2 on PostgreSQL")
    parser.add_argument("--settle", type=float, default=SETTLE_S)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pg-admin-url", default=os.environ.get("SMMPANEL_CRASH_PG_URL", DEFAULT_PG_ADMIN_URL))
    args = parser.parse_args()
    seed_value = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    random.seed(seed_value)
    n_servers = args.servers or (2 if args.engine == "postgresql" else 1)
    n_workers = args.workers or (2 if args.engine == "postgresql" else 1)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="smmpanel-crash-"))
    print(f"crash: {args.engine}, {n_servers} servers, {n_workers} workers, {args.kills} kills each, "
          f"seed {seed_value}, logs in {workdir}", flush=True)

    pg_name = None
    if args.engine == "sqlite":
        url = f"sqlite:///{workdir / 'panel.db'}"
    else:
        pg_name, url = scratch_pg_database(args.pg_admin_url, "smmpanel_crash")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update({"SMMPANEL_DATABASE_URL": url, "SMMPANEL_SECRET": "crash", "SMMPANEL_LOG_LEVEL": "warning",
                "SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "1"})

    sim = create_simulator("standard", balance=Decimal("100000000"), hang_s=1.0, slow_s=0.5)
    sim.auto_progress(UPSTREAM_PROGRESS_S)
    processes: list[Process] = []
    chaos_stop = threading.Event()
    try:
        with SimulatorServer(sim) as upstream:
            upgrade(url)
            cli(env, "providers", "add", "up", "--url", upstream.url, "--key", sim.key, "--encoding", "form",
                "--timeout", "3")
            imported = cli(env, "providers", "import", "up", "--markup", "10")["imported"]
            services = [i["service"] for i in imported if i["type"] == "Default" and int(i["min"]) <= 100 <= int(i["max"])]
            manual = cli(env, "services", "add", "--name", "Manual", "--category", "M", "--type", "Default",
                         "--rate", "1", "--min", "10", "--max", "1000", "--refill", "--cancel")["service"]
            key = cli(env, "users", "add", "crash", "--balance", "10000000")["api_key"]
            servers = [Process("server", env, workdir, n) for n in range(n_servers)]
            workers = [Process("worker", env, workdir, n) for n in range(n_workers)]
            processes = servers + workers

            load = Load(servers, key, services, manual)
            loader = threading.Thread(target=load.run, daemon=True)
            chaos = threading.Thread(target=upstream_chaos, args=(sim, chaos_stop), daemon=True)
            loader.start()
            chaos.start()
            while (sum(s.kills for s in servers) < args.kills or sum(w.kills for w in workers) < args.kills) \
                    and time.monotonic() - started < RUN_DEADLINE_S:
                time.sleep(random.uniform(*KILL_GAP_S))
                need_server = sum(s.kills for s in servers) < args.kills
                need_worker = sum(w.kills for w in workers) < args.kills
                pool = servers if need_server and (not need_worker or random.random() < 0.5) else workers
                random.choice(pool).kill_and_restart()
            load.stop.set()
            loader.join(timeout=60)
            chaos_stop.set()
            chaos.join(timeout=10)
            sim.clear_faults()
            time.sleep(args.settle)  # the workers place, poll and refund what is left, without faults
            for process in processes:
                process.stop()
            result = asyncio.run(findings(url, load.acknowledged, load.keyed))
            links = Counter(str(c.params.get("link")) for c in sim.created_orders)
            duplicated = sum(1 for n in links.values() if n > 1)
            audit = subprocess.run([str(BIN / "smmpanel"), "audit", "--json"], env=env, capture_output=True,
                                   text=True)
    finally:
        chaos_stop.set()
        for process in processes:
            process.stop()
        if pg_name is not None:
            drop_pg_database(args.pg_admin_url, pg_name)

    audit_ok = audit.returncode == 0 and json.loads(audit.stdout).get("ok") is True
    kills_server = sum(s.kills for s in servers)
    kills_worker = sum(w.kills for w in workers)
    rows = [
        ("engine", f"{args.engine} ({n_servers} servers, {n_workers} workers)"),
        ("server kills (SIGKILL)", kills_server),
        ("worker kills (SIGKILL)", kills_worker),
        ("client requests", load.requests),
        ("  without a reply (kills)", load.cut_off),
        ("acknowledged orders", len(load.acknowledged)),
        ("  of them keyed adds", sum(1 for order in load.keyed.values() if order is not None)),
        ("  answered after a resend", load.keyed_resent),
        ("orders in the database", result["orders"]),
        ("created upstream", len(sim.created_orders)),
        ("lost (acknowledged, missing)", len(result["lost"])),
        ("charged other than once", len(result["wrong_charge"])),
        ("one key, two orders", len(result["keyed_twice"])),
        ("duplicated upstream", duplicated),
        ("refunds", result["refunds"]),
        ("refunded more than once", result["twice_refunded"]),
        ("upstream states at the end", ", ".join(f"{k} {v}" for k, v in sorted(result["states"].items()))),
        ("smmpanel audit", "clean" if audit_ok else "BROKEN"),
        ("seconds", round(time.monotonic() - started)),
    ]
    print()
    print(f"crash results (seed {seed_value})")
    for name, figure in rows:
        print(f"  {name:<30} {figure}")
    if not audit_ok:
        print(audit.stdout[-2000:])
    ok = (audit_ok and not result["lost"] and not result["wrong_charge"] and duplicated == 0 and not result["keyed_twice"]
          and result["twice_refunded"] == 0 and kills_server >= args.kills and kills_worker >= args.kills
          and len(load.acknowledged) > 0)
    print("  verdict:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
