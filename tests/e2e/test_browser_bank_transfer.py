"""Issue 11's acceptance in a real browser (headless Chromium) against a real
server: a customer opens /funds, types an amount, sees the QR (decoded here
from the rendered image: payload and CRC checked) and the transfer content;
a simulated SePay notification arrives; the balance on the open page rises
by the exact converted amount without a reload, and the statement on the
same open page shows the deposit; the same notification replayed changes
nothing. Also the block's layout (desktop and phone) and its copy buttons,
including where the browser has no clipboard API (plain http)."""

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


def box(page, selector: str, nth: int = 0) -> dict[str, float]:
    found = page.locator(selector).nth(nth).bounding_box()
    assert found is not None, selector
    return {**found, "right": found["x"] + found["width"], "bottom": found["y"] + found["height"]}


def check_desktop_layout(page) -> None:
    """The amount's input and its button on one line, tops and bottoms level; the input as wide as an amount."""
    amount, button = box(page, "#f-vnd"), box(page, "[data-bank-transfer] button[type=submit]")
    assert abs(amount["y"] - button["y"]) <= 1 and abs(amount["bottom"] - button["bottom"]) <= 1, (amount, button)
    assert button["x"] > amount["right"]
    assert 150 <= amount["width"] <= 260, amount
    # The code beside the details, not above them.
    assert box(page, "img[data-qr]")["right"] < box(page, "dl.transfer")["x"]


def check_phone_layout(page) -> None:
    """The code centred; each label above its value; every Copy button at the right end of its value's line."""
    quote, qr = box(page, ".bank-quote"), box(page, "img[data-qr]")
    assert abs((qr["x"] - quote["x"]) - (quote["right"] - qr["right"])) <= 2, (quote, qr)
    rows = page.locator("dl.transfer dt").count()
    assert rows == 6
    for i in range(rows):
        label, value = box(page, "dl.transfer dt", i), box(page, "dl.transfer dd", i)
        assert label["bottom"] <= value["y"] + 1 and abs(label["x"] - value["x"]) <= 1, (i, label, value)
    copies = [box(page, "dl.transfer button.copy", i) for i in range(page.locator("dl.transfer button.copy").count())]
    assert len(copies) == 4
    values = [box(page, "dl.transfer dd", i) for i in (1, 2, 3, 4)]  # account, name, amount, content
    for copy, value in zip(copies, values):
        assert abs(copy["right"] - value["right"]) <= 1, (copy, value)
        assert value["y"] <= copy["y"] and copy["bottom"] <= value["bottom"], (copy, value)


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
    assert "No entries yet." in page.inner_text("[data-live=statement]")

    page.evaluate("window.notReloaded = true")
    sent = server.cli("payments", "simulate", "--code", content, "--amount", str(AMOUNT_VND), "--url", base, "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    expect(page.locator("[data-balance]")).to_have_text(CREDIT, timeout=WAIT_MS)
    assert page.is_visible("[data-deposit-notice]")
    # The statement of the same open page shows the deposit too (it said "No entries yet." before).
    transaction = json.loads(sent.stdout)["transaction"]
    statement_rows = page.locator("section", has=page.get_by_role("heading", name="Statement")).locator("tbody tr")
    deposit_rows = statement_rows.filter(has_text=f"bank transfer, ref SIM{transaction}")
    expect(deposit_rows).to_have_count(1, timeout=WAIT_MS)
    assert "Deposit" in deposit_rows.inner_text() and CREDIT in deposit_rows.inner_text()
    assert "No entries yet." not in page.inner_text("[data-live=statement]")
    assert page.evaluate("window.notReloaded") is True
    assert page.input_value("#f-vnd") == str(AMOUNT_VND)  # nothing typed on the page was lost
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "en-desktop-funds-vietqr.png"), full_page=True)

    # Copy: with the clipboard API (127.0.0.1 is a secure context) the value lands in the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    copy_buttons = page.locator("dl.transfer button.copy")
    expect(copy_buttons).to_have_count(4)
    copy_buttons.nth(3).click()  # the transfer content
    expect(page.locator("[data-copy-status]")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == content
    # Plain http at a LAN address has no clipboard API: the copy command still copies the exact value.
    page.evaluate("window.realClipboard = navigator.clipboard;"
                  "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined, configurable: true})")
    page.evaluate("document.getSelection().removeAllRanges()")
    copy_buttons.nth(2).click()  # the amount: its digits, not the "250,000 VND" shown
    expect(page.locator("button.copy[data-copied]")).to_have_count(1)
    assert page.get_attribute("button.copy[data-copied]", "data-copy") == str(AMOUNT_VND)
    assert page.inner_text("[data-copy-status]") == "Copied to the clipboard."
    assert page.evaluate("window.realClipboard.readText()") == str(AMOUNT_VND)
    # And where the browser refuses that too, the value is selected for the user, who is told to copy it.
    page.evaluate("document.execCommand = () => false")
    copy_buttons.nth(0).click()  # the account number
    expect(page.locator("[data-copy-status]")).to_contain_text("the text is selected, copy it with Ctrl+C")
    assert page.evaluate("document.getSelection().toString()") == "1023456789"
    expect(page.locator("button.copy[data-copied]")).to_have_count(0)  # no row claims a copy that did not happen

    page.reload()
    expect(deposit_rows).to_have_count(1)
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
            (check_desktop_layout if width_name == "desktop" else check_phone_layout)(page)
            if (lang, width_name) != ("en", "desktop"):  # that one is shot above, with the payment's notice
                page.screenshot(path=str(SCREENSHOTS / f"{lang}-{width_name}-funds-vietqr.png"), full_page=True)
