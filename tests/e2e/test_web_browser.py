"""The customer website in a real browser (Debian's chromium driven by
Playwright) against a real ``smmpanel serve`` process, with the operator's
side done through the CLI: the acceptance list of the website issue.

Screenshots of every customer page, at desktop and phone width, in English
and Vietnamese, and of the states a customer meets (an order page with its
Cancel button, a refused order, a placed order, a mass order's result), go to
``tests/artifacts/screenshots/`` (git-ignored), listed in its ``index.txt``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from conftest import run_cli, start_server

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
PASSWORD = "correct horse battery"

if not os.path.exists(CHROMIUM):
    why = f"{CHROMIUM} is missing: scripts/test installs it (scripts/install-chromium)"
    if os.environ.get("SMMPANEL_REQUIRE_PG") == "1":  # CI: never pass without having run the browser
        raise RuntimeError(why)
    pytest.skip(why, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A demo catalog (every order type) on SQLite, served by a real process."""
    db = tmp_path_factory.mktemp("web") / "panel.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_SECRET"] = "e2e secret"
    demo = json.loads(run_cli(env, "demo", "--no-serve", "--db", str(db), "--json", check=True).stdout)
    server = start_server({"SMMPANEL_DATABASE_URL": f"sqlite:///{db}", "SMMPANEL_SECRET": "e2e secret"})
    server.site = server.url.removesuffix("/api/v2")
    services = httpx.post(server.url, data={"key": demo["api_key"], "action": "services"}).json()
    server.services = {s["name"]: s for s in services}
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def new_page(browser, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport)
    return context.new_page()


def sign_up(page, site: str, name: str) -> None:
    page.goto(f"{site}/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def choose_service(page, panel, name: str) -> None:
    service = panel.services[name]
    page.get_by_label("Category").select_option(label=service["category"])
    page.get_by_label("Service").select_option(value=str(service["service"]))


def place(page, panel, name: str, fields: dict[str, str], charge: str) -> int:
    page.goto(f"{panel.site}/order")
    choose_service(page, panel, name)
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    expect(page.locator("output[name=charge]")).to_have_text(charge)  # shown before submitting
    page.get_by_role("button", name="Place order").click()
    notice = page.locator("p.notice")
    expect(notice).to_contain_text("placed")
    return int(re.search(r"Order (\d+)", notice.inner_text()).group(1))


def balance(page, site: str) -> str:
    page.goto(site + "/")
    return page.get_by_test_id("balance").inner_text()


def order_row(page, site: str, order_id: int):
    page.goto(f"{site}/orders")
    return page.locator("tr", has=page.get_by_role("link", name=str(order_id), exact=True))


def test_a_customer_orders_follows_refills_cancels_and_asks_for_funds(panel, browser):
    site = panel.site
    page = new_page(browser)
    sign_up(page, site, "alice")
    assert balance(page, site) == "0.00000 USD"
    assert panel.cli("funds", "add", "alice", "20", "--note", "bank transfer").returncode == 0
    assert balance(page, site) == "20.00000 USD"

    likes = place(page, panel, "Facebook Post Likes", {"Link": "https://facebook.com/post/1", "Quantity": "1000"},
                  "0.90000 USD")
    comments = place(page, panel, "Facebook Custom Comments",
                     {"Link": "https://facebook.com/post/1", "Comments": "Nice!\nGreat\n<script>alert(1)</script>"},
                     "0.02400 USD")
    expect(order_row(page, site, likes)).to_contain_text("0.90000 USD")
    expect(order_row(page, site, comments)).to_contain_text("0.02400 USD")
    expect(order_row(page, site, comments)).to_contain_text("Facebook Custom Comments")

    # The operator marks the likes Partial from the CLI: the refund shows in Balance and in the statement.
    assert panel.cli("orders", "set", str(likes), "--status", "Partial", "--remains", "500").returncode == 0
    assert balance(page, site) == "19.52600 USD"
    page.goto(f"{site}/funds")
    refund = page.locator("tr", has_text="Refund")
    expect(refund).to_contain_text("0.45000 USD")
    expect(refund).to_contain_text("19.52600 USD")

    # Drip-feed charges quantity x runs.
    drip = place(page, panel, "Facebook Post Likes",
                 {"Link": "https://facebook.com/post/2", "Quantity": "100", "Runs": "5", "Interval": "30"},
                 "0.45000 USD")
    expect(order_row(page, site, drip)).to_contain_text("0.45000 USD")
    expect(order_row(page, site, drip)).to_contain_text("500")

    # A refused order: the error sits next to its field, the form keeps what was typed, nothing is charged.
    page.goto(f"{site}/order")
    choose_service(page, panel, "Facebook Post Likes")
    page.get_by_label("Link", exact=True).fill("https://facebook.com/post/3")
    page.get_by_label("Quantity", exact=True).fill("10")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#e-quantity")).to_have_text("Quantity less than minimal 50")
    expect(page.get_by_label("Link", exact=True)).to_have_value("https://facebook.com/post/3")
    assert balance(page, site) == "19.07600 USD"

    # Mass order: one bad line is reported with its reason, the others are created.
    likes_id = panel.services["Facebook Post Likes"]["service"]
    page.goto(f"{site}/mass-order")
    page.get_by_label("Orders").fill(f"{likes_id} | https://facebook.com/post/4 | 100\n"
                                     f"{likes_id} | https://facebook.com/post/5 | 1\n"
                                     f"{likes_id} | https://facebook.com/post/6 | 200")
    page.get_by_role("button", name="Place orders").click()
    expect(page.get_by_text("Created: 2. Failed: 1.")).to_be_visible()
    expect(page.locator("tr", has_text="post/5")).to_contain_text("Quantity less than minimal 50")

    # Cancel from the order page (a Pending order of a cancel-able service).
    page.goto(f"{site}/orders/{drip}")
    expect(page.get_by_role("button", name="Refill")).to_have_count(0)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("p.notice")).to_have_text("Cancel accepted.")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    # Refill from the order page, once the operator completed it.
    assert panel.cli("orders", "set", str(likes), "--status", "Partial", "--remains", "500").returncode == 0
    page.goto(f"{site}/orders/{likes}")
    page.get_by_role("button", name="Refill").click()
    expect(page.locator("p.notice")).to_have_text("Refill requested.")
    page.goto(f"{site}/refills")
    expect(page.locator("tr", has=page.get_by_role("link", name=str(likes), exact=True))).to_contain_text("Pending")

    # A funds request appears as pending.
    page.goto(f"{site}/funds")
    page.get_by_label("Amount").fill("25")
    page.get_by_label("Reference").fill("FT-2026-001")
    page.get_by_role("button", name="Request funds").click()
    expect(page.locator("tr", has_text="FT-2026-001")).to_contain_text("Pending")

    # User text is text: the comment with a script tag shows literally.
    page.goto(f"{site}/orders/{comments}")
    expect(page.get_by_text("<script>alert(1)</script>")).to_be_visible()

    # A second customer cannot open the first one's order page.
    other = new_page(browser)
    sign_up(other, site, "bob")
    response = other.goto(f"{site}/orders/{likes}")
    assert response.status == 404
    expect(other.get_by_text("facebook.com/post/1")).to_have_count(0)


