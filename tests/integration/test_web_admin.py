"""The operator's pages (/admin) on real SQLite and PostgreSQL databases,
in-process: only operators get in, every action goes through the use cases
and records who did it."""

from __future__ import annotations

import asyncio
import html
import re
from decimal import Decimal

import pytest
from starlette.routing import Route

from smmpanel.domain.errors import InvalidApiKey
from smmpanel.services import accounts, auth, catalog, funds, orders, providers
from smmpanel.simulator import SimulatorServer, create_simulator
from smmpanel.services.principal import Customer
from smmpanel.web import admin as admin_web
from websupport import csrf_of, field_error, website

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def panel_secret(monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")


async def operator(panel, browser, name: str = "olga"):
    await auth.register(panel, name, email=f"{name}@example.com", password=PASSWORD, role="operator", actor="cli")
    b = browser()
    response = await b.submit("/login", {"login": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return b


async def customer(browser, name: str):
    b = browser()
    await b.sign_up(name, password=PASSWORD)
    return b


async def shop(panel, browser):
    """An operator signed in; alice signed up with 10 USD; a 1 USD per 1000 service."""
    olga = await operator(panel, browser)
    await customer(browser, "alice")
    alice = Customer.from_user_id(await user_id(panel, "alice"))
    await accounts.add_funds(panel, "alice", Decimal("10"), actor="cli")
    likes = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="1", min=1, max=50000)
    return olga, alice, likes


def balance_on(page: str) -> str:
    return re.search(r'data-testid="balance">([^<]+)<', page).group(1)


async def user_id(panel, name: str) -> int:
    return (await accounts.user_named(panel, name))["id"]


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) the admin router serves, ids filled with 1."""
    found = []
    for route in admin_web.ROUTES:
        assert isinstance(route, Route)
        path = re.sub(r"\{[a-z_]+:int\}", "1", route.path).replace("{name}", "up1")
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, path))
    return found


async def test_a_customer_gets_403_on_every_admin_url_and_form_post_and_nothing_changes(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        await operator(panel, browser)
        mallory = await customer(browser, "mallory")
        page = (await mallory.get("/account")).text
        assert 'href="/admin"' not in page  # no Admin link for a customer
        token = csrf_of(page)
        routes = admin_routes()
        assert ("POST", "/admin/users/1/funds") in routes and ("POST", "/admin/funds/1/approve") in routes
        assert {("POST", "/admin/services/1/move"), ("POST", "/admin/categories/1/move"),
                ("POST", "/admin/orders/resend")} <= set(routes)
        second = await catalog.add_service(panel, name="Second", category="B", type="Default", rate="1", min=1, max=9)
        first = await catalog.add_service(panel, name="First", category="A", type="Default", rate="1", min=1, max=9)
        listed = [row["id"] for row in await catalog.all_services(panel)]
        me = await user_id(panel, "mallory")
        for method, path in routes:
            path = path.replace("/users/1/", f"/users/{me}/")
            data = {"csrf": token, "amount": "1000", "role": "operator", "active": "0", "status": "Completed",
                    "ids": "1", "percent": "50", "to": "up", "provider": "up1", "provider_service": "2"}
            response = await (mallory.client.get(path) if method == "GET" else mallory.client.post(path, data=data))
            assert response.status_code == 403, (method, path, response.status_code)
        for path in (f"/admin/services/{first}/move", "/admin/categories/2/move"):
            response = await mallory.client.post(path, data={"csrf": token, "to": "up"})
            assert response.status_code == 403
        assert [row["id"] for row in await catalog.all_services(panel)] == listed == [second, first]
        row = await accounts.user_named(panel, "mallory")
        assert row["balance_micros"] == 0 and row["active"]
        assert (await auth.session(panel, None)) is None
        # Signed out: the sign-in page, not the admin.
        anonymous = browser()
        response = await anonymous.client.get("/admin")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_an_operator_credits_a_customer_and_the_ledger_names_the_operator(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        alice = await customer(browser, "alice")
        alice_id = await user_id(panel, "alice")
        page = (await olga.get("/admin/users?q=ali")).text
        assert f'href="/admin/users/{alice_id}">alice<' in page
        r = await olga.submit(f"/admin/users/{alice_id}/funds", {"amount": "20", "note": "bank transfer FT1"},
                              form_page=f"/admin/users/{alice_id}")
        assert r.status_code == 303
        page = (await olga.get(r.headers["location"])).text
        assert balance_on(page) == "20.00000 USD" and "Funds added." in page
        assert "bank transfer FT1" in page and ">olga<" in page  # the statement says who
        # A negative amount adjusts down; below zero is refused at its field and changes nothing.
        r = await olga.submit(f"/admin/users/{alice_id}/funds", {"amount": "-25"}, form_page=f"/admin/users/{alice_id}")
        assert r.status_code == 400 and field_error(r.text, "amount")
        await olga.submit(f"/admin/users/{alice_id}/funds", {"amount": "-5"}, form_page=f"/admin/users/{alice_id}")
        assert balance_on((await alice.get("/")).text) == "15.00000 USD"
        entries = (await accounts.statement(panel, Customer.from_user_id(alice_id))).items
        assert [(e.kind, e.amount_micros, e.actor) for e in entries] == [
            ("adjustment", -5_000_000, "olga"), ("deposit", 20_000_000, "olga")]


async def test_disable_enable_and_role(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        bob = await customer(browser, "bob")
        bob_id = await user_id(panel, "bob")
        await olga.submit(f"/admin/users/{bob_id}/active", {"active": "0"}, form_page=f"/admin/users/{bob_id}")
        assert (await bob.client.get("/")).status_code == 303  # his session ends with the account
        page = (await olga.get(f"/admin/users/{bob_id}")).text
        assert ">Enable<" in page
        await olga.submit(f"/admin/users/{bob_id}/active", {"active": "1"}, form_page=f"/admin/users/{bob_id}")
        await olga.submit(f"/admin/users/{bob_id}/role", {"role": "operator"}, form_page=f"/admin/users/{bob_id}")
        bob2 = browser()
        await bob2.submit("/login", {"login": "bob", "password": PASSWORD})
        assert (await bob2.client.get("/admin")).status_code == 200
        r = await olga.submit(f"/admin/users/{bob_id}/role", {"role": "god"}, form_page=f"/admin/users/{bob_id}")
        assert r.status_code == 400


async def test_services_created_edited_and_repriced_with_a_confirmation_below_cost(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        form = {"name": "IG Likes", "category": "Instagram", "type": "Default", "rate": "1.2", "min": "10",
                "max": "5000", "enabled": "1", "refill": "1"}
        r = await olga.submit("/admin/services", form)
        assert r.status_code == 303, r.text
        service = (await catalog.all_services(panel))[0]
        assert (service["name"], service["rate_micros"], service["refill"], service["cancel"]) == (
            "IG Likes", 1_200_000, True, False)
        r = await olga.submit("/admin/services", {**form, "min": "100", "max": "10"})
        assert r.status_code == 400 and field_error(r.text, "min")
        # An imported-like service with a known cost: selling under it asks first.
        await catalog.set_service(panel, service["id"], {"rate": "1.2"})
        await panel.db.execute("UPDATE services SET cost_micros = 1000000 WHERE id = $1", service["id"])
        page = (await olga.get("/admin/services")).text
        assert "16.7 %" in page  # the margin: what is kept of the price
        edit = f"/admin/services/{service['id']}"
        r = await olga.submit(edit, {**form, "rate": "0.8"})
        assert r.status_code == 409 and "below the upstream cost" in field_error(r.text, "rate")
        assert (await catalog.service(panel, service["id"]))["rate_micros"] == 1_200_000
        r = await olga.submit(edit, {**form, "rate": "0.8", "confirm": "1"})
        assert r.status_code == 303
        assert (await catalog.service(panel, service["id"]))["rate_micros"] == 800_000
        # Bulk: +10 % on the selection only.
        other = await catalog.add_service(panel, name="FB", category="Facebook", type="Default", rate="2", min=1,
                                          max=10)
        r = await olga.submit("/admin/services/bulk", {"ids": [str(service["id"])], "percent": "10"},
                              form_page="/admin/services")
        assert r.status_code == 303
        assert (await catalog.service(panel, service["id"]))["rate_micros"] == 880_000
        assert (await catalog.service(panel, other))["rate_micros"] == 2_000_000
        await olga.submit(f"/admin/services/{other}/enabled", {"enabled": "0"}, form_page="/admin/services")
        assert not (await catalog.service(panel, other))["enabled"]


async def test_the_operator_reorders_services_and_categories_with_buttons_and_customers_see_it(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga, alice, likes = await shop(panel, browser)
        views = await catalog.add_service(panel, name="Views", category="TT", type="Default", rate="1", min=1, max=9)
        shares = await catalog.add_service(panel, name="Shares", category="FB", type="Default", rate="1", min=1,
                                           max=9)
        page = (await olga.get("/admin/services")).text
        for label in ("Move Likes up", "Move Likes down", "Move Shares up", "Move FB down", "Move TT up"):
            assert f'aria-label="{label}"' in page, label
        # The first can't go up, the last can't go down: those buttons are disabled.
        assert re.search(r'aria-label="Move Likes up"[^>]*disabled', page)
        assert re.search(r'aria-label="Move TT down"[^>]*disabled', page)
        assert not re.search(r'aria-label="Move Shares up"[^>]*disabled', page)

        def order_of(text: str) -> list[int]:
            return [int(i) for i in re.findall(r'<tr id="s(\d+)"', text)]

        assert order_of(page) == [likes, shares, views]
        r = await olga.submit(f"/admin/services/{shares}/move", {"to": "up"}, form_page="/admin/services")
        assert r.status_code == 303 and r.headers["location"] == f"/admin/services?done=moved#s{shares}"
        tt = next(c["id"] for c in await catalog.categories(panel) if c["name"] == "TT")
        r = await olga.submit(f"/admin/categories/{tt}/move", {"to": "up"}, form_page="/admin/services")
        assert r.status_code == 303
        page = (await olga.get("/admin/services?done=moved")).text
        assert order_of(page) == [views, shares, likes] and "Moved." in page
        services = [s["id"] for s in await catalog.customer_services(panel, alice)]
        assert services == [views, shares, likes]
        r = await olga.submit(f"/admin/services/{shares}/move", {"to": "sideways"}, form_page="/admin/services")
        assert r.status_code == 400 and "Invalid position" in r.text
        r = await olga.submit("/admin/services/999999/move", {"to": "up"}, form_page="/admin/services")
        assert r.status_code == 404


async def test_an_operator_marks_an_order_partial_and_the_customer_sees_the_refund_and_the_history(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        alice = await customer(browser, "alice")
        alice_id = await user_id(panel, "alice")
        await accounts.add_funds(panel, "alice", Decimal("10"), actor="cli")
        likes = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="0.9", min=50,
                                          max=50000)
        order_id = await orders.place_order(panel, Customer.from_user_id(alice_id),
                                            {"service": likes, "link": "https://facebook.com/p/1", "quantity": 1000})
        listing = (await olga.get("/admin/orders?user=alice")).text
        assert f'<a href="/admin/orders/{order_id}">{order_id}</a>' in listing
        for query in (f"q={order_id}", "q=facebook.com/p", "status=Pending", f"service={likes}"):
            assert f'href="/admin/orders/{order_id}"' in (await olga.get(f"/admin/orders?{query}")).text, query
        assert f'href="/admin/orders/{order_id}"' not in (await olga.get("/admin/orders?status=Completed")).text
        detail = f"/admin/orders/{order_id}"
        r = await olga.submit(f"{detail}/status", {"status": "Partial"}, form_page=detail)
        assert r.status_code == 400 and field_error(r.text, "remains")
        r = await olga.submit(f"{detail}/status", {"status": "Partial", "remains": "500", "start_count": "1200"},
                              form_page=detail)
        assert r.status_code == 303
        page = (await olga.get(detail)).text
        assert "0.45000 USD" in page and ">olga<" in page  # refunded; the history names the operator
        assert balance_on((await alice.get("/")).text) == "9.55000 USD"
        statement = (await alice.get("/funds")).text
        assert "Refund" in statement and "0.45000 USD" in statement
        # Twice changes nothing (Partial is final): one refund.
        await olga.submit(f"{detail}/status", {"status": "Partial", "remains": "500"}, form_page=detail)
        assert balance_on((await alice.get("/")).text) == "9.55000 USD"


async def test_bulk_status_reports_each_refused_order(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga, alice, likes = await shop(panel, browser)
        ids = [await orders.place_order(panel, alice, {"service": likes, "link": f"https://x.com/{i}",
                                                       "quantity": 100}) for i in range(3)]
        await orders.operator_set_status(panel, ids[0], "Canceled", actor="cli")
        r = await olga.submit("/admin/orders/bulk", {"ids": [str(i) for i in ids], "status": "Completed"},
                              form_page="/admin/orders")
        assert r.status_code == 400 and "Done: 2. Failed: 1." in r.text
        assert [(await orders.order(panel, i))["status"] for i in ids] == ["Canceled", "Completed", "Completed"]


async def test_funds_request_approved_once_even_when_clicked_twice_at_once(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        alice = await customer(browser, "alice")
        await alice.submit("/funds", {"amount": "25", "reference": "FT-1"})
        request_id = (await funds.pending_requests(panel))[0]["id"]
        page = (await olga.get("/admin/funds")).text
        assert "FT-1" in page and "25.00000 USD" in page
        token = csrf_of(page)
        first, second = await asyncio.gather(
            olga.client.post(f"/admin/funds/{request_id}/approve", data={"csrf": token}),
            olga.client.post(f"/admin/funds/{request_id}/approve", data={"csrf": token}),
        )
        assert sorted([first.status_code, second.status_code]) == [303, 409]
        assert balance_on((await alice.get("/")).text) == "25.00000 USD"
        assert "No pending requests." in (await olga.get("/admin/funds")).text


async def test_a_needs_attention_order_is_resolved_from_its_page(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga, alice, likes = await shop(panel, browser)
        order_id = await orders.place_order(panel, alice, {"service": likes, "link": "https://x.com/1",
                                                           "quantity": 1000})
        # What the worker does when an upstream's answer is lost.
        await panel.db.execute("UPDATE orders SET upstream_state = 'needs_attention' WHERE id = $1", order_id)
        dashboard = (await olga.get("/admin")).text
        assert f'href="/admin/orders/{order_id}"' in dashboard and "<svg" in dashboard
        detail = f"/admin/orders/{order_id}"
        page = (await olga.get(detail)).text
        assert "Needs attention: resolve" in page
        r = await olga.submit(f"{detail}/resolve", {"resolution": "cancel"}, form_page=detail)
        assert r.status_code == 303
        row = await orders.order(panel, order_id)
        assert (row["status"], row["refund_micros"]) == ("Canceled", 1_000_000)
        page = (await olga.get(detail)).text
        assert "Needs attention: resolve" not in page and ">olga<" in page
        # Not needing attention any more: a readable refusal, nothing changes.
        r = await olga.client.post(f"{detail}/resolve", data={"csrf": csrf_of(page), "resolution": "requeue"})
        assert r.status_code == 400 and "needs_attention" in r.text


async def test_orders_that_never_reached_their_provider_are_resent_from_the_list_the_others_refused(db_url):
    sims = [create_simulator("68smm") for _ in range(2)]
    servers = [SimulatorServer(sim) for sim in sims]
    for server in servers:
        server.start()
    try:
        async with website(db_url) as (app, browser):
            panel = app.site.state.web.panel
            olga, alice, _likes = await shop(panel, browser)
            for name, server, sim in zip(("first", "second"), servers, sims):
                await providers.add_provider(panel, name, server.url, sim.key, timeout_s=1)
            [imported], _ = await providers.import_services(panel, "first", only=["1"])
            ids = [await orders.place_order(panel, alice, {"service": imported.service, "link": f"https://x.com/{i}",
                                                           "quantity": 100}) for i in range(3)]
            never_sent, unreachable, unknown = ids
            # What the worker records: connection refused (proof), and a lost answer (no proof).
            await panel.db.execute("UPDATE orders SET attempts = 1, refused_sends = 1 WHERE id = $1", unreachable)
            await panel.db.execute("UPDATE orders SET attempts = 1, upstream_state = 'needs_attention' WHERE id = $1",
                                   unknown)
            listing = (await olga.get("/admin/orders")).text
            assert 'formaction="/admin/orders/resend"' in listing and '<option value="second">' in listing
            r = await olga.submit("/admin/orders/resend", {"ids": [str(i) for i in ids], "provider": "second",
                                                          "provider_service": "1"}, form_page="/admin/orders")
            assert r.status_code == 200
            page = html.unescape(r.text)
            assert "Resend to second, service 1: 2 moved, 1 refused." in page
            assert f"Order {never_sent}: moved" in page and f"Order {unreachable}: moved" in page
            assert f"Order {unknown}: refused: it may exist upstream (1 of its 1 sends" in page
            for order_id in (never_sent, unreachable):
                row = await orders.order(panel, order_id)
                assert (row["provider"], row["upstream_state"]) == ("second", "queued")
                [event] = await orders.history(panel, order_id)
                assert event.actor == "olga" and "resent to second service 1" in event.note
            assert (await orders.order(panel, unknown))["provider"] == "first"
            assert await orders.history(panel, unknown) == []
            # A target that does not exist: one readable error, nothing moved.
            r = await olga.submit("/admin/orders/resend", {"ids": [str(unknown)], "provider": "nobody",
                                                          "provider_service": "1"}, form_page="/admin/orders")
            assert r.status_code == 400 and "provider nobody not found" in r.text
            # In Vietnamese too.
            await olga.client.post("/language", data={"csrf": csrf_of(listing), "lang": "vi"})
            r = await olga.submit("/admin/orders/resend", {"ids": [str(unknown)], "provider": "second",
                                                          "provider_service": "1"}, form_page="/admin/orders")
            assert "bị từ chối: đơn có thể đã có ở nhà cung cấp" in html.unescape(r.text)
    finally:
        for server in servers:
            server.stop()


async def test_every_admin_page_renders_and_takes_a_fixed_number_of_queries(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga, alice, likes = await shop(panel, browser)
        alice_id = await user_id(panel, "alice")

        async def count_queries(path: str) -> int:
            calls = 0
            original = panel.db.fetch, panel.db.fetchrow, panel.db.fetchval

            def counted(fn):
                async def wrapper(*a, **k):
                    nonlocal calls
                    calls += 1
                    return await fn(*a, **k)
                return wrapper

            panel.db.fetch, panel.db.fetchrow, panel.db.fetchval = map(counted, original)
            try:
                response = await olga.get(path)
            finally:
                panel.db.fetch, panel.db.fetchrow, panel.db.fetchval = original
            assert response.status_code == 200, (path, response.text[:500])
            return calls

        pages = ["/admin?fresh=1", "/admin/users", f"/admin/users/{alice_id}", "/admin/services", f"/admin/services/{likes}",
                 "/admin/providers", "/admin/orders?fresh=1", "/admin/refills", "/admin/funds"]
        few = {p: await count_queries(p) for p in pages}
        for i in range(60):
            await orders.place_order(panel, alice, {"service": likes, "link": f"https://x.com/{i}", "quantity": 10})
        many = {p: await count_queries(p) for p in pages}
        assert many == few  # no query per row
        listing = (await olga.get("/admin/orders")).text
        older = re.search(r'href="(/admin/orders\?before=\d+)"', listing).group(1)
        assert listing.count('name="ids"') == 50 and (await olga.get(older)).text.count('name="ids"') == 10


async def test_the_dashboard_counts_revenue_cost_and_profit_of_the_orders_of_the_day(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        await customer(browser, "alice")
        alice = Customer.from_user_id(await user_id(panel, "alice"))
        await accounts.add_funds(panel, "alice", Decimal("100"), actor="cli")
        resold = await catalog.add_service(panel, name="Resold", category="FB", type="Default", rate="2", min=1,
                                           max=50000)
        await panel.db.execute("UPDATE services SET cost_micros = 1500000 WHERE id = $1", resold)  # as an import sets it
        own = await catalog.add_service(panel, name="Own", category="FB", type="Default", rate="1", min=1, max=50000)
        first = await orders.place_order(panel, alice, {"service": resold, "link": "https://x.com/1", "quantity": 1000})
        await orders.place_order(panel, alice, {"service": resold, "link": "https://x.com/2", "quantity": 1000})
        await orders.place_order(panel, alice, {"service": own, "link": "https://x.com/3", "quantity": 1000})
        await orders.operator_set_status(panel, first, "Partial", remains=500, actor="cli")
        page = (await olga.get("/admin")).text
        today = page.split('data-testid="period-1"')[1].split("</div>")[0]
        # Revenue: 2 + 2 + 1 - 1 (refund of half the first). Cost: 0.75 + 1.5 (own service: unknown).
        # Profit: revenue of the resold orders (3) minus their cost (2.25).
        assert re.findall(r"<dd>([^<]+)</dd>", today) == ["4.00000 USD", "2.25000 USD", "0.75000 USD"]
        assert '<span class="value">3</span>' in today
        await orders.place_order(panel, alice, {"service": own, "link": "https://x.com/4", "quantity": 1000})
        assert '<span class="value">3</span>' in (await olga.get("/admin")).text  # figures kept a while
        assert '<span class="value">4</span>' in (await olga.get("/admin?fresh=1")).text


async def test_an_unmatched_bank_transfer_is_assigned_once_or_dismissed_from_the_funds_page(db_url):
    from dataclasses import replace

    from smmpanel.domain.banktransfer import BankTerms, IncomingTransfer
    from smmpanel.services import payments

    terms = BankTerms(bin="970415", account="0123456789", account_name="CONG TY SMM", vnd_rate=Decimal("0.00004"))

    def transfer(n: int, content: str) -> IncomingTransfer:
        return IncomingTransfer(external_id=f"tx{n}", incoming=True, amount_vnd=500_000, account=terms.account,
                                sub_account=None, content=content, code=None, reference=f"FT{n}", details={})

    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        app.site.state.web.settings = replace(app.site.state.web.settings, bank=terms)
        olga = await operator(panel, browser)
        await customer(browser, "alice")
        for n, content in enumerate(("chuyen tien khong ma", "nap tien nham")):
            assert (await payments.receive_transfer(panel, terms, transfer(n, content))).outcome == "unmatched"
        page = (await olga.get("/admin/funds")).text
        assert "chuyen tien khong ma" in page and "500000 VND" in page
        first, second = [row["id"] for row in await payments.list_payments(panel, "unmatched")][::-1]
        token = csrf_of(page)
        answers = await asyncio.gather(*(
            olga.client.post(f"/admin/payments/{first}/assign", data={"csrf": token, "user": "alice"})
            for _ in range(2)))
        assert sorted(a.status_code for a in answers) == [303, 409]
        assert (await accounts.user_named(panel, "alice"))["balance_micros"] == 20_000_000  # once
        r = await olga.client.post(f"/admin/payments/{second}/dismiss", data={"csrf": token, "note": ""})
        assert r.status_code == 409  # a reason is required
        r = await olga.client.post(f"/admin/payments/{second}/dismiss", data={"csrf": token, "note": "bank returned it"})
        assert r.status_code == 303
        assert "No unmatched transfers." in (await olga.get("/admin/funds")).text


async def test_users_sort_by_spent_and_balance_and_orders_found_by_provider_order(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga, alice, likes = await shop(panel, browser)
        await customer(browser, "bob")
        await accounts.add_funds(panel, "bob", Decimal("50"), actor="cli")
        order_id = await orders.place_order(panel, alice, {"service": likes, "link": "https://x.com/1",
                                                           "quantity": 3000})

        def names(page: str) -> list[str]:
            return re.findall(r'href="/admin/users/\d+">([a-z]+)<', page)

        assert names((await olga.get("/admin/users?sort=spent")).text)[:1] == ["alice"]
        assert names((await olga.get("/admin/users?sort=balance")).text)[:2] == ["bob", "alice"]
        assert names((await olga.get("/admin/users?sort=name")).text) == ["alice", "bob", "olga"]
        assert (await olga.get("/admin/users?sort=bogus")).status_code == 400
        # An order the upstream knows as 98765: found by that id, as by ours.
        await panel.db.execute("INSERT INTO providers (name, url, key_sealed, encoding, currency, fx, timeout_s, "
                               "max_ids, concurrency, created_at_s) VALUES ('up1', 'https://up.example/api/v2', 'x', "
                               "'form', 'USD', '1', 30, 100, 4, 0)")
        await panel.db.execute("UPDATE orders SET provider_id = (SELECT id FROM providers), provider_order = '98765' "
                               "WHERE id = $1", order_id)
        for query in ("98765", str(order_id)):
            page = (await olga.get(f"/admin/orders?q={query}")).text
            assert f'href="/admin/orders/{order_id}"' in page, query
        assert f'href="/admin/orders/{order_id}"' not in (await olga.get("/admin/orders?q=98764")).text
        assert f'href="/admin/orders/{order_id}"' in (await olga.get("/admin/orders?provider=up1")).text


async def test_the_upstream_state_filter_lists_every_state_and_refuses_a_bogus_one(db_url):
    from smmpanel.domain.upstream_state import UpstreamState

    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        page = (await olga.get("/admin/orders")).text
        for state in UpstreamState:
            assert f'<option value="{state.value}">' in page
        r = await olga.get("/admin/orders?upstream_state=bogus")
        assert r.status_code == 400 and "needs_attention" in r.text  # the refusal lists the states


async def _balance_by_key(panel, key: str) -> int:
    """As the API finds a key: among current keys, then among old ones in grace."""
    customer = Customer.from_api_key(key)
    try:
        return await accounts.balance(panel, customer)
    except InvalidApiKey:
        return await accounts.balance(panel, customer.as_old_key())


async def test_an_operator_rotates_a_key_with_grace_and_sees_only_its_visible_start_after(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        olga = await operator(panel, browser)
        await customer(browser, "alice")
        alice_id = await user_id(panel, "alice")
        old = (await accounts.rotate_key(panel, alice_id, actor="cli")).api_key
        page = f"/admin/users/{alice_id}"
        r = await olga.submit(f"{page}/key", {"grace": "1w"}, form_page=page)
        assert r.status_code == 400 and "at most 30d" in field_error(r.text, "grace")
        assert await _balance_by_key(panel, old) == 0  # the key is unchanged

        r = await olga.submit(f"{page}/key", {"grace": "2h"}, form_page=page)
        assert r.status_code == 200 and "shown only this once" in r.text and "The old key works until" in r.text
        new = re.search(r'id="new-key" class="key" type="text" readonly value="([^"]+)"', r.text).group(1)
        for key in (old, new):  # both work during the grace
            assert await _balance_by_key(panel, key) == 0
        later = (await olga.get(page)).text
        assert new not in later and old not in later  # never shown again
        shown = re.search(r'data-testid="api-key">(.*?)</dd>', later, re.S).group(1)
        assert f"<code>{new[:20]}_…</code>" in shown and "by olga" in shown
        assert f"<code>{old[:20]}_…</code>" in re.search(r'data-testid="old-api-key">(.*?)</dd>', later, re.S).group(1)

        r = await olga.submit(f"{page}/key", {"grace": ""}, form_page=page)  # no grace: the old key stops now
        assert "The old key no longer works." in r.text
        with pytest.raises(InvalidApiKey):
            await _balance_by_key(panel, new)
        assert 'data-testid="old-api-key"' not in (await olga.get(page)).text
