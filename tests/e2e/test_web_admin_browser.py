"""The operator's website in a real browser (Debian's chromium driven by
Playwright) against a real ``smmpanel serve`` process: the acceptance list of
the admin issue.

Screenshots of every admin page at desktop width (and a few at phone width)
go to ``tests/artifacts/screenshots/admin-*.png`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3

import pytest

from conftest import run_cli, start_server
from smmpanel.simulator import SimulatorServer, create_simulator

# The customer site's browser harness (chromium, pages, sign-up), shared.
from test_web_browser import DESKTOP, PASSWORD, PHONE, SCREENSHOTS, browser, expect, new_page, sign_up  # noqa: E402,F401
from test_web_browser import balance as customer_balance  # noqa: E402

pytestmark = pytest.mark.e2e

OPERATOR = "olga"


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """The demo catalog on SQLite, an operator, served by a real process."""
    db = tmp_path_factory.mktemp("admin") / "panel.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_SECRET"] = "e2e secret"
    run_cli(env, "demo", "--no-serve", "--db", str(db), "--json", check=True)
    server = start_server({"SMMPANEL_DATABASE_URL": f"sqlite:///{db}", "SMMPANEL_SECRET": "e2e secret"})
    server.site = server.url.removesuffix("/api/v2")
    server.db = db
    made = server.cli("users", "add", OPERATOR, "--operator", "--password", PASSWORD, "--email", "olga@example.com")
    assert made.returncode == 0, made.stderr
    yield server
    server.stop()


def sign_in(page, site: str, name: str) -> None:
    page.goto(f"{site}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def open_user(page, site: str, name: str) -> None:
    page.goto(f"{site}/admin/users")
    page.get_by_label("Search by name or email").fill(name)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=f"User {name}")).to_be_visible()


def create_service(page, site: str, name: str, rate: str) -> int:
    page.goto(f"{site}/admin/services")
    form = page.locator("form", has=page.get_by_role("button", name="Create service"))
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Category", exact=True).fill("Admin test")
    form.get_by_label("Type", exact=True).select_option("Default")
    form.get_by_label("Rate per 1000").fill(rate)
    form.get_by_label("Min", exact=True).fill("10")
    form.get_by_label("Max", exact=True).fill("10000")
    form.get_by_role("button", name="Create service").click()
    expect(page.get_by_text("Service created.")).to_be_visible()
    row = page.locator("tr", has=page.get_by_role("link", name=name, exact=True))
    return int(row.locator("td").nth(1).inner_text())


def place_order(page, site: str, category: str, service_id: int, link: str, quantity: str) -> int:
    page.goto(f"{site}/order")
    page.get_by_label("Category").select_option(label=category)
    page.get_by_label("Service").select_option(value=str(service_id))
    page.get_by_label("Link", exact=True).fill(link)
    page.get_by_label("Quantity", exact=True).fill(quantity)
    page.get_by_role("button", name="Place order").click()
    notice = page.locator("p.notice")
    expect(notice).to_contain_text("placed")
    return int(re.search(r"Order (\d+)", notice.inner_text()).group(1))


def test_an_operator_credits_creates_a_service_and_refunds_a_partial_order(panel, browser):
    site = panel.site
    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    expect(op.get_by_role("link", name="Admin")).to_be_visible()
    alice = new_page(browser)
    sign_up(alice, site, "alice")

    open_user(op, site, "alice")
    op.get_by_label("Amount").fill("20")
    op.get_by_label("Note").fill("bank transfer FT-1")
    op.get_by_role("button", name="Add funds").click()
    expect(op.get_by_text("Funds added.")).to_be_visible()
    expect(op.get_by_test_id("balance")).to_have_text("20.00000 USD")
    expect(op.locator("tr", has_text="bank transfer FT-1")).to_contain_text(OPERATOR)
    assert customer_balance(alice, site) == "20.00000 USD"

    service_id = create_service(op, site, "Admin Test Likes", "2")
    order_id = place_order(alice, site, "Admin test", service_id, "https://facebook.com/post/admin", "1000")
    assert customer_balance(alice, site) == "18.00000 USD"

    op.goto(f"{site}/admin/orders")
    row = op.locator("tr", has=op.get_by_role("link", name=str(order_id), exact=True))
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("https://facebook.com/post/admin")
    row.get_by_role("link", name=str(order_id), exact=True).click()
    op.get_by_label("Status", exact=True).select_option("Partial")
    op.get_by_label("Remains").fill("250")
    op.get_by_label("Start count").fill("1200")
    op.get_by_role("button", name="Set status").click()
    expect(op.get_by_text("Status set.")).to_be_visible()
    history = op.locator("section", has=op.get_by_role("heading", name="History"))
    expect(history.locator("tr", has_text="Partial")).to_contain_text(OPERATOR)

    assert customer_balance(alice, site) == "18.50000 USD"
    alice.goto(f"{site}/funds")
    refund = alice.locator("tr", has_text="Refund")
    expect(refund).to_contain_text("0.50000 USD")
    expect(refund).to_contain_text("18.50000 USD")


def test_a_double_clicked_approval_credits_once(panel, browser):
    site = panel.site
    bob = new_page(browser)
    sign_up(bob, site, "bob")
    bob.goto(f"{site}/funds")
    bob.get_by_label("Amount").fill("25")
    bob.get_by_label("Reference").fill("FT-DOUBLE")
    bob.get_by_role("button", name="Request funds").click()

    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    op.goto(f"{site}/admin/funds")
    row = op.locator("tr", has_text="FT-DOUBLE")
    row.get_by_role("button", name="Approve").dblclick()
    op.wait_for_load_state("networkidle")  # both posts answered
    op.goto(f"{site}/admin/funds")
    expect(op.locator("tr", has_text="FT-DOUBLE")).to_have_count(0)
    assert customer_balance(bob, site) == "25.00000 USD"
    bob.goto(f"{site}/funds")
    expect(bob.locator("tr", has_text="funds request")).to_have_count(1)


def test_a_needs_attention_order_is_resolved(panel, browser):
    site = panel.site
    carol = new_page(browser)
    sign_up(carol, site, "carol")
    assert panel.cli("funds", "add", "carol", "5").returncode == 0
    likes = json.loads(panel.cli("services", "list", "--json").stdout)
    likes_id = next(s["service"] for s in likes if s["name"] == "Facebook Post Likes")
    order_id = place_order(carol, site, "Facebook", likes_id, "https://facebook.com/post/lost", "1000")
    # What the worker records when an upstream's answer to a placement is lost.
    with sqlite3.connect(panel.db) as db:
        db.execute("UPDATE orders SET upstream_state = 'needs_attention', upstream_error = 'timeout: no answer' "
                   "WHERE id = ?", (order_id,))

    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    op.goto(f"{site}/admin")
    op.get_by_role("link", name=f"Order {order_id}", exact=True).click()
    expect(op.get_by_role("heading", name="Needs attention: resolve")).to_be_visible()
    op.get_by_role("button", name="Cancel and refund").click()
    expect(op.get_by_text("Order resolved.")).to_be_visible()
    expect(op.get_by_role("heading", name="Needs attention: resolve")).to_have_count(0)
    assert customer_balance(carol, site) == "5.00000 USD"  # the whole charge came back


def test_the_operator_reorders_services_and_categories_and_customers_see_the_new_order(panel, browser):
    site = panel.site
    services = {s["name"]: s["service"] for s in json.loads(panel.cli("services", "list", "--json").stdout)}
    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    op.goto(f"{site}/admin/services")

    def listed() -> list[str]:
        return op.locator("tr[id^=s] td:nth-child(3)").all_inner_texts()

    assert listed().index("Facebook Post Likes") < listed().index("Facebook Page Followers")
    expect(op.get_by_role("button", name="Move Facebook Post Likes up")).to_be_disabled()  # first of its category
    op.get_by_role("button", name="Move Facebook Page Followers up").click()
    expect(op.get_by_text("Moved.")).to_be_visible()
    assert listed()[:2] == ["Facebook Page Followers", "Facebook Post Likes"]
    op.get_by_role("button", name="Move TikTok up").click()
    expect(op.get_by_text("Moved.")).to_be_visible()
    expect(op.locator("tr.group h2").first).to_have_text("TikTok")
    assert listed()[0] == "TikTok Views"
    op.screenshot(path=str(SCREENSHOTS / "admin-services-reordered-desktop.png"), full_page=True)

    dave = new_page(browser)
    sign_up(dave, site, "dave")
    dave.goto(f"{site}/order")
    categories = dave.locator("#f-category option").all_inner_texts()
    assert categories[:3] == ["TikTok", "Facebook", "Instagram"]
    values = dave.locator("#f-service option").evaluate_all("options => options.map(o => o.value)")
    shown = [int(v) for v in values if v]
    assert shown.index(services["Facebook Page Followers"]) < shown.index(services["Facebook Post Likes"])
    assert shown[0] == services["TikTok Views"]


def test_orders_that_never_reached_their_provider_are_resent_and_the_others_refused(panel, browser):
    sims = [create_simulator("68smm") for _ in range(2)]
    servers = [SimulatorServer(sim) for sim in sims]
    for server in servers:
        server.start()
    try:
        site = panel.site
        for name, server, sim in zip(("first", "second"), servers, sims):
            added = panel.cli("providers", "add", name, "--url", server.url, "--key", sim.key)
            assert added.returncode == 0, added.stderr
        imported = json.loads(panel.cli("providers", "import", "first", "--only", "1", "--json").stdout)
        [service] = imported["imported"]
        frank = new_page(browser)
        sign_up(frank, site, "frank")
        assert panel.cli("funds", "add", "frank", "20").returncode == 0
        # No worker runs here: the first order is not sent yet; the second met a lost answer.
        fresh = place_order(frank, site, service["category"], service["service"], "https://x.com/p/fresh", "100")
        lost = place_order(frank, site, service["category"], service["service"], "https://x.com/p/lost", "100")
        with sqlite3.connect(panel.db) as db:
            db.execute("UPDATE orders SET upstream_state = 'needs_attention', attempts = 1 WHERE id = ?", (lost,))

        op = new_page(browser)
        sign_in(op, site, OPERATOR)
        op.goto(f"{site}/admin/orders?provider=first")
        op.get_by_label(f"Select order {fresh}").check()
        op.get_by_label(f"Select order {lost}").check()
        op.get_by_label("Or send them to provider").select_option("second")
        op.get_by_label("Its service ID").fill("1")
        op.get_by_role("button", name="Resend").click()
        result = op.get_by_role("status")
        expect(result).to_contain_text("Resend to second, service 1: 1 moved, 1 refused.")
        expect(result.locator(f"li[data-order='{fresh}']")).to_have_text(f"Order {fresh}: moved")
        expect(result.locator(f"li[data-order='{lost}']")).to_contain_text(
            f"Order {lost}: refused: it may exist upstream (1 of its 1 sends")
        op.screenshot(path=str(SCREENSHOTS / "admin-orders-resend-desktop.png"), full_page=True)
        op.set_viewport_size(PHONE)
        op.screenshot(path=str(SCREENSHOTS / "admin-orders-resend-phone.png"), full_page=True)
        assert not op.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        op.set_viewport_size(DESKTOP)
        op.goto(f"{site}/admin/orders/{fresh}")
        history = op.locator("section", has=op.get_by_role("heading", name="History"))
        expect(history.locator("tr", has_text="resent to second service 1")).to_contain_text(OPERATOR)
        shown = json.loads(panel.cli("orders", "show", str(lost), "--json").stdout)
        assert (shown["provider"], shown["upstream_state"]) == ("first", "needs_attention")
    finally:
        for server in servers:
            server.stop()


def _admin_urls(panel) -> list[tuple[str, str]]:
    from smmpanel.web.admin import ROUTES

    urls = []
    for route in ROUTES:
        path = re.sub(r"\{[a-z_]+:int\}", "1", route.path).replace("{name}", "nobody")
        urls += [(method, path) for method in sorted(route.methods - {"HEAD"})]
    return urls


def test_a_customer_gets_403_on_every_admin_url_and_form_post(panel, browser):
    site = panel.site
    mallory = new_page(browser)
    sign_up(mallory, site, "mallory")
    expect(mallory.get_by_role("link", name="Admin")).to_have_count(0)
    mallory.goto(f"{site}/account")
    token = mallory.locator('input[name="csrf"]').first.get_attribute("value")
    urls = _admin_urls(panel)
    assert len(urls) >= 25
    for method, path in urls:
        if method == "GET":
            status = mallory.goto(site + path).status
        else:
            status = mallory.request.post(site + path, form={"csrf": token, "amount": "1000", "role": "operator",
                                                             "active": "0"}).status
        assert status == 403, (method, path, status)
    assert customer_balance(mallory, site) == "0.00000 USD"


ADMIN_PAGES = ["/admin", "/admin/users", "/admin/users/{user}", "/admin/services", "/admin/services/1",
               "/admin/providers", "/admin/orders", "/admin/orders/{order}", "/admin/refills", "/admin/funds"]
PHONE_PAGES = ["/admin", "/admin/orders", "/admin/users/{user}", "/admin/orders/{order}", "/admin/services"]


def test_every_admin_page_screenshot_and_nothing_scrolls_sideways(panel, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    site = panel.site
    erin = new_page(browser)
    sign_up(erin, site, "erin")
    assert panel.cli("funds", "add", "erin", "50").returncode == 0
    services = json.loads(panel.cli("services", "list", "--json").stdout)
    likes_id = next(s["service"] for s in services if s["name"] == "Facebook Post Likes")
    first = place_order(erin, site, "Facebook", likes_id,
                        "https://facebook.com/a-rather-long-post-link/with/many/segments?id=1234567890", "1000")
    earlier = [place_order(erin, site, "Facebook", likes_id, f"https://facebook.com/post/{i}", str(100 * (i + 1)))
               for i in range(6)]
    # Spread some orders (and their charges) over the past days, so the chart has a history to show.
    with sqlite3.connect(panel.db) as db:
        for n, order_id in enumerate(earlier):
            back_s = (3 + 4 * n) * 86_400
            db.execute("UPDATE orders SET created_at_s = created_at_s - ? WHERE id = ?", (back_s, order_id))
            db.execute("UPDATE ledger SET created_at_s = created_at_s - ? WHERE order_id = ?", (back_s, order_id))
    panel.cli("orders", "set", str(first), "--status", "Partial", "--remains", "250", "--start-count", "1200")
    erin.goto(f"{site}/orders/{first}")
    erin.get_by_role("button", name="Refill").click()
    erin.goto(f"{site}/funds")
    erin.get_by_label("Amount").fill("10")
    erin.get_by_label("Reference").fill("FT-SHOT")
    erin.get_by_role("button", name="Request funds").click()
    users = json.loads(panel.cli("users", "list", "--json").stdout)
    erin_id = next(u["id"] for u in users if u["name"] == "erin")

    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    overflowing = []
    for width_name, viewport, paths in (("desktop", DESKTOP, ADMIN_PAGES), ("phone", PHONE, PHONE_PAGES)):
        op.set_viewport_size(viewport)
        for path in paths:
            response = op.goto(site + path.format(user=erin_id, order=first))
            assert response.status == 200, path
            name = path.strip("/").replace("/", "-").replace("{user}", "detail").replace("{order}", "detail")
            name = re.sub(r"-\d+$", "-detail", name)
            op.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True)
            if op.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                overflowing.append(f"{width_name} {path}")
    op.set_viewport_size(DESKTOP)
    # In Vietnamese too: the admin speaks the operator's language.
    op.goto(f"{site}/admin/orders/{first}")
    op.get_by_role("button", name="Tiếng Việt").click()
    expect(op.get_by_role("heading", name="Đặt trạng thái").first).to_be_visible()
    op.screenshot(path=str(SCREENSHOTS / "admin-orders-detail-desktop-vi.png"), full_page=True)
    op.goto(f"{site}/admin")
    expect(op.get_by_role("heading", name="Bảng điều khiển quản trị")).to_be_visible()
    op.screenshot(path=str(SCREENSHOTS / "admin-desktop-vi.png"), full_page=True)
    for path in ("/admin/services", "/admin/users/{user}", "/admin/orders"):  # the newest controls, in Vietnamese
        name = path.strip("/").replace("/", "-").replace("{user}", "detail")
        for width_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            op.set_viewport_size(size)
            assert op.goto(site + path.format(user=erin_id)).status == 200, path
            op.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}-vi.png"), full_page=True)
    op.set_viewport_size(DESKTOP)
    op.get_by_role("button", name="English").click()
    op.goto(f"{site}/admin")
    chart = op.get_by_test_id("chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 100
    assert op.locator("svg rect.bar").count() == 30
    assert not overflowing, f"pages wider than the screen: {overflowing}"


def test_an_operator_rotates_a_key_with_a_grace_period(panel, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    site = panel.site
    made = json.loads(panel.cli("users", "add", "karl", "--json").stdout)
    old = made["api_key"]
    op = new_page(browser)
    sign_in(op, site, OPERATOR)
    open_user(op, site, "karl")
    expect(op.get_by_test_id("api-key")).to_contain_text(old[:20] + "_…")
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        op.set_viewport_size(viewport)
        op.get_by_label("Grace period for the old key").fill("1h")
        op.get_by_role("button", name="Generate new key").click()
        new = op.get_by_label("New API key").input_value()
        assert new.startswith("smm_") and new != old
        expect(op.get_by_text("The old key works until")).to_be_visible()
        expect(op.get_by_test_id("old-api-key")).to_contain_text("works until")
        op.screenshot(path=str(SCREENSHOTS / f"admin-users-key-{width_name}.png"), full_page=True)
        assert not op.evaluate("document.documentElement.scrollWidth > window.innerWidth"), width_name
    op.set_viewport_size(DESKTOP)
