"""Adding funds end to end, on a real server and database (both engines):
a customer's deposit code from ``users show``, ``payments simulate`` posting
SePay's notification over HTTP, the balance the customer's API key sees,
replays and 20 simultaneous copies, the unmatched queue and funds requests
through the CLI, and ``smmpanel audit``."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from conftest import run_cli

pytestmark = pytest.mark.e2e

BANK_ENV = {
    "SMMPANEL_VIETQR_BIN": "970415",
    "SMMPANEL_VIETQR_ACCOUNT": "0011001932418",
    "SMMPANEL_VIETQR_NAME": "CONG TY SMM",
    "SMMPANEL_SEPAY_API_KEY": "e2e-sepay-key",
    "SMMPANEL_VND_RATE": "0.0000393",
}


def cli_json(server, *args: str, ok: bool = True) -> dict:
    result = server.cli(*args, "--json")
    assert (result.returncode == 0) == ok, f"smmpanel {' '.join(args)}: {result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def balance(server, key: str) -> Decimal:
    """What the customer's key sees (shown to 5 decimals in USD)."""
    reply = httpx.post(server.url, data={"key": key, "action": "balance"}, timeout=30).json()
    return Decimal(reply["balance"])


def exact_balance(server, name: str) -> Decimal:
    return Decimal(cli_json(server, "users", "show", name)["balance"])


def test_simulated_transfers_credit_once_and_the_queue_works(db_url, server_factory):
    server = server_factory({"SMMPANEL_DATABASE_URL": db_url, **BANK_ENV})
    base = server.url.rsplit("/api/v2", 1)[0]
    key = cli_json(server, "users", "add", "alice")["api_key"]
    shown = cli_json(server, "users", "show", "alice")
    code = shown["deposit_code"]
    assert code.startswith("SMM") and len(code) == 9
    assert cli_json(server, "users", "show", "alice")["deposit_code"] == code  # one code, kept

    sent = cli_json(server, "payments", "simulate", "--code", code, "--amount", "50000", "--url", base)
    assert (sent["status"], sent["reply"]) == (200, {"success": True})
    assert balance(server, key) == Decimal("1.965")  # 50,000 x 0.0000393
    # SePay's retry of the same transaction changes nothing.
    again = cli_json(server, "payments", "simulate", "--code", code, "--amount", "50000", "--url", base,
                     "--id", sent["transaction"])
    assert again["reply"] == {"success": True}
    assert balance(server, key) == Decimal("1.965")

    # 20 copies of one notification at once over HTTP, and 20 different ones.
    def post(n_and_id):
        n, ident = n_and_id
        body = {"id": ident, "accountNumber": BANK_ENV["SMMPANEL_VIETQR_ACCOUNT"], "content": f"{code} lan {n}",
                "transferType": "in", "transferAmount": 100_000 + n, "subAccount": None, "code": None}
        return httpx.post(f"{base}/hooks/sepay", json=body, timeout=30,
                          headers={"Authorization": f"Apikey {BANK_ENV['SMMPANEL_SEPAY_API_KEY']}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(post, [(0, 777)] * 20)) == [200] * 20
        assert list(pool.map(post, [(n, 1000 + n) for n in range(1, 21)])) == [200] * 20
    expected = Decimal("1.965") + Decimal("3.93") + sum(
        (Decimal(100_000 + n) * Decimal("0.0000393")).quantize(Decimal("0.000001"), "ROUND_HALF_UP") for n in range(1, 21)
    )
    assert exact_balance(server, "alice") == expected

    # An unmatched transfer: listed, assigned once from the CLI.
    cli_json(server, "payments", "simulate", "--code", "chuyen tien", "--amount", "20000", "--url", base)
    (waiting,) = cli_json(server, "payments", "list", "--status", "unmatched")
    assert (waiting["reason"], waiting["paid"]) == ("no_code", "20000 VND")
    assert cli_json(server, "payments", "assign", str(waiting["id"]), "alice")["credited"] == "0.786"
    refused = cli_json(server, "payments", "assign", str(waiting["id"]), "alice", ok=False)
    assert "already credited" in refused["error"]
    assert exact_balance(server, "alice") == expected + Decimal("0.786")
    assert balance(server, key) == (expected + Decimal("0.786")).quantize(Decimal("0.00001"), "ROUND_HALF_UP")

    assert cli_json(server, "audit")["ok"] is True


def test_a_wrong_key_is_refused_and_changes_nothing(sqlite_url, server_factory):
    server = server_factory({"SMMPANEL_DATABASE_URL": sqlite_url, **BANK_ENV})
    base = server.url.rsplit("/api/v2", 1)[0]
    key = cli_json(server, "users", "add", "bob")["api_key"]
    code = cli_json(server, "users", "show", "bob")["deposit_code"]
    guessed = run_cli({**server.env, "SMMPANEL_SEPAY_API_KEY": "guessed"}, "payments", "simulate", "--code", code,
                      "--amount", "50000", "--url", base, "--json")
    assert guessed.returncode == 1 and json.loads(guessed.stdout)["status"] == 401
    assert balance(server, key) == 0
    assert cli_json(server, "payments", "list") == []
