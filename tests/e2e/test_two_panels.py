"""Two real panels: B resells A over HTTP, with real server and CLI processes.

An order placed on B reaches A; A's operator marks it Partial; B's worker
syncs it and B's customer gets the undelivered share back.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from conftest import run_cli

pytestmark = pytest.mark.e2e


def cli_json(env: dict[str, str], *args: str):
    result = run_cli(env, *args, "--json", check=True)
    return json.loads(result.stdout)


def test_b_resells_a_and_refunds_the_partial(tmp_path, server_factory):
    a = server_factory({"SMMPANEL_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    b = server_factory({
        "SMMPANEL_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "SMMPANEL_SECRET_FILE": str(tmp_path / "b.secret"),
    })

    # Panel A sells "likes" at 2.00 per 1000 and has B's operator as a customer.
    service_a = cli_json(a.env, "services", "add", "--name", "A likes", "--category", "Facebook", "--type", "Default",
                         "--rate", "2", "--min", "100", "--max", "10000", "--cancel")["service"]
    reseller_key = cli_json(a.env, "users", "add", "panel-b", "--balance", "50")["api_key"]

    # Panel B registers A (encoding detected), imports its catalog with a 50% markup.
    provider = cli_json(b.env, "providers", "add", "A", "--url", a.url, "--key", reseller_key)
    assert provider["encoding"] in ("form", "json")
    assert reseller_key not in json.dumps(provider)  # the key is never shown back in full
    imported = cli_json(b.env, "providers", "import", "A", "--markup", "50")["imported"]
    assert [(i["provider_service"], i["rate"]) for i in imported] == [(str(service_a), "3")]
    service_b = imported[0]["service"]

    # Any API v2 panel can be called by hand from B's command line.
    assert cli_json(b.env, "call", a.url, reseller_key, "balance") == {"balance": "50.00000", "currency": "USD"}
    refused = run_cli(b.env, "call", a.url, "not-a-key", "balance")
    assert refused.returncode == 1 and json.loads(refused.stdout) == {"error": "Invalid API key"}

    # B's customer orders 1000 likes for 3.00.
    customer_key = cli_json(b.env, "users", "add", "carol", "--balance", "10")["api_key"]
    placed = httpx.post(b.url, data={"key": customer_key, "action": "add", "service": service_b,
                                     "link": "https://facebook.com/post/42", "quantity": 1000}).json()
    order_b = placed["order"]

    # B's worker sends it to A, once (polling forced to "always due" to keep the test short).
    report = cli_json(b.env, "worker", "--once", "--poll-interval", "0")
    assert report["placed"] == 1
    shown_b = cli_json(b.env, "orders", "show", str(order_b))
    assert shown_b["provider"] == "A" and shown_b["upstream_state"] == "placed"
    orders_a = cli_json(a.env, "orders", "list")
    assert len(orders_a) == 1
    order_a = orders_a[0]
    assert str(order_a["order"]) == shown_b["provider_order"]
    assert (order_a["link"], order_a["quantity"], order_a["charge"]) == ("https://facebook.com/post/42", 1000, "2")
    assert httpx.post(a.url, data={"key": reseller_key, "action": "balance"}).json()["balance"] == "48.00000"

    # A's operator fulfils 700 of 1000 and marks it Partial.
    cli_json(a.env, "orders", "set", str(order_a["order"]), "--status", "In progress", "--start-count", "120")
    cli_json(a.env, "orders", "set", str(order_a["order"]), "--status", "Partial", "--remains", "300")
    assert httpx.post(a.url, data={"key": reseller_key, "action": "balance"}).json()["balance"] == "48.60000"

    # B's worker polls and refunds 30% of 3.00.
    report = cli_json(b.env, "worker", "--once", "--poll-interval", "0")
    assert report["settled"] == 1
    status = httpx.post(b.url, data={"key": customer_key, "action": "status", "order": order_b}).json()
    assert status == {"charge": "2.10000", "start_count": "120", "status": "Partial", "remains": "300",
                      "currency": "USD"}
    balance = httpx.post(b.url, data={"key": customer_key, "action": "balance"}).json()["balance"]
    assert Decimal(balance) == Decimal("10") - Decimal("3") + Decimal("0.9")

    # Polling again neither refunds again nor asks A again about a finished order.
    report = cli_json(b.env, "worker", "--once", "--poll-interval", "0")
    assert report["polled"] == 0
    assert httpx.post(b.url, data={"key": customer_key, "action": "balance"}).json()["balance"] == balance

    for panel in (a, b):
        audit = run_cli(panel.env, "audit", "--json")
        assert audit.returncode == 0, audit.stdout
