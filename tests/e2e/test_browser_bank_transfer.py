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
from test_web_browser import CHROMIUM, DESKTOP, PHONE, SCREENSHOTS, expect, new_page, sign_up, sync_api  # noqa: E402

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
    scanned = decode_qr(qr.screenshot())
    fields = parse(scanned)  # parse() checks the CRC
    assert (fields["00"], fields["01"]) == ("01", "12")  # payload format; dynamic, with an amount
    assert fields["54"] == str(AMOUNT_VND) and fields["53"] == "704" and fields["58"] == "VN"
    assert fields["62"] == f"08{len(content):02d}{content}"
    assert fields["38"] == "0010A000000727" "01240006970436011010234567890208QRIBFTTA"  # NAPAS, BIN, account
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
    transaction = json.loads(sent.stdout)["transaction"]
    statement_rows = page.locator("section", has=page.get_by_role("heading", name="Statement")).locator("tbody tr")
    deposit_rows = statement_rows.filter(has_text=f"bank transfer, ref SIM{transaction}")
    expect(deposit_rows).to_have_count(1)
    assert "Deposit" in deposit_rows.inner_text() and CREDIT in deposit_rows.inner_text()
    replay = server.cli("payments", "simulate", "--code", content, "--amount", str(AMOUNT_VND), "--url", base,
                        "--id", transaction, "--json")
    assert json.loads(replay.stdout)["reply"] == {"success": True}
    page.reload()
    assert page.inner_text("[data-balance]") == CREDIT
    expect(statement_rows).to_have_count(1)  # still the one deposit
    assert Decimal(json.loads(server.cli("users", "show", "thu", "--json").stdout)["balance"]) == Decimal("9.825")

    # The block at phone width and in Vietnamese: the QR shown there still scans to the same payload, the
    # transfer content is unchanged, and nothing scrolls sideways (the 300 px code on a 390 px screen).
    for lang, button, title in (("en", "English", "Bank transfer (VietQR)"),
                                ("vi", "Tiếng Việt", "Chuyển khoản ngân hàng (VietQR)")):
        page.set_viewport_size(DESKTOP)
        page.goto(f"{base}/funds")
        page.get_by_role("button", name=button, exact=True).click()
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.goto(f"{base}/funds?vnd={AMOUNT_VND}")
            assert title in page.inner_text("[data-bank-transfer] h2")
            assert page.inner_text("[data-transfer-content]") == content
            assert decode_qr(page.locator("img[data-qr]").screenshot()) == scanned, (lang, width_name)
            assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth"), (lang, width_name)
            if (lang, width_name) != ("en", "desktop"):  # that one is shot above, with the payment's notice
                page.screenshot(path=str(SCREENSHOTS / f"{lang}-{width_name}-funds-vietqr.png"), full_page=True)
