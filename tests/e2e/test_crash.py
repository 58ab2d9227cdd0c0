"""A server killed (SIGKILL) in the middle of a burst of orders loses no
acknowledged order and no money: every order id a customer was given
exists after a restart, and the ledger audits clean."""

from __future__ import annotations

import asyncio
import json
import signal
from decimal import Decimal

import httpx
import pytest

from conftest import run_cli

pytestmark = pytest.mark.e2e

ORDERS = 400


async def _burst(url: str, key: str, service: int, server) -> list[int]:
    acknowledged: list[int] = []

    async def one(n: int, client: httpx.AsyncClient) -> None:
        try:
            reply = await client.post(url, data={"key": key, "action": "add", "service": service,
                                                 "link": f"https://x.com/p/{n}", "quantity": 100})
            order = reply.json().get("order")
            if order is not None:
                acknowledged.append(order)
        except httpx.HTTPError:
            pass  # cut off by the kill: not acknowledged, may or may not exist

    async def killer() -> None:
        while len(acknowledged) < ORDERS // 4:
            await asyncio.sleep(0.005)
        server.proc.send_signal(signal.SIGKILL)

    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(killer(), *(one(n, client) for n in range(ORDERS)))
    return acknowledged


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_kill_mid_burst_loses_no_acknowledged_order(engine, request, server_factory):
    url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    server = server_factory({"SMMPANEL_DATABASE_URL": url})
    service = json.loads(server.cli("services", "add", "--name", "Likes", "--category", "FB", "--type", "Default",
                                    "--rate", "1", "--min", "10", "--max", "1000", "--json").stdout)["service"]
    key = json.loads(server.cli("users", "add", "burst", "--balance", "1000", "--json").stdout)["api_key"]

    acknowledged = asyncio.run(_burst(server.url, key, service, server))
    server.proc.wait(timeout=10)
    assert ORDERS // 4 <= len(acknowledged) < ORDERS  # the kill did land mid-burst

    restarted = server_factory({"SMMPANEL_DATABASE_URL": url})
    replies = httpx.post(restarted.url, data={"key": key, "action": "status",
                                              "orders": ",".join(map(str, acknowledged[:100]))}).json()
    assert all("error" not in reply for reply in replies.values())
    listed = json.loads(run_cli(restarted.env, "orders", "list", "--limit", str(ORDERS), "--json", check=True).stdout)
    assert set(acknowledged) <= {row["order"] for row in listed}
    balance = httpx.post(restarted.url, data={"key": key, "action": "balance"}).json()["balance"]
    assert Decimal(balance) == Decimal(1000) - Decimal("0.1") * len(listed)  # each order: 1 per 1000 x 100
    audit = run_cli(restarted.env, "audit", "--json")
    assert audit.returncode == 0, audit.stdout