def test_a_cross_site_form_post_without_the_token_is_refused(panel, browser):
    """Carol, signed in, visits an attacker's page whose form posts to the panel's password change. From
    another site the browser keeps her session cookie back (SameSite=Lax); from a page of the same site (here
    another port of the same host, as a sibling app would be) the cookie goes along and the missing CSRF token is
    what refuses it."""
    page = new_page(browser)
    sign_up(page, panel.site, "carol")
    attack = (f'<form method="post" action="{panel.site}/account/password">'
              f'<input name="current_password" value="{PASSWORD}"><input name="new_password" value="attacker wins">'
              '<button>go</button></form>')
    for origin in ("http://evil.example", "http://127.0.0.1:9"):
        page.context.route(f"{origin}/**", lambda route: route.fulfill(content_type="text/html", body=attack))
        page.goto(f"{origin}/win-a-prize")
        with page.expect_navigation():
            page.get_by_role("button", name="go").click()
        assert "Password changed" not in page.content()
        if origin.startswith("http://127.0.0.1"):
            expect(page.get_by_text("sent from another site")).to_be_visible()
        else:
            # No session came with the post: nothing changed, and she lands on her dashboard, still signed in.
            assert page.url == f"{panel.site}/"
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The password is unchanged: the old one still signs in, and the session was not touched.
    page.goto(f"{panel.site}/account")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    fresh = new_page(browser)
    fresh.goto(f"{panel.site}/login")
    fresh.get_by_label("Username").fill("carol")
    fresh.get_by_label("Password").fill(PASSWORD)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_role("button", name="Sign out")).to_be_visible()


