"""The operator's CLI as a newcomer meets it (issue 9, "A humane CLI"):
header rows, local times, the currency's decimals, nothing truncated, no
Python reprs, clear refusals."""

from __future__ import annotations

import json
import os
import re
import time
from decimal import Decimal

import pytest

from conftest import run_cli
from smmpanel.services import accounts, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SECRET = "cli-humane-test-secret"
LONG_CATEGORY = "Instagram / Followers / Real accounts with profile pictures"
TZ = "Asia/Ho_Chi_Minh"  # UTC+7 all year: a local time says +07:00
LOCAL_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00")


@pytest.fixture
def shop(sqlite_url, panel_factory, clock, monkeypatch):
    """A panel with a customer, a hand-fulfilled service and one resold from a simulated upstream."""
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    sim = create_simulator("68smm")
    server = SimulatorServer(sim)
    server.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(SMMPANEL_DATABASE_URL=sqlite_url, SMMPANEL_SECRET=SECRET, TZ=TZ)

    def cli(*args: str):
        return run_cli(env, *args)

    assert cli("services", "add", "--name", "Followers", "--category", LONG_CATEGORY, "--type", "Default",
               "--rate", "2.5", "--min", "10", "--max", "1000").returncode == 0
    assert cli("users", "add", "alice", "--balance", "12.3456789").returncode == 0

    async def more() -> tuple[str, int]:
        async with panel_factory(sqlite_url) as panel:
            await providers.add_provider(panel, "up1", server.url, sim.key)
            imported, _ = await providers.import_services(panel, "up1", markup_percent=Decimal(25), only=["1"])
            _, key = await accounts.add_user(panel, "bob", Decimal(50), actor="cli")
            bob = Customer.from_api_key(key)
            hand = await orders.place_order(panel, bob, {"service": 1, "link": "https://x.com/p/1", "quantity": 100})
            resold = await orders.place_order(panel, bob, {"service": imported[0].service, "quantity": 100,
                                                           "link": "https://x.com/p/2"})
            return imported[0].service, hand, resold

    import asyncio

    resold, hand_order, resold_order = asyncio.run(more())
    yield cli, resold, hand_order, resold_order
    server.stop()


def test_lists_have_a_header_row_local_times_and_display_decimals(shop):
    cli, resold, order_id, _ = shop
    users = cli("users", "list").stdout.splitlines()
    assert users[0].split() == ["ID", "NAME", "STATUS", "BALANCE", "USD", "CREATED"]
    alice = next(line for line in users if " alice " in line)
    assert "12.34568" in alice and LOCAL_ISO.search(alice)  # USD shows 5 decimals; the time is local
    orders_ = cli("orders", "list").stdout.splitlines()
    assert orders_[0].split()[:3] == ["ORDER", "CREATED", "USER"]
    line = next(line for line in orders_ if line.split()[0] == str(order_id))
    assert LOCAL_ISO.search(line) and " 0.25000 " in line  # 2.5 per 1000 x 100
    assert "created_at_s" not in cli("orders", "show", str(order_id)).stdout
    assert LOCAL_ISO.search(cli("orders", "show", str(order_id)).stdout)
    assert cli("refills", "list").stdout.strip() == "no refills"


def test_services_list_shows_provider_cost_and_margin_without_truncating(shop):
    cli, resold, _, _ = shop
    lines = cli("services", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "CATEGORY", "NAME", "TYPE", "RATE", "USD", "COST", "USD", "MARGIN", "%",
                                "MIN", "MAX", "PROVIDER", "ENABLED"]
    assert LONG_CATEGORY in lines[1]
    data = {s["service"]: s for s in json.loads(cli("services", "list", "--json").stdout)}
    ours = data[resold]
    cost, rate = Decimal(ours["cost"]), Decimal(ours["rate"])
    assert ours["provider"] == "up1" and ours["margin_percent"] == "20.0"  # a 25 % markup keeps 20 % of the price
    line = next(line for line in lines if line.split()[0] == str(resold))
    assert f"up1:{ours['provider_service']}" in line and " 20.0 " in line and str(cost.normalize()) in line
    assert rate > cost


