"""Manual fulfilment end to end: the operator's CLI and the customer's HTTP
calls against one real server and database (both engines).

Covers: the Partial refund seen by the customer, repeats and contradictions
that must never refund twice, `smmpanel audit` on a clean and on a tampered
database, and the account commands a customer notices at once (disable,
rotate-key, funds adjustments, disabling a service).
"""

from __future__ import annotations

import asyncio
import json
import time
import sqlite3

import httpx
import pytest

pytestmark = pytest.mark.e2e

LINK = "https://instagram.com/p/CxYz123"


def cli_json(server, *args: str) -> dict:
    """``smmpanel ARGS --json``: must succeed and print one JSON document."""
    result = server.cli(*args, "--json")
    assert result.returncode == 0, f"smmpanel {' '.join(args)}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def cli_refused(server, *args: str) -> str:
    """``smmpanel ARGS --json`` that must fail: exit 1 and ``{"error": ...}``; returns the message."""
    result = server.cli(*args, "--json")
    assert result.returncode == 1, f"smmpanel {' '.join(args)} should fail: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)["error"]


def api(server, key: str, action: str, **params) -> object:
    reply = httpx.post(server.url, data={"key": key, "action": action, **params}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def tamper(url: str, sql: str) -> None:
    """Change a row behind the panel's back, as a careless operator with psql/sqlite3 would."""
    if url.startswith("sqlite"):
        con = sqlite3.connect(url[len("sqlite:///"):])
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
        return

    async def run() -> None:
        import asyncpg

        con = await asyncpg.connect(url)
        try:
            await con.execute(sql)
        finally:
            await con.close()

    asyncio.run(run())


def audit(server) -> tuple[int, dict, str]:
    as_json = server.cli("audit", "--json")
    as_text = server.cli("audit")
    assert as_json.returncode == as_text.returncode
    return as_json.returncode, json.loads(as_json.stdout), as_text.stdout


@pytest.fixture
def panel(db_url, server_factory):
    """A served panel with customer alice (10.00) and a refillable, cancelable service."""
    server = server_factory({"SMMPANEL_DATABASE_URL": db_url})
    key = cli_json(server, "users", "add", "alice", "--balance", "10")["api_key"]
    service = cli_json(server, "services", "add", "--name", "IG Likes", "--category", "Instagram", "--type",
                       "Default", "--rate", "1.5", "--min", "10", "--max", "10000", "--refill", "--cancel")
    return server, db_url, key, service["service"]


def test_partial_refund_is_posted_once_whatever_the_operator_does_next(panel):
    server, url, key, service = panel

    order = api(server, key, "add", service=service, link=LINK, quantity="1000")["order"]
    assert api(server, key, "balance") == {"balance": "8.50000", "currency": "USD"}
    assert api(server, key, "status", order=order) == {
        "charge": "1.50000", "start_count": "0", "status": "Pending", "remains": "1000", "currency": "USD"}

    moved = cli_json(server, "orders", "set", str(order), "--status", "In progress", "--start-count", "120")
    assert (moved["status"], moved["changed"], moved["refunded"]) == ("In progress", True, "0")
    assert api(server, key, "status", order=order)["status"] == "In progress"
    # started: the customer can no longer cancel it
    assert api(server, key, "cancel", orders=str(order)) == [
        {"order": order, "cancel": {"error": "Order is already in progress and can't be canceled"}}]

    moved = cli_json(server, "orders", "set", str(order), "--status", "Partial", "--remains", "250",
                     "--start-count", "120")
    assert moved["changed"] is True
    assert (moved["status"], moved["remains"], moved["refunded"], moved["net_charge"]) == (
        "Partial", 250, "0.375", "1.125")
    # 1.5 x 250 / 1000 = 0.375 back
    assert api(server, key, "balance") == {"balance": "8.87500", "currency": "USD"}
    assert api(server, key, "status", order=order) == {
        "charge": "1.12500", "start_count": "120", "status": "Partial", "remains": "250", "currency": "USD"}

    # The same move again: accepted as a no-op, says so, no second refund.
    again = cli_json(server, "orders", "set", str(order), "--status", "Partial", "--remains", "250")
    assert again["changed"] is False and again["refunded"] == "0.375"
    text = server.cli("orders", "set", str(order), "--status", "partial")
    assert text.returncode == 0 and "(unchanged)" in text.stdout

    # Contradictions: refused, with the rule in the message.
    assert cli_refused(server, "orders", "set", str(order), "--status", "Completed") == \
        "Status can't change from Partial to Completed"
    assert cli_refused(server, "orders", "set", str(order), "--status", "Canceled") == \
        "Status can't change from Partial to Canceled"
    assert cli_refused(server, "orders", "set", str(order), "--status", "In progress") == \
        "Status can't change from Partial to In progress"
    text = server.cli("orders", "set", str(order), "--status", "Canceled")
    assert text.returncode == 1 and "Status can't change from Partial to Canceled" in text.stderr
    # A different remains is not a new refund either: the first Partial stands.
    other = cli_json(server, "orders", "set", str(order), "--status", "Partial", "--remains", "900")
    assert other["changed"] is False and other["remains"] == 250 and other["refunded"] == "0.375"
    # More than was ordered is refused outright.
    assert cli_refused(server, "orders", "set", str(order), "--status", "Partial", "--remains", "1001") == \
        "Invalid remains: must be at most 1000"
    # The customer's cancel can't get the rest back either.
    assert api(server, key, "cancel", orders=str(order)) == [
        {"order": order, "cancel": {"error": "Order is already finished and can't be canceled"}}]

    assert api(server, key, "balance") == {"balance": "8.87500", "currency": "USD"}
    assert api(server, key, "status", order=order)["charge"] == "1.12500"
    shown = cli_json(server, "orders", "show", str(order))
    assert (shown["status"], shown["remains"], shown["charge"], shown["refunded"]) == ("Partial", 250, "1.5", "0.375")
    # Its history: the two moves that changed something, each by the CLI; no-ops and refusals left no trace.
    assert [(e["status"], e["remains"], e["start_count"], e["actor"]) for e in shown["history"]] == [
        ("In progress", 1000, 120, "cli"), ("Partial", 250, 120, "cli")]
    assert "Partial (remains 250) by cli" in server.cli("orders", "show", str(order)).stdout

    # A Partial order may be refilled; the refill moves no money.
    refill = api(server, key, "refill", order=order)
    assert refill == {"refill": refill["refill"]} and refill["refill"].isdigit()
    assert api(server, key, "refill", order=order) == {"error": "This order already has an active refill"}
    assert api(server, key, "refill_status", refill=refill["refill"]) == {"status": "Pending"}
    assert cli_json(server, "refills", "set", refill["refill"], "--status", "Completed")["status"] == "Completed"
    assert api(server, key, "refill_status", refill=refill["refill"]) == {"status": "Completed"}
    assert api(server, key, "balance")["balance"] == "8.87500"

    code, report, text = audit(server)
    assert code == 0, text
    assert report["ok"] is True and report["broken"] == []
    assert "invariants hold" in text


def test_completed_order_can_still_become_partial_once(panel):
    server, _, key, service = panel
    order = api(server, key, "add", service=service, link=LINK, quantity="2000")["order"]
    assert api(server, key, "balance")["balance"] == "7.00000"
    assert cli_json(server, "orders", "set", str(order), "--status", "Completed")["changed"] is True
    assert api(server, key, "status", order=order)["remains"] == "0"
    # the upstream recounts: 10 % was never delivered
    moved = cli_json(server, "orders", "set", str(order), "--status", "Partial", "--remains", "200")
    assert moved["refunded"] == "0.3"
    assert api(server, key, "balance")["balance"] == "7.30000"
    assert cli_refused(server, "orders", "set", str(order), "--status", "Completed") == \
        "Status can't change from Partial to Completed"
    # a negative remains is an upstream's word for over-delivery, never an operator's: refused, nothing changes
    second = api(server, key, "add", service=service, link=LINK, quantity="100")["order"]
    assert api(server, key, "balance")["balance"] == "7.15000"
    assert cli_refused(server, "orders", "set", str(second), "--status", "Partial", "--remains", "-5") == \
        "Invalid remains: must not be negative"
    assert api(server, key, "status", order=second)["status"] == "Pending"
    assert api(server, key, "balance")["balance"] == "7.15000"
    assert audit(server)[0] == 0


def test_audit_names_the_broken_invariant_and_row(panel):
    server, url, key, service = panel
    order = api(server, key, "add", service=service, link=LINK, quantity="1000")["order"]
    cli_json(server, "orders", "set", str(order), "--status", "Partial", "--remains", "500")
    assert api(server, key, "balance")["balance"] == "9.25000"
    assert audit(server)[0] == 0
    user_id = cli_json(server, "users", "list")[0]["id"]

    # 1. A balance edited by hand no longer matches its ledger.
    tamper(url, "UPDATE users SET balance_micros = balance_micros + 1000000 WHERE name = 'alice'")
    code, report, text = audit(server)
    assert code == 1
    assert report["ok"] is False
    broken = {b["check"]: b["rows"] for b in report["broken"]}
    assert list(broken) == ["balance equals the sum of ledger entries"]
    assert broken["balance equals the sum of ledger entries"] == [
        {"id": user_id, "name": "alice", "balance_micros": 10_250_000, "ledger_sum": 9_250_000}]
    assert "BROKEN: balance equals the sum of ledger entries" in text
    assert f"id={user_id}, name=alice, balance_micros=10250000, ledger_sum=9250000" in text
    tamper(url, "UPDATE users SET balance_micros = balance_micros - 1000000 WHERE name = 'alice'")
    assert audit(server)[0] == 0

    # 2. A ledger amount edited by hand: the running balance and the user's sum disagree.
    tamper(url, f"UPDATE ledger SET amount_micros = amount_micros + 1 WHERE kind = 'refund' AND order_id = {order}")
    code, report, text = audit(server)
    assert code == 1
    broken = {b["check"]: b["rows"] for b in report["broken"]}
    assert "balance equals the sum of ledger entries" in broken
    running = broken["running balance follows each entry"]
    assert len(running) == 1 and running[0]["balance_after_micros"] == 9_250_000
    assert running[0]["expected"] == 9_250_001
    refund_id = running[0]["id"]
    assert f"id={refund_id}" in text and "BROKEN: running balance follows each entry" in text
    tamper(url, f"UPDATE ledger SET amount_micros = amount_micros - 1 WHERE id = {refund_id}")
    assert audit(server)[0] == 0

    # 3. A refunded order flipped back to Completed by hand: a refund without a reason.
    tamper(url, f"UPDATE orders SET status = 'Completed' WHERE id = {order}")
    code, report, text = audit(server)
    assert code == 1
    broken = {b["check"]: b["rows"] for b in report["broken"]}
    (check,) = broken
    assert "refunds" in check and "Partial or Canceled" in check
    assert broken[check] == [{"id": refund_id, "order_id": order, "amount_micros": 750_000,
                              "charge_micros": 1_500_000, "status": "Completed"}]
    assert f"order_id={order}" in text


def test_disabled_customer_gets_invalid_api_key(panel):
    server, _, key, service = panel
    assert api(server, key, "balance")["balance"] == "10.00000"
    assert cli_json(server, "users", "disable", "alice") == {"name": "alice", "active": False}
    for action, params in (("balance", {}), ("services", {}), ("status", {"order": "1"}),
                           ("add", {"service": str(service), "link": LINK, "quantity": "100"})):
        assert api(server, key, action, **params) == {"error": "Invalid API key"}, action
    cli_json(server, "users", "enable", "alice")
    assert api(server, key, "balance")["balance"] == "10.00000"
    assert audit(server)[0] == 0


def test_rotated_key_replaces_the_old_one(panel):
    server, _, old_key, service = panel
    new_key = cli_json(server, "users", "rotate-key", "alice")["api_key"]
    assert new_key != old_key and len(new_key) >= 40
    assert api(server, old_key, "balance") == {"error": "Invalid API key"}
    assert api(server, old_key, "add", service=str(service), link=LINK, quantity="100") == {"error": "Invalid API key"}
    assert api(server, new_key, "balance") == {"balance": "10.00000", "currency": "USD"}
    assert "order" in api(server, new_key, "add", service=str(service), link=LINK, quantity="100")


def test_rotate_key_with_grace_keeps_the_old_key_working_and_prints_the_new_one_once(panel):
    server, _, old_key, service = panel
    rotated = cli_json(server, "users", "rotate-key", "alice", "--grace", "1h")
    new_key = rotated["api_key"]
    assert new_key.startswith("smm_") and rotated["old_key_until_s"] > time.time() + 3500
    assert api(server, old_key, "balance") == api(server, new_key, "balance") == {"balance": "10.00000",
                                                                                  "currency": "USD"}
    assert "order" in api(server, old_key, "add", service=str(service), link=LINK, quantity="100")
    text = server.cli("users", "rotate-key", "alice", "--grace", "30m")
    assert text.returncode == 0 and "(shown once)" in text.stdout and "the old key works until" in text.stdout
    newest = text.stdout.split("(shown once): ", 1)[1].split()[0]
    assert api(server, old_key, "balance") == {"error": "Invalid API key"}  # the second rotation ended its grace
    assert api(server, new_key, "balance")["balance"] == api(server, newest, "balance")["balance"]


def test_rotate_key_refuses_a_bad_grace_and_keeps_the_key(panel):
    server, _, key, _ = panel
    for grace in ("1w", "0h", "31d", "1.5h", "soon"):
        assert cli_refused(server, "users", "rotate-key", "alice", "--grace", grace) == (
            "Invalid --grace: must be a duration like 30m, 1h or 2d (a whole number and s, m, h or d), "
            "more than zero and at most 30d"), grace
    assert api(server, key, "balance")["balance"] == "10.00000"


def test_funds_adjustment_down_and_refusal_below_zero(panel):
    server, _, key, _ = panel
    assert cli_json(server, "funds", "add", "alice", "-5") == {"name": "alice", "amount": "-5", "balance": "5"}
    assert api(server, key, "balance")["balance"] == "5.00000"
    assert cli_refused(server, "funds", "add", "alice", "-5.000001") == \
        "Invalid amount: would take the balance below zero"
    text = server.cli("funds", "add", "alice", "-50")
    assert text.returncode == 1 and "would take the balance below zero" in text.stderr
    assert api(server, key, "balance")["balance"] == "5.00000"
    assert cli_refused(server, "funds", "add", "alice", "0") == "Invalid amount: must not be zero"
    assert cli_refused(server, "funds", "add", "nobody", "5") == "user nobody not found"
    assert cli_json(server, "funds", "add", "alice", "-5")["balance"] == "0"
    assert cli_json(server, "funds", "add", "alice", "0.000001")["balance"] == "0.000001"
    assert api(server, key, "balance")["balance"] == "0.00000"
    assert audit(server)[0] == 0


def test_disabled_service_is_an_incorrect_service_id(panel):
    server, _, key, service = panel
    assert [s["service"] for s in api(server, key, "services")] == [service]
    assert cli_json(server, "services", "set", str(service), "enabled=false")["enabled"] is False
    assert api(server, key, "add", service=str(service), link=LINK, quantity="100") == {
        "error": "Incorrect service ID"}
    assert api(server, key, "services") == []
    assert api(server, key, "balance")["balance"] == "10.00000"
    cli_json(server, "services", "set", str(service), "enabled=true")
    assert "order" in api(server, key, "add", service=str(service), link=LINK, quantity="100")
