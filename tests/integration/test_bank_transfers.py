"""Bank transfers through ``POST /hooks/sepay`` on both engines: exactly
once under replays and concurrency, matching, conversion, unmatched
transfers, bad requests."""

import asyncio
import logging
from decimal import Decimal
from itertools import count

import httpx
import orjson
import pytest

from smmpanel.api.app import ApiV2
from smmpanel.api.render import Dialect
from smmpanel.app import PanelApp
from smmpanel.domain.banktransfer import BankTerms
from smmpanel.domain.errors import AlreadyDecided, InvalidField
from smmpanel.services import accounts, audit, payments
from smmpanel.services.principal import Customer
from smmpanel.settings import Settings

pytestmark = pytest.mark.anyio

KEY = "sepay-test-key-7f3a"
ACCOUNT = "0011001932418"
USD_RATE = Decimal("0.0000393")
_ids = count(90_000)


def terms(currency: str) -> BankTerms:
    return BankTerms(bin="970415", account=ACCOUNT, account_name="CONG TY SMM", prefix="SMM", min_vnd=10_000,
                     vnd_rate=Decimal(1) if currency == "VND" else USD_RATE)


def notification(content: str, amount, *, id=None, **fields):
    body = {
        "id": next(_ids) if id is None else id, "gateway": "VietinBank", "transactionDate": "2026-11-30 12:00:00",
        "accountNumber": ACCOUNT, "code": None, "content": content, "transferType": "in",
        "transferAmount": amount, "accumulated": 19_077_000, "subAccount": None,
        "referenceCode": "FT26334123456", "description": f"BankAPINotify {content}",
    }
    return body | fields


