"""The VietQR block of /funds, in-process on both engines: the quote for a
typed amount, its QR, errors at the amount field, and the balance the open
page polls rising when SePay's notification arrives."""

from __future__ import annotations

import html
import re
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest

from smmpanel.app import create_app
from smmpanel.domain.banktransfer import BankTerms
from smmpanel.domain.vietqr import payload
from smmpanel.payments.bank_transfer import qr_svg_data_uri
from smmpanel.settings import Settings
from websupport import Browser, field_error

pytestmark = pytest.mark.anyio

KEY = "web-sepay-key"
TERMS = BankTerms(bin="970436", account="1023456789", account_name="CONG TY TNHH SMM", prefix="NAP",
                  min_vnd=20_000, vnd_rate=Decimal("0.0000393"))


@pytest.fixture(autouse=True)
def panel_secret(monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")


@asynccontextmanager
async def site(db_url: str, bank: BankTerms | None = TERMS, currency: str = "USD"):
    app = create_app(Settings(database_url=db_url, currency=currency, bank=bank, sepay_api_key=KEY if bank else None))
    async with app.site.router.lifespan_context(app.site):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel.test") as client:
            yield client


def shown(page: str, attribute: str) -> str:
    return html.unescape(re.search(rf"{attribute}[^>]*>([^<]+)<", page).group(1)).strip()


async def test_a_typed_amount_shows_its_transfer_and_the_balance_rises_when_it_arrives(db_url):
    async with site(db_url) as client:
        browser = Browser(client)
        await browser.sign_up("lan")
        page = (await browser.get("/funds")).text
        assert "Bank transfer (VietQR)" in page and "data-qr" not in page  # nothing to scan before an amount
        assert "At least 20,000 VND. Rate: 1 VND = 0.0000393 USD." in page  # the rate, before anything is paid

        page = (await browser.get("/funds", params={"vnd": "250.000"})).text  # typed with a thousands separator
        content = shown(page, "data-transfer-content")
        assert re.fullmatch(r"NAP[2-9A-HJKMNP-Z]{6}", content)
        assert shown(page, "data-amount-vnd") == "250,000 VND"
        assert shown(page, "data-credit") == "9.82500 USD"  # 250,000 x 0.0000393
        assert "Vietcombank (BIN 970436)" in page and "1023456789" in page and "CONG TY TNHH SMM" in page
        expected_qr = qr_svg_data_uri(payload(bin="970436", account="1023456789", amount_vnd=250_000, purpose=content))
        assert f'src="{html.escape(expected_qr)}"' in page
        for value in ("1023456789", "250000", content):
            assert f'data-copy="{value}"' in page

        before = (await client.get("/funds/balance")).json()
        assert before == {"balance": "0.00000 USD", "balance_micros": 0}
        notice = {"id": 5001, "accountNumber": "1023456789", "content": f"IBFT {content.lower()} FT26", "code": None,
                  "transferType": "in", "transferAmount": 250_000, "subAccount": None, "referenceCode": "FT26001"}
        for _ in range(2):  # SePay's retry changes nothing
            reply = await client.post("/hooks/sepay", json=notice, headers={"Authorization": f"Apikey {KEY}"})
            assert reply.json() == {"success": True}
        assert (await client.get("/funds/balance")).json() == {"balance": "9.82500 USD", "balance_micros": 9_825_000}
        statement = (await browser.get("/funds")).text.split("Statement", 1)[1]
        assert "bank transfer, ref FT26001" in statement and "9.82500 USD" in statement


@pytest.mark.parametrize(("typed", "error"), [
    ("19999", "Invalid amount: must be at least 20000"),
    ("0", "Invalid amount: must be more than zero"),
    ("12abc", "Invalid amount: must be a whole number"),
    ("9" * 20, "Invalid amount: must be a whole number"),
])
async def test_a_bad_amount_is_shown_at_its_field_without_a_code(sqlite_url, typed, error):
    async with site(sqlite_url) as client:
        browser = Browser(client)
        await browser.sign_up("minh")
        page = (await browser.get("/funds", params={"vnd": typed})).text
        assert field_error(page, "vnd") == error
        assert "data-qr" not in page and "data-transfer-content" not in page


async def test_no_bank_block_when_the_method_is_off_and_the_balance_needs_a_session(sqlite_url):
    async with site(sqlite_url, bank=None) as client:
        assert (await client.get("/funds/balance")).status_code == 303  # to /login
        browser = Browser(client)
        await browser.sign_up("nga")
        assert "Bank transfer (VietQR)" not in (await browser.get("/funds", params={"vnd": "50000"})).text
        assert (await client.post("/hooks/sepay", json={}, headers={"Authorization": f"Apikey {KEY}"})).status_code == 404


async def test_a_vnd_panel_credits_dong_for_dong_and_shows_no_rate(sqlite_url):
    from dataclasses import replace

    async with site(sqlite_url, replace(TERMS, vnd_rate=Decimal(1)), currency="VND") as client:
        browser = Browser(client)
        await browser.sign_up("quang")
        page = (await browser.get("/funds", params={"vnd": "250000"})).text
        assert "At least 20,000 VND." in page and "Rate:" not in page
        assert shown(page, "data-credit") == "250000 VND"
