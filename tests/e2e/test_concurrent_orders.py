"""Fifty customers' `add` calls in flight at once never overspend a balance.

A real ``smmpanel serve`` process (two of them on PostgreSQL) gets 50 `add`
calls over HTTP, all started together, against a balance that covers exactly
10 orders. Exactly 10 orders exist afterwards, the balance is exactly zero,
the other 40 calls were told "Not enough funds on balance", and
``smmpanel audit`` is clean.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from smmpanel.domain.money import plain

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CALLS = 50
AFFORDABLE = 10
RATE = "123.457"  # per 1000: one unit costs 0.123457, an odd number of micro-units
PRICE_MICROS = 123_457


def cli_json(server, *args: str):
    """Run ``smmpanel ARGS --json`` against the server's database; it must succeed."""
    result = server.cli(*args, "--json")
    assert result.returncode == 0, f"smmpanel {' '.join(args)}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(params=[
    pytest.param(("sqlite", 1), id="sqlite"),
    pytest.param(("postgresql", 2), id="postgresql-2-workers", marks=pytest.mark.postgres),
])
def engine(request):
    kind, workers = request.param
    url = request.getfixturevalue("sqlite_url" if kind == "sqlite" else "pg_url")
    return url, workers


@pytest.mark.parametrize("deny_duplicate_link", [False, True], ids=["plain", "link-guard"])
async def test_fifty_concurrent_adds_spend_exactly_the_balance(engine, deny_duplicate_link, server_factory):
    url, workers = engine
    server = server_factory({"SMMPANEL_DATABASE_URL": url}, workers=workers)
    balance = plain(PRICE_MICROS * AFFORDABLE)  # "1.23457": exactly ten orders
    key = cli_json(server, "users", "add", "racer", "--balance", balance)["api_key"]
    args = ["services", "add", "--name", "Views", "--category", "YT", "--type", "Default", "--rate", RATE,
            "--min", "1", "--max", "100"]
    if deny_duplicate_link:
        # the other placement path: a transaction that first checks the link
        args.append("--deny-duplicate-link")
    service = cli_json(server, *args)["service"]

    limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=CALLS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def add(i: int) -> dict:
            reply = await client.post(server.url, data={
                "key": key, "action": "add", "service": service,
                "link": f"https://youtube.com/watch?v=clip{i}", "quantity": "1",
            })
            assert reply.status_code == 200, reply.text
            assert reply.headers["content-type"].startswith("application/json")
            return reply.json()

        replies = await asyncio.gather(*(add(i) for i in range(CALLS)))

        ok = [r["order"] for r in replies if "order" in r]
        refused = [r for r in replies if "order" not in r]
        assert len(ok) == AFFORDABLE, replies
        assert len(set(ok)) == AFFORDABLE
        assert refused == [{"error": "Not enough funds on balance"}] * (CALLS - AFFORDABLE)

        balance_reply = (await client.post(server.url, data={"key": key, "action": "balance"})).json()
        assert balance_reply == {"balance": "0.00000", "currency": "USD"}

        statuses = (await client.post(server.url, data={
            "key": key, "action": "status", "orders": ",".join(map(str, ok))})).json()
        assert {s["charge"] for s in statuses.values()} == {"0.12346"}
        assert {s["status"] for s in statuses.values()} == {"Pending"}

    listed = cli_json(server, "orders", "list", "--user", "racer")
    assert sorted(o["order"] for o in listed) == sorted(ok)
    assert {o["charge"] for o in listed} == {"0.123457"}
    users = cli_json(server, "users", "list")
    assert [u["balance"] for u in users if u["name"] == "racer"] == ["0"]

    audit = server.cli("audit", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["ok"] is True