def test_vietnamese_new_order_page_speaks_vietnamese(panel, browser):
    page = new_page(browser)
    sign_up(page, panel.site, "dung")
    page.goto(f"{panel.site}/order")
    page.get_by_role("button", name="Tiếng Việt").click()
    expect(page.get_by_role("heading", name="Đặt đơn mới")).to_be_visible()
    for label in ("Danh mục", "Dịch vụ", "Link", "Số lượng"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Đặt đơn", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    assert "Place order" not in page.content() and "Quantity" not in page.inner_text("main")


CUSTOMER_PAGES = ["/", "/order", "/mass-order", "/orders", "/orders/{order}", "/refills", "/funds", "/api-docs",
                  "/account"]
SIGNED_OUT_PAGES = ["/login", "/signup", "/api-docs"]


def _shoot(page, name: str, overflowing: list[str]) -> str:
    """Screenshot the whole page; notes it in ``overflowing`` when it scrolls sideways."""
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        overflowing.append(name)
    return f"{name}.png"


def _shoot_all(page, site: str, prefix: str, order_id: int, overflowing: list[str], *, signed_in: bool) -> list[str]:
    shots = []
    for path in CUSTOMER_PAGES if signed_in else SIGNED_OUT_PAGES:
        page.goto(site + path.format(order=order_id))
        name = (path.strip("/").replace("/", "-").replace("{order}", "detail") or "dashboard")
        shots.append(_shoot(page, f"{prefix}-{name}" if signed_in else f"{prefix}-signed-out-{name}", overflowing))
    return shots


def _shoot_states(page, panel, prefix: str, cancelable: int, overflowing: list[str]) -> list[str]:
    """The pages in the states a customer meets: an order page with its Cancel button, a refused order
    (the error next to its field), a placed order, a mass order's line-by-line result. By field id, any language."""
    site, likes = panel.site, panel.services["Facebook Post Likes"]["service"]
    page.goto(f"{site}/orders/{cancelable}")
    expect(page.locator("main form button")).to_have_count(1)  # Cancel (the comments service allows no refill)
    shots = [_shoot(page, f"{prefix}-orders-detail-cancel", overflowing)]
    page.goto(f"{site}/order?service={likes}")
    page.locator("#f-link").fill("https://facebook.com/post/9")
    page.locator("#f-quantity").fill("10")
    page.locator("form[data-order-form] .actions button").first.click()
    expect(page.locator("#e-quantity")).to_be_visible()
    shots.append(_shoot(page, f"{prefix}-order-error", overflowing))
    page.locator("#f-quantity").fill("100")
    page.locator("form[data-order-form] .actions button").first.click()
    expect(page.locator("p.notice")).to_be_visible()
    shots.append(_shoot(page, f"{prefix}-order-placed", overflowing))
    page.goto(f"{site}/mass-order")
    page.locator("#f-orders").fill(f"{likes} | https://facebook.com/post/10 | 100\n{likes} | https://facebook.com/post/11 | 1")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main table")).to_be_visible()
    shots.append(_shoot(page, f"{prefix}-mass-order-result", overflowing))
    return shots


def test_every_page_screenshot_at_desktop_and_phone_width_and_nothing_scrolls_sideways(panel, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    site = panel.site
    page = new_page(browser)
    sign_up(page, site, "erin")
    panel.cli("funds", "add", "erin", "50")
    first = place(page, panel, "Facebook Post Likes",
                  {"Link": "https://facebook.com/a-rather-long-post-link/with/many/segments?id=1234567890", "Quantity": "1000"},
                  "0.90000 USD")
    comments = place(page, panel, "Facebook Custom Comments",
                     {"Link": "https://facebook.com/post/1", "Comments": "Nice!\nGreat"}, "0.01600 USD")
    panel.cli("orders", "set", str(first), "--status", "Partial", "--remains", "250", "--start-count", "1200")
    page.goto(f"{site}/orders/{first}")
    page.get_by_role("button", name="Refill").click()
    page.goto(f"{site}/funds")
    page.get_by_label("Amount").fill("25")
    page.get_by_label("Reference").fill("FT-2026-001")
    page.get_by_role("button", name="Request funds").click()

    overflowing: list[str] = []
    shots: list[str] = []
    widths = (("desktop", DESKTOP), ("phone", PHONE))
    languages = (("en", "English"), ("vi", "Tiếng Việt"))
    for lang, button in languages:
        page.goto(f"{site}/account")
        page.get_by_role("button", name=button, exact=True).click()
        anonymous = new_page(browser)
        anonymous.goto(f"{site}/login")
        anonymous.get_by_role("button", name=button, exact=True).click()
        for width_name, viewport in widths:
            page.set_viewport_size(viewport)
            anonymous.set_viewport_size(viewport)
            shots += _shoot_all(page, site, f"{lang}-{width_name}", first, overflowing, signed_in=True)
            shots += _shoot_all(anonymous, site, f"{lang}-{width_name}", first, overflowing, signed_in=False)
    # Then the states (they add orders, so after the pages above, which all show the same account).
    for lang, button in languages:
        page.goto(f"{site}/account")
        page.get_by_role("button", name=button, exact=True).click()
        for width_name, viewport in widths:
            page.set_viewport_size(viewport)
            shots += _shoot_states(page, panel, f"{lang}-{width_name}", comments, overflowing)
    assert not overflowing, f"pages wider than the screen: {overflowing}"
    per_width = len(CUSTOMER_PAGES) + len(SIGNED_OUT_PAGES) + 4
    assert len(set(shots)) == len(languages) * len(widths) * per_width
    assert all((SCREENSHOTS / shot).stat().st_size > 10_000 for shot in shots)
    (SCREENSHOTS / "index.txt").write_text("\n".join(sorted(shots)) + "\n")