class Hook:
    """The real app's webhook, on a test panel, over ASGI."""

    def __init__(self, panel, currency: str) -> None:
        settings = Settings(database_url="sqlite://", currency=currency, bank=terms(currency), sepay_api_key=KEY)
        self.app = PanelApp(settings)
        self.app.api = ApiV2(panel, Dialect("standard", currency), settings.max_body_bytes)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://panel")

    async def post(self, body, *, key: str | None = KEY, raw: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Apikey {key}"
        return await self.client.post("/hooks/sepay", content=raw if raw is not None else orjson.dumps(body),
                                      headers=headers)


@pytest.fixture(params=["VND", "USD"])
def currency(request):
    return request.param


async def _customer(panel, name):
    user_id, _ = await accounts.add_user(panel, name, actor="cli")
    customer = Customer.from_user_id(user_id)
    return customer, "SMM" + await payments.deposit_code(panel, customer)


async def _balance(panel, name):
    return (await accounts.user_named(panel, name))["balance_micros"]


async def test_a_transfer_credits_its_customer_once(db_url, panel_factory, currency, caplog):
    caplog.set_level(logging.INFO)
    async with panel_factory(db_url, currency) as panel:
        hook = Hook(panel, currency)
        _, content = await _customer(panel, "alice")
        await _customer(panel, "bob")
        noisy = f"MBVCB.3278907687.{content[:5].lower()} {content[5:]}.CT tu 0123456789 NGUYEN VAN A"
        body = notification(noisy, 123_457)
        reply = await hook.post(body)
        assert (reply.status_code, reply.json()) == (200, {"success": True})
        expected = 123_457_000_000 if currency == "VND" else 4_851_860  # 123457 x 0.0000393 = 4.8518601
        assert await _balance(panel, "alice") == expected
        assert await _balance(panel, "bob") == 0
        # The sender retries (it never saw our answer): acknowledged, not credited.
        assert (await hook.post(body)).json() == {"success": True}
        assert await _balance(panel, "alice") == expected
        (row,) = await payments.list_payments(panel)
        assert (row["status"], row["user_name"], row["amount_micros"], row["paid_amount"]) == (
            "credited", "alice", expected, "123457"
        )
        entry = await panel.db.fetchrow("SELECT kind, method, note FROM ledger WHERE id = $1", row["ledger_id"])
        assert tuple(entry) == ("deposit", "bank_transfer", "bank transfer, ref FT26334123456")
        assert await audit.run(panel) == []
    # Each request logged by outcome, the key in none of it.
    assert f"/hooks/sepay from 127.0.0.1: transaction {body['id']} credited" in caplog.text
    assert f"/hooks/sepay from 127.0.0.1: transaction {body['id']} duplicate" in caplog.text
    assert KEY not in caplog.text


async def test_twenty_copies_at_once_credit_once(db_url, panel_factory):
    async with panel_factory(db_url, "VND") as panel:
        hook = Hook(panel, "VND")
        _, content = await _customer(panel, "carl")
        body = notification(content, 50_000)
        replies = await asyncio.gather(*(hook.post(body) for _ in range(20)))
        assert [r.status_code for r in replies] == [200] * 20
        assert await _balance(panel, "carl") == 50_000_000_000
        assert len(await payments.list_payments(panel)) == 1
        assert await audit.run(panel) == []


async def test_twenty_different_transfers_at_once_credit_the_exact_sum(db_url, panel_factory):
    async with panel_factory(db_url, "USD") as panel:
        hook = Hook(panel, "USD")
        _, content = await _customer(panel, "dora")
        amounts = [10_000 + 7_919 * n for n in range(20)]
        replies = await asyncio.gather(*(hook.post(notification(f"{content} lan {n}", a))
                                         for n, a in enumerate(amounts)))
        assert [r.status_code for r in replies] == [200] * 20
        expected = sum(int((Decimal(a) * USD_RATE * 1_000_000).quantize(Decimal(1), "ROUND_HALF_UP"))
                       for a in amounts)
        assert await _balance(panel, "dora") == expected
        assert len(await payments.list_payments(panel, "credited")) == 20
        assert await audit.run(panel) == []


async def test_unmatched_transfers_wait_for_an_operator(db_url, panel_factory):
    async with panel_factory(db_url, "VND") as panel:
        hook = Hook(panel, "VND")
        _, content = await _customer(panel, "erin")
        _, other = await _customer(panel, "finn")
        sent = {
            "no_code": notification("chuyen tien mua iphone", 200_000),
            "unknown_code": notification("SMM234567 nap tien", 200_000),
            "below_minimum": notification(content, 9_999),
            "ambiguous_code": notification(f"{content} {other}", 300_000),
        }
        for body in sent.values():
            assert (await hook.post(body)).json() == {"success": True}
        queue = await payments.list_payments(panel, "unmatched")
        assert sorted(r["reason"] for r in queue) == sorted(sent)
        assert await _balance(panel, "erin") == await _balance(panel, "finn") == 0
        by_reason = {r["reason"]: r["id"] for r in queue}
        assert {r["reason"]: r["user_name"] for r in queue}["below_minimum"] == "erin"

        # Two operators (or a double submit) assign the same transfer at once.
        target = by_reason["no_code"]
        results = await asyncio.gather(
            *(payments.assign(panel, terms("VND"), target, "erin", f"op{n}") for n in range(3)),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["AlreadyDecided", "AlreadyDecided", "int"]
        assert await _balance(panel, "erin") == 200_000_000_000
        with pytest.raises(AlreadyDecided):
            await payments.dismiss(panel, target, "op1", "changed my mind")

        await payments.dismiss(panel, by_reason["unknown_code"], "op1", "bank returned it to the sender")
        with pytest.raises(AlreadyDecided):
            await payments.assign(panel, terms("VND"), by_reason["unknown_code"], "finn", "op2")
        with pytest.raises(InvalidField):
            await payments.dismiss(panel, by_reason["ambiguous_code"], "op1", "  ")  # a note is required
        assert await _balance(panel, "finn") == 0
        dismissed = await payments.list_payments(panel, "dismissed")
        assert [(r["note"], r["decided_by"]) for r in dismissed] == [("bank returned it to the sender", "op1")]
        # The transfer below the minimum, replayed, is still one unmatched row.
        assert (await hook.post(sent["below_minimum"])).json() == {"success": True}
        assert len(await payments.list_payments(panel, "unmatched")) == 2
        assert await audit.run(panel) == []


async def test_money_out_and_other_accounts_are_not_the_panels(db_url, panel_factory):
    async with panel_factory(db_url, "VND") as panel:
        hook = Hook(panel, "VND")
        _, content = await _customer(panel, "gina")
        for body in (notification(content, 50_000, transferType="out"),
                     notification(content, 50_000, accountNumber="999888777")):
            assert (await hook.post(body)).json() == {"success": True}
        assert await payments.list_payments(panel) == []
        # A virtual sub-account of the configured account is ours.
        assert (await hook.post(notification(content, 50_000, accountNumber="VA1", subAccount=ACCOUNT))).status_code == 200
        assert await _balance(panel, "gina") == 50_000_000_000


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"key": "wrong"}, 401, "Apikey"),
        ({"key": None}, 401, "Apikey"),
        ({"key": KEY[:-1]}, 401, "Apikey"),
        ({"raw": b"{not json"}, 400, "body"),
        ({"raw": b"[1, 2]"}, 400, "body"),
        ({"drop": "id"}, 400, "id"),
        ({"drop": "transferAmount"}, 400, "transferAmount"),
        ({"drop": "accountNumber"}, 400, "accountNumber"),
        ({"drop": "transferType"}, 400, "transferType"),
        ({"set": {"transferAmount": "50000"}}, 400, "transferAmount"),
        ({"set": {"transferAmount": 50000.5}}, 400, "transferAmount"),
        ({"set": {"transferAmount": -50000}}, 400, "transferAmount"),
        ({"set": {"transferAmount": 0}}, 400, "transferAmount"),
        ({"set": {"transferAmount": 10**15}}, 400, "transferAmount"),
        ({"set": {"transferType": "sideways"}}, 400, "transferType"),
        ({"set": {"content": 12345}}, 400, "content"),
        ({"set": {"id": True}}, 400, "id"),
        ({"set": {"id": -4}}, 400, "id"),
        ({"raw": b"{" + b'"content": "' + b"x" * 70_000 + b'"}'}, 413, "bytes"),
    ],
)
async def test_a_bad_request_is_refused_clearly_and_changes_nothing(sqlite_url, panel_factory, caplog, change,
                                                                     status, says):
    caplog.set_level(logging.INFO)
    async with panel_factory(sqlite_url, "VND") as panel:
        hook = Hook(panel, "VND")
        _, content = await _customer(panel, "hank")
        body = notification(content, 50_000)
        body.pop(change.get("drop", "-"), None)
        body |= change.get("set", {})
        reply = await hook.post(body, key=change.get("key", KEY), raw=change.get("raw"))
        assert reply.status_code == status
        assert reply.json()["success"] is False and says in reply.json()["error"]
        assert await payments.list_payments(panel) == []
        assert await _balance(panel, "hank") == 0
    assert KEY not in caplog.text and KEY[:-1] not in caplog.text
    assert "/hooks/sepay" in caplog.text


