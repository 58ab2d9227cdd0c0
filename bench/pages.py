"""Server time of each website page with 100,000 orders and 10,000 customers,
on SQLite and PostgreSQL: prints the median and p99 per page (the target is
20 ms median, 100 ms p99). Not a timed test: run ``scripts/bench-pages``.

The app runs in this process (httpx over ASGI, no network); the time per
request is the page handler's own (its ``Server-Timing`` header: session,
queries, rendering). The bench customer owns 10,000 of the orders, so its
lists, searches and statement work on a realistic share of the data; the
other 9,999 customers own the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smmpanel.app import create_app  # noqa: E402
from smmpanel.demo import DEMO_CATALOG  # noqa: E402
from smmpanel.services import auth, catalog  # noqa: E402
from smmpanel.services.panel import Panel  # noqa: E402
from smmpanel.settings import Settings  # noqa: E402
from smmpanel.store import linksearch  # noqa: E402
from smmpanel.store.db import open_database  # noqa: E402
from smmpanel.store.migrate import upgrade  # noqa: E402

CUSTOMERS = 10_000
ORDERS = 100_000
BENCH_ORDERS = 10_000  # the bench customer's share
BENCH_USER = "bench"
BENCH_PASSWORD = "bench password"
BENCH_OPERATOR = "benchop"  # signs in to the admin pages
RICH_MICROS = 10**15
DEFAULT_REQUESTS = 200
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/smmpanel_bench_pages"

# Customers: id 1 is the bench customer. Orders: the first BENCH_ORDERS are its own.
_USERS = ("INSERT INTO users (name, api_key_hash, api_key_lookup, active, balance_micros, created_at_s) "
          "SELECT CASE WHEN n = 1 THEN 'bench' ELSE 'c' || n END, 'k' || n, 'k' || n, true, {rich}, {now} FROM seq")
_ORDERS = ("INSERT INTO orders (user_id, service_id, type, link, quantity, units, params, charge_micros, status, "
           "start_count, remains, created_at_s, updated_at_s) "
           "SELECT CASE WHEN n <= {mine} THEN 1 ELSE 2 + n % ({customers} - 1) END, 1, 'Default', "
           "'https://facebook.com/post/' || n, 1000, 1000, '{{}}', 900000, "
           "CASE n % 4 WHEN 0 THEN 'Completed' WHEN 1 THEN 'In progress' WHEN 2 THEN 'Partial' ELSE 'Pending' END, "
           "1000, CASE n % 4 WHEN 0 THEN 0 WHEN 2 THEN 100 ELSE 1000 END, {now} - n, {now} - n FROM seq")
_CHARGES = ("INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, created_at_s) "
            "SELECT user_id, 'charge', -charge_micros, {rich}, id, created_at_s FROM orders")
_REFUNDS = ("INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, created_at_s) "
            "SELECT user_id, 'refund', 90000, {rich}, id, created_at_s FROM orders WHERE status = 'Partial'")
_SPENT = ("UPDATE users SET spent_micros = t.spent FROM (SELECT user_id, -SUM(amount_micros) AS spent FROM ledger "
          "WHERE kind IN ('charge', 'refund') GROUP BY user_id) t WHERE t.user_id = users.id")
_REFILLS = ("INSERT INTO refills (order_id, user_id, status, created_at_s, updated_at_s) "
            "SELECT id, user_id, 'Completed', created_at_s, created_at_s FROM orders WHERE status = 'Completed' "
            "AND id % 8 = 0")


def _seed_sql(now: int) -> list[str]:
    values = {"rich": RICH_MICROS, "now": now, "mine": BENCH_ORDERS, "customers": CUSTOMERS}
    return [sql.format(**values) for sql in (_ORDERS, _CHARGES, _REFUNDS, _SPENT, _REFILLS)]


def seed_sqlite(path: str) -> None:
    import sqlite3

    con = sqlite3.connect(path, isolation_level=None)
    now = int(time.time())
    con.execute("BEGIN")
    series = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {}) "
    con.execute(series.format(CUSTOMERS) + _USERS.format(rich=RICH_MICROS, now=now))
    first, *rest = _seed_sql(now)
    con.execute(series.format(ORDERS) + first)
    for sql in rest:
        con.execute(sql)
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()


async def seed_pg(url: str) -> None:
    import asyncpg

    con = await asyncpg.connect(url)
    now = int(time.time())
    async with con.transaction():
        await con.execute(f"WITH seq AS (SELECT generate_series(1, {CUSTOMERS}) AS n) "
                          + _USERS.format(rich=RICH_MICROS, now=now))
        first, *rest = _seed_sql(now)
        await con.execute(f"WITH seq AS (SELECT generate_series(1, {ORDERS}) AS n) " + first)
        for sql in rest:
            await con.execute(sql)
    await con.execute("VACUUM ANALYZE")
    await con.close()


async def recreate_pg(url: str) -> None:
    import asyncpg

    base, name = url.rsplit("/", 1)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"--pg-url: database name {name!r} must be a plain identifier")
    con = await asyncpg.connect(f"{base}/postgres")
    await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await con.execute(f'CREATE DATABASE "{name}"')
    await con.close()


async def prepare(url: str) -> None:
    """Add the catalog, seed customers and orders, give the bench customer a password (schema migrated)."""
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        for category, name, type_, rate, lo, hi, flags in DEMO_CATALOG:
            await catalog.add_service(panel, name=name, category=category, type=type_, rate=rate, min=lo, max=hi,
                                      **flags)
    finally:
        await db.close()
    if url.startswith("sqlite"):
        seed_sqlite(url.removeprefix("sqlite:///"))
    else:
        await seed_pg(url)
    db = await open_database(url, pg_pool_max=2)
    try:
        await linksearch.index_new_links(db, max_rows=ORDERS)  # SQLite: what the worker does after the fact
        await auth.set_password(Panel(db=db), BENCH_USER, BENCH_PASSWORD)
        await auth.register(Panel(db=db), BENCH_OPERATOR, password=BENCH_PASSWORD, role="operator", actor="bench")
    finally:
        await db.close()


def pages(order_id: int, older_than: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/"), ("GET", "/order"), ("GET", f"/order?service=3"), ("GET", "/mass-order"),
        ("GET", "/orders"), ("GET", "/orders?status=Partial"), ("GET", "/orders?q=post/12"),
        ("GET", f"/orders?q={order_id}"), ("GET", f"/orders?before={older_than}"), ("GET", f"/orders/{order_id}"),
        ("GET", "/refills"), ("GET", "/funds"), ("GET", "/api-docs"), ("GET", "/account"),
        ("POST", "/order/charge"),
    ]


def admin_pages(order_id: int, older_than: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin"), ("GET", "/admin/users"), ("GET", "/admin/users?sort=balance"),
        ("GET", "/admin/users?sort=spent"), ("GET", "/admin/users?q=c12"), ("GET", "/admin/users/1"),
        ("GET", "/admin/services"), ("GET", "/admin/services/1"), ("GET", "/admin/providers"),
        ("GET", "/admin/orders"), ("GET", "/admin/orders?status=Partial"), ("GET", "/admin/orders?q=post/12"),
        ("GET", f"/admin/orders?q={order_id}"), ("GET", "/admin/orders?user=bench"),
        ("GET", f"/admin/orders?before={older_than}"), ("GET", f"/admin/orders/{order_id}"),
        ("GET", "/admin/refills"), ("GET", "/admin/funds"),
    ]


async def _signed_in(client: httpx.AsyncClient, login: str) -> str:
    """Sign ``login`` in; returns its session's CSRF token."""
    form = (await client.get("/login")).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    signed = await client.post("/login", data={"csrf": csrf, "login": login, "password": BENCH_PASSWORD})
    assert signed.status_code == 303, signed.text
    return re.search(r'name="csrf" value="([^"]+)"', (await client.get("/account")).text).group(1)


