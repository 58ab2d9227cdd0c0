"""Issue 11's acceptance in a real browser (headless Chromium) against a real
server: a customer opens /funds, types an amount, sees the QR (decoded here
from the rendered image: payload and CRC checked) and the transfer content;
a simulated SePay notification arrives; the balance on the open page rises
by the exact converted amount without a reload; the statement shows the
deposit; the same notification replayed changes nothing."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from smmpanel.domain.vietqr import parse

# The customer site's browser harness (chromium, pages, sign-up), shared.
from test_web_browser import CHROMIUM, SCREENSHOTS, expect, new_page, sign_up, sync_api  # noqa: E402

pytestmark = pytest.mark.e2e

BANK_ENV = {
    "SMMPANEL_VIETQR_BIN": "970436", "SMMPANEL_VIETQR_ACCOUNT": "1023456789",
    "SMMPANEL_VIETQR_NAME": "CONG TY TNHH SMM", "SMMPANEL_SEPAY_API_KEY": "browser-sepay-key",
    "SMMPANEL_VND_RATE": "0.0000393", "SMMPANEL_SECRET": "browser test secret",
}
AMOUNT_VND = 250_000
CREDIT = "9.82500 USD"  # 250,000 x 0.0000393
WAIT_MS = 15_000


@pytest.fixture
def chromium(db_url):
    """Per test, and started after the database: the module-wide browser of
    test_web_browser keeps an event loop running that the PostgreSQL
    fixture's setup can't share."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


def decode_qr(png: bytes) -> str:
    import zxingcpp
    from PIL import Image

    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found.text


def test_a_customer_pays_by_vietqr_and_sees_the_balance_rise(db_url, server_factory, chromium):
    server = server_factory({"SMMPANEL_DATABASE_URL": db_url, **BANK_ENV})
    base = server.url.rsplit("/api/v2", 1)[0]
    page = new_page(chromium)
    sign_up(page, base, "thu")

    page.goto(f"{base}/funds")
    page.fill("#f-vnd", str(AMOUNT_VND))
    page.click("[data-bank-transfer] button[type=submit]")
    qr = page.locator("img[data-qr]")
    qr.wait_for()
    content = page.inner_text("[data-transfer-content]")
    fields = parse(decode_qr(qr.screenshot()))  # parse() checks the CRC
    assert fields["54"] == str(AMOUNT_VND) and fields["53"] == "704" and fields["58"] == "VN"
    assert fields["62"] == f"08{len(content):02d}{content}"
    assert "0006970436011010234567890208QRIBFTTA" in fields["38"]
    assert page.inner_text("[data-credit]") == CREDIT
    assert page.inner_text("[data-balance]") == "0.00000 USD"

    page.evaluate("window.notReloaded = true")
    sent = server.cli("payments", "simulate", "--code", content, "--amount", str(AMOUNT_VND), "--url", base, "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    expect(page.locator("[data-balance]")).to_have_text(CREDIT, timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    assert page.is_visible("[data-deposit-notice]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "en-desktop-funds-vietqr.png"), full_page=True)

    page.reload()
    statement = page.inner_text("main")
    assert "bank transfer, ref SIM" in statement and CREDIT in statement
    replay = server.cli("payments", "simulate", "--code", content, "--amount", str(AMOUNT_VND), "--url", base,
                        "--id", json.loads(sent.stdout)["transaction"], "--json")
    assert json.loads(replay.stdout)["reply"] == {"success": True}
    page.reload()
    assert page.inner_text("[data-balance]") == CREDIT
    assert Decimal(json.loads(server.cli("users", "show", "thu", "--json").stdout)["balance"]) == Decimal("9.825")