async def test_the_webhook_is_off_without_a_key(sqlite_url, panel_factory):
    async with panel_factory(sqlite_url, "VND") as panel:
        settings = Settings(database_url="sqlite://", currency="VND", bank=terms("VND"))
        app = PanelApp(settings)
        app.api = ApiV2(panel, Dialect("standard", "VND"), settings.max_body_bytes)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel") as client:
            reply = await client.post("/hooks/sepay", json=notification("SMM234567", 50_000),
                                      headers={"Authorization": "Apikey "})
        assert reply.status_code == 404
        assert await payments.list_payments(panel) == []


async def test_each_customer_keeps_one_code_and_codes_differ(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        ids = [Customer.from_user_id((await accounts.add_user(panel, f"user{n}", actor="cli"))[0]) for n in range(5)]
        first = await asyncio.gather(*(payments.deposit_code(panel, i) for i in ids for _ in range(3)))
        by_user = [set(first[n * 3:(n + 1) * 3]) for n in range(5)]
        assert all(len(s) == 1 for s in by_user)  # racing first requests agree on one code
        assert len(set().union(*by_user)) == 5
        assert [await payments.deposit_code(panel, i) for i in ids] == [s.pop() for s in by_user]


async def test_audit_ties_each_credited_transfer_to_one_deposit(db_url, panel_factory):
    async with panel_factory(db_url, "VND") as panel:
        hook = Hook(panel, "VND")
        _, content = await _customer(panel, "ivan")
        await hook.post(notification(content, 60_000))
        await hook.post(notification("no code here", 70_000))
        (waiting,) = await payments.list_payments(panel, "unmatched")
        await payments.assign(panel, terms("VND"), waiting["id"], "ivan", "op")
        await accounts.add_funds(panel, "ivan", Decimal(5), "operator's own: no payment", actor="cli")
        assert await audit.run(panel) == []
        async with panel.db.transaction() as tx:  # a careless hand unlinks an assigned transfer's deposit
            await tx.execute("UPDATE payments SET status = 'dismissed', ledger_id = NULL WHERE id = $1", waiting["id"])
        assert [f.check for f in await audit.run(panel)] == ["every deposit with a payment method has exactly one payment"]
        async with panel.db.transaction() as tx:  # ...or changes what a credited transfer says it credited
            await tx.execute("UPDATE payments SET status = 'credited', ledger_id = (SELECT MAX(id) FROM ledger "
                             "WHERE method = 'bank_transfer'), amount_micros = 1 WHERE id = $1", waiting["id"])
        assert [f.check for f in await audit.run(panel)] == [
            "every credited payment has one deposit of its method, customer and amount"
        ]