async def _timed(client: httpx.AsyncClient, method: str, path: str, requests: int, csrf: str) -> tuple[str, float, float]:
    times = []
    for _ in range(requests):
        if method == "GET":
            response = await client.get(path)
        else:
            response = await client.post(path, data={"csrf": csrf, "service": "1", "quantity": "1000",
                                                     "link": "https://facebook.com/post/1"})
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        times.append(float(response.headers["server-timing"].split("dur=")[1]))
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return f"{method} {path}", statistics.median(times), p99


async def measure(url: str, requests: int, which: str = "all") -> list[tuple[str, float, float]]:
    os.environ.setdefault("SMMPANEL_SECRET", "bench secret")
    app = create_app(Settings(database_url=url))
    out = []
    async with app.site.router.lifespan_context(app.site):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            csrf = await _signed_in(client, BENCH_USER)
            for method, path in pages(order_id=BENCH_ORDERS // 2, older_than=BENCH_ORDERS // 3) \
                    if which in ("all", "customer") else []:
                out.append(await _timed(client, method, path, requests, csrf))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            csrf = await _signed_in(client, BENCH_OPERATOR)
            for method, path in admin_pages(order_id=ORDERS // 2, older_than=ORDERS // 3) \
                    if which in ("all", "admin") else []:
                out.append(await _timed(client, method, path, requests, csrf))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="requests per page (bounded)")
    parser.add_argument("--pages", choices=("all", "customer", "admin"), default="all",
                        help="the customer's pages, the operator's (/admin), or both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a database this script may drop and recreate")
    args = parser.parse_args(argv)
    requests = max(10, min(args.requests, 5_000))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("sqlite", "postgresql"):
            if args.only and args.only != backend:
                continue
            if backend == "sqlite":
                url = f"sqlite:///{tmp}/pages.db"
            else:
                url = args.pg_url
                asyncio.run(recreate_pg(url))
            started = time.monotonic()
            upgrade(url)
            asyncio.run(prepare(url))
            print(f"{backend}: {CUSTOMERS:,} customers, {ORDERS:,} orders seeded in {time.monotonic() - started:.1f} s",
                  flush=True)
            results[backend] = asyncio.run(measure(url, requests, args.pages))
    width = max(len(name) for rows in results.values() for name, _, _ in rows)
    print(f"\nserver time per page, ms ({requests} requests each; target: median < 20, p99 < 100)")
    header = f"{'page':<{width}}" + "".join(f"  {b + ' median':>18}  {b + ' p99':>15}" for b in results)
    print(header)
    names = [name for name, _, _ in next(iter(results.values()))]
    worst = 0.0
    for i, name in enumerate(names):
        cells = ""
        for rows in results.values():
            _, median, p99 = rows[i]
            worst = max(worst, median / 20, p99 / 100)
            cells += f"  {median:>18.2f}  {p99:>15.2f}"
        print(f"{name:<{width}}{cells}")
    print("all pages within target" if worst <= 1 else "SOME PAGES MISS THE TARGET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
