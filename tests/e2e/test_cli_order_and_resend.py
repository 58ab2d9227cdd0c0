"""The operator's CLI for the catalog's order (``services move``,
``categories list|move``) and for sending orders to another provider
(``orders resend``), on both databases."""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal

import pytest

from conftest import run_cli
from smmpanel.services import accounts, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = pytest.mark.e2e

SECRET = "cli-order-resend-secret"


@pytest.fixture
def cli(db_url, monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(SMMPANEL_DATABASE_URL=db_url, SMMPANEL_SECRET=SECRET)

    def run(*args: str):
        return run_cli(env, *args)

    return run


def as_json(cli, *args: str, code: int = 0):
    result = cli(*args, "--json")
    assert result.returncode == code, f"{args}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def names(cli) -> list[str]:
    return [s["name"] for s in as_json(cli, "services", "list")]


def test_services_and_categories_move_and_the_list_follows(cli):
    for category, name in (("FB", "Likes"), ("IG", "Followers"), ("FB", "Shares")):
        as_json(cli, "services", "add", "--name", name, "--category", category, "--type", "Default", "--rate", "1",
                "--min", "1", "--max", "10")
    assert names(cli) == ["Likes", "Shares", "Followers"]
    assert as_json(cli, "services", "move", "3", "--up") == {"service": 3, "position": 1}
    cats = as_json(cli, "categories", "list")
    assert [(c["name"], c["position"], c["services"]) for c in cats] == [("FB", 1, 2), ("IG", 2, 1)]
    ig = cats[1]["category"]
    assert as_json(cli, "categories", "move", str(ig), "--position", "1") == {"category": ig, "position": 1}
    assert names(cli) == ["Followers", "Shares", "Likes"]
    text = cli("categories", "list")
    assert text.returncode == 0 and text.stdout.splitlines()[0].split() == ["#", "ID", "NAME", "SERVICES"]
    assert "service 1 is now #1 of its category" in cli("services", "move", "1", "--up").stdout
    # Refusals name what is wrong and change nothing.
    assert as_json(cli, "services", "move", "1", "--up", "--down", code=1)["error"] == \
        "Invalid move: must be one of: up, down, position N"
    assert as_json(cli, "services", "move", "1", "--position", "0", code=1)["error"] == \
        "Invalid position: must be at least 1"
    assert as_json(cli, "categories", "move", "99", "--up", code=1)["error"] == "category 99 not found"
    assert names(cli) == ["Followers", "Likes", "Shares"]


def test_orders_resend_moves_what_never_reached_upstream_and_says_why_for_the_rest(cli, db_url, panel_factory):
    sims = [create_simulator("68smm") for _ in range(2)]
    servers = [SimulatorServer(sim) for sim in sims]
    for server in servers:
        server.start()
    try:
        async def setup() -> list[int]:
            async with panel_factory(db_url) as panel:
                for name, server, sim in zip(("first", "second"), servers, sims):
                    await providers.add_provider(panel, name, server.url, sim.key, timeout_s=1)
                [imported], _ = await providers.import_services(panel, "first", only=["1"])
                _, key = await accounts.add_user(panel, "bob", Decimal(50), actor="cli")
                bob = Customer.from_api_key(key)
                ids = [await orders.place_order(panel, bob, {"service": imported.service, "quantity": 100,
                                                             "link": f"https://x.com/p/{i}"}) for i in range(3)]
                # Placed upstream already (it has an upstream id), and a lost answer (no proof either way).
                await panel.db.execute("UPDATE orders SET upstream_state = 'placed', provider_order = '77', "
                                       "attempts = 1 WHERE id = $1", ids[1])
                await panel.db.execute("UPDATE orders SET upstream_state = 'needs_attention', attempts = 1 "
                                       "WHERE id = $1", ids[2])
                return ids

        fresh, placed, unknown = asyncio.run(setup())
        result = as_json(cli, "orders", "resend", str(fresh), str(placed), str(unknown), "--provider", "second",
                         "--service", "1", code=3)
        assert result == [
            {"order": fresh, "moved": True},
            {"order": placed, "moved": False, "error": "refused: it exists upstream as order 77"},
            {"order": unknown, "moved": False, "error": "refused: it may exist upstream (1 of its 1 sends got no "
                                                        "proof that no order was made); check with the provider, "
                                                        "then resolve it"}]
        shown = as_json(cli, "orders", "show", str(fresh))
        assert (shown["provider"], shown["upstream_state"]) == ("second", "queued")
        assert [(e["actor"], e["note"].split(" (")[0]) for e in shown["history"]] == [
            ("cli", "resent to second service 1")]
        # Moving it where it already is: refused with its reason (exit 3, as for any refused order).
        text = cli("orders", "resend", str(fresh), "--provider", "second", "--service", "1")
        assert text.returncode == 3
        assert text.stdout.strip() == f"order {fresh}: refused: it is already at provider second, service 1"
        assert cli("orders", "resend", str(fresh), "--provider", "second", "--service", "2").returncode == 0
        # A provider that does not exist: refused before anything is read.
        assert as_json(cli, "orders", "resend", str(fresh), "--provider", "nobody", "--service", "1",
                       code=1) == {"error": "provider nobody not found"}
    finally:
        for server in servers:
            server.stop()
