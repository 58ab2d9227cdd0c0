"""``smmpanel payments simulate``: what it sends, without a running panel.
The request is caught where it would leave (``httpx.post``) and handed to
the webhook's own verification, so the two can't drift apart."""

import json
import os

import httpx
import pytest
from click.testing import CliRunner

from smmpanel.cli import main
from smmpanel.payments.bank_transfer import BankTransferMethod
from smmpanel.settings import Settings

KEY = "simulate-key-5d1e"
BANK_ENV = {"SMMPANEL_VIETQR_BIN": "970415", "SMMPANEL_VIETQR_ACCOUNT": "0011001932418",
            "SMMPANEL_VIETQR_NAME": "CONG TY SMM", "SMMPANEL_CURRENCY": "VND", "SMMPANEL_SEPAY_API_KEY": KEY}
SEPAY_FIELDS = {"id", "gateway", "transactionDate", "accountNumber", "code", "content", "transferType",
                "transferAmount", "accumulated", "subAccount", "referenceCode", "description"}


@pytest.fixture
def sent(monkeypatch):
    """Every request ``simulate`` makes, answered as a panel would."""
    requests = []

    def post(url, *, content, headers, timeout):
        requests.append({"url": url, "body": content, "headers": headers})
        return httpx.Response(200, json={"success": True})

    monkeypatch.setattr(httpx, "post", post)
    for name in list(os.environ):
        if name.startswith("SMMPANEL_"):
            monkeypatch.delenv(name)
    return requests


def _serve_default_url() -> str:
    options = {p.name: p.default for p in main.commands["serve"].params}
    return f"http://{options['host']}:{options['port']}"


def test_by_default_it_posts_an_authentic_notification_to_the_local_panel(sent):
    result = CliRunner().invoke(main, ["payments", "simulate", "--code", "SMMK7QX2M", "--amount", "50000", "--json"],
                                env=BANK_ENV)
    assert result.exit_code == 0, result.output
    (request,) = sent
    assert request["url"] == _serve_default_url() + "/hooks/sepay"
    body = json.loads(request["body"])
    assert set(body) == SEPAY_FIELDS
    assert (body["content"], body["transferAmount"], body["transferType"], body["accountNumber"]) == (
        "SMMK7QX2M", 50_000, "in", "0011001932418")
    assert isinstance(body["id"], int)
    # What the panel's webhook would do with it: authenticated, and read as sent.
    settings = Settings.from_env(BANK_ENV)
    method = BankTransferMethod(settings.bank, settings.sepay_api_key)
    transfer = method.verify({k.lower(): v for k, v in request["headers"].items()}, request["body"])
    assert (transfer.external_id, transfer.amount_vnd, transfer.content, transfer.incoming) == (
        str(body["id"]), 50_000, "SMMK7QX2M", True)
    reply = json.loads(result.output)
    assert reply == {"status": 200, "reply": {"success": True}, "transaction": str(body["id"])}
    assert KEY not in result.output


def test_a_given_id_is_sent_again_as_the_same_transaction(sent):
    for _ in range(2):
        result = CliRunner().invoke(main, ["payments", "simulate", "--code", "SMMK7QX2M", "--amount", "50000",
                                           "--url", "http://panel.example:9000/", "--id", "4242"], env=BANK_ENV)
        assert result.exit_code == 0, result.output
    assert [r["url"] for r in sent] == ["http://panel.example:9000/hooks/sepay"] * 2
    assert [json.loads(r["body"])["id"] for r in sent] == [4242, 4242]


def test_without_the_bank_settings_it_sends_nothing_and_says_what_is_missing(sent):
    result = CliRunner().invoke(main, ["payments", "simulate", "--code", "SMMK7QX2M", "--amount", "50000"],
                                env={k: v for k, v in BANK_ENV.items() if k != "SMMPANEL_SEPAY_API_KEY"})
    assert result.exit_code != 0
    assert "SMMPANEL_SEPAY_API_KEY" in result.output
    assert sent == []