def test_providers_list_prints_no_python_structures(shop):
    cli, _, _, _ = shop
    out = cli("providers", "list").stdout
    assert out.splitlines()[0].split()[:3] == ["ID", "NAME", "URL"]
    assert "{" not in out and "[" not in out and "None" not in out
    assert "queued 1" in out  # bob's order waits to be sent, in words


def test_amounts_that_round_to_zero_are_refused_by_name(shop):
    cli, resold, _, _ = shop
    for args, field in ((("funds", "add", "alice", "0.0000004"), "amount"),
                        (("users", "rate", "alice", "1", "0.00000049"), "rate"),
                        (("services", "set", "1", "rate=0.0000004"), "rate"),
                        (("services", "add", "--name", "Free?", "--category", "X", "--type", "Default", "--rate",
                          "0.0000001", "--min", "1", "--max", "10"), "rate")):
        result = cli(*args)
        assert result.returncode != 0
        assert f"Invalid {field}: rounds to zero (the smallest amount is 0.000001)" in result.stderr, args
    assert json.loads(cli("services", "list", "--json").stdout)[0]["rate"] == "2.5"  # nothing changed


def test_bad_upstream_state_is_refused_like_a_bad_status(shop):
    cli, _, _, _ = shop
    status = cli("orders", "list", "--status", "Bogus")
    state = cli("orders", "list", "--upstream-state", "bogus")
    assert status.returncode == state.returncode == 1
    assert "Invalid status: must be one of" in status.stderr
    assert "Invalid upstream_state: must be one of: queued, waiting_funds" in state.stderr


def test_resolve_of_an_order_not_needing_attention_says_why(shop):
    cli, _, hand_order, resold_order = shop
    for order_id, state in ((resold_order, "queued"), (hand_order, "none, fulfilled by hand")):
        result = cli("orders", "resolve", str(order_id), "--requeue")
        assert result.returncode == 1
        assert (f"Invalid order: order {order_id} does not need resolving (upstream state: {state}); "
                "only an order in needs_attention can be") in result.stderr


def test_ledger_prints_the_customers_statement(shop):
    cli, _, order_id, resold_order = shop
    assert cli("funds", "add", "bob", "-5", "--note", "correction").returncode == 0
    for args in (("ledger", "bob"), ("users", "statement", "bob")):
        lines = cli(*args).stdout.splitlines()
        charge = Decimal(json.loads(cli("orders", "show", str(resold_order), "--json").stdout)["charge"])
        balance = Decimal(50) - Decimal("0.25") - charge - 5
        assert lines[0] == f"bob: balance {balance.quantize(Decimal('0.00001'))} USD"
        assert lines[1].split()[:3] == ["ENTRY", "TIME", "KIND"]
        kinds = [line.split()[2] for line in lines[2:]]
        assert kinds == ["adjustment", "charge", "charge", "deposit"]  # newest first
        assert "-5.00000" in lines[2] and "correction" in lines[2] and LOCAL_ISO.search(lines[2])
        assert str(order_id) in lines[4]
    data = json.loads(cli("ledger", "bob", "--json").stdout)
    assert [e["amount"] for e in data["entries"]][::3] == ["-5", "50"]
    assert cli("ledger", "nobody").returncode == 1


def test_serve_names_the_database_it_creates(tmp_path):
    from conftest import start_server

    path = tmp_path / "typo.db"
    server = start_server({"SMMPANEL_DATABASE_URL": f"sqlite:///{path}"})
    server.stop()
    said = server.proc.stderr.read().decode()
    assert f"note: created a new, empty panel database at sqlite:///{path}" in said


def test_an_exchange_rate_keeps_every_digit(shop):
    cli, _, _, _ = shop
    result = cli("providers", "set", "up1", "--fx", "0.0000412", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fx"] == "0.0000412"  # not rounded to 0.000041 as if it were money
