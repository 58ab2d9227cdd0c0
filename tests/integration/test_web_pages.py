"""The customer's pages on real SQLite and PostgreSQL databases, in-process:
orders of each kind and their errors, isolation between customers, escaping."""

from __future__ import annotations

import html
from html.parser import HTMLParser
import re
from decimal import Decimal

import pytest

from smmpanel.demo import DEMO_CATALOG
from smmpanel.services import accounts, catalog, orders
from websupport import field_error, website

pytestmark = pytest.mark.anyio

SERVICE = {name: i for i, (_c, name, *_rest) in enumerate(DEMO_CATALOG, start=1)}
LIKES = SERVICE["Facebook Post Likes"]  # Default, 0.90 per 1000, min 50, refill + cancel + drip-feed
COMMENTS = SERVICE["Facebook Custom Comments"]  # 8 per 1000 comments
SUBSCRIPTION = SERVICE["Instagram Auto Likes (subscription)"]


@pytest.fixture(autouse=True)
def panel_secret(monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")


async def shop(app, *names: str, balance: str = "50"):
    """The demo catalog, and customers who signed up and were credited by an operator."""
    panel = app.site.state.web.panel
    for category, name, type_, rate, lo, hi, flags in DEMO_CATALOG:
        await catalog.add_service(panel, name=name, category=category, type=type_, rate=rate, min=lo, max=hi, **flags)
    return panel


async def customer(panel, browser, name: str, balance: str = "50"):
    b = browser()
    await b.sign_up(name)
    await accounts.add_funds(panel, name, Decimal(balance), actor="ops")
    return b


def balance_on(page: str) -> str:
    return re.search(r'data-testid="balance">([^<]+)<', page).group(1)


def placed_id(response) -> int:
    return int(response.headers["location"].rsplit("placed=", 1)[1])


async def test_orders_of_several_types_are_charged_by_the_api_rules(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "alice")
        r = await b.submit("/order", {"service": LIKES, "link": "https://facebook.com/p/1", "quantity": "1000"})
        likes = placed_id(r)
        page = (await b.get(r.headers["location"])).text
        assert f'<a href="/orders/{likes}">{likes}</a>' in page and "New balance: 49.10000 USD" in page
        r = await b.submit("/order", {"service": COMMENTS, "link": "https://facebook.com/p/1",
                                      "comments": "Nice!\r\nGreat\r\n\r\nWow"})
        comments = placed_id(r)
        drip = placed_id(await b.submit("/order", {"service": LIKES, "link": "https://facebook.com/p/2",
                                                   "quantity": "100", "runs": "5", "interval": "30"}))
        listing = (await b.get("/orders")).text
        for order_id, charge in ((likes, "0.90000 USD"), (comments, "0.02400 USD"), (drip, "0.45000 USD")):
            row = listing.split(f'<a href="/orders/{order_id}">')[1].split("</tr>")[0]
            assert charge in row, (order_id, row)
        assert balance_on((await b.get("/")).text) == "48.62600 USD"


async def test_a_refused_order_shows_the_api_error_next_to_its_field_keeps_the_form_and_charges_nothing(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "bob")
        cases = [
            ({"service": LIKES, "link": "https://facebook.com/p/1", "quantity": "10"}, "quantity",
             "Quantity less than minimal 50"),
            ({"service": LIKES, "link": "not a link", "quantity": "100"}, "link", "Bad link"),
            ({"service": LIKES, "link": "https://facebook.com/p/1", "quantity": "100", "runs": "5"}, "interval",
             "Invalid interval: is required"),
            ({"service": COMMENTS, "link": "https://facebook.com/p/1", "comments": ""}, "comments",
             "Invalid comments: is required"),
            ({"service": SUBSCRIPTION, "username": "someone", "min": "100", "max": "50"}, "min",
             "Invalid min: must not be above max"),
            ({"service": LIKES, "link": "https://facebook.com/p/1", "quantity": "50000", "runs": "2", "interval": "5"}, "form",
             "Not enough funds on balance"),
        ]
        for data, field, text in cases:
            r = await b.submit("/order", data)
            assert r.status_code == 400
            shown = field_error(r.text, field) if field != "form" else r.text
            assert shown and text in shown, (data, field, r.text[-3000:])
            if data.get("link") and data["link"] != "not a link":
                assert f'value="{data["link"]}"' in r.text  # the form keeps what was typed
        assert balance_on((await b.get("/")).text) == "50.00000 USD"
        assert "No orders yet" in (await b.get("/")).text


async def test_the_form_shows_exactly_the_chosen_types_fields(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "carol")

        def visible(page: str) -> set[str]:
            return set(re.findall(r'data-field="(\w+)"(?! hidden)', page)) - {"service", "category"}

        assert visible((await b.get(f"/order?service={LIKES}")).text) == {"link", "quantity", "runs", "interval"}
        assert visible((await b.get(f"/order?service={COMMENTS}")).text) == {"link", "comments"}
        assert visible((await b.get(f"/order?service={SUBSCRIPTION}")).text) == {
            "username", "min", "max", "posts", "old_posts", "delay", "expiry"}
        page = (await b.get("/order")).text
        assert f"{LIKES} — Facebook Post Likes — 0.90000 USD per 1000" in page


async def test_charge_before_submitting_comes_from_the_pricing_rules(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "dan")
        r = await b.submit("/order/charge", {"service": LIKES, "link": "https://x.com/1", "quantity": "1000",
                                             "runs": "3", "interval": "10"}, form_page="/order")
        assert r.json() == {"charge": "2.70000 USD"}
        r = await b.submit("/order", {"service": LIKES, "link": "https://x.com/1", "quantity": "2000", "quote": "1"})
        assert r.status_code == 200 and "1.80000 USD" in r.text
        assert balance_on((await b.get("/")).text) == "50.00000 USD"  # a quote places nothing


async def test_mass_order_creates_the_good_lines_and_says_why_the_others_failed(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "erin")
        lines = f"{LIKES} | https://facebook.com/p/1 | 100\n{LIKES} | https://facebook.com/p/2 | 5\nnonsense\n" \
                f"{LIKES} | https://facebook.com/p/3 | 200"
        r = await b.submit("/mass-order", {"orders": lines})
        assert "Created: 2. Failed: 2." in r.text
        assert "Quantity less than minimal 50" in r.text and "Expected: service_id | link | quantity" in r.text
        too_many = "\n".join(f"{LIKES} | https://x.com/{i} | 100" for i in range(101))
        r = await b.submit("/mass-order", {"orders": too_many})
        assert r.status_code == 400 and "at most 100" in field_error(r.text, "orders")
        assert len(re.findall(r'<a href="/orders/\d+">', (await b.get("/orders")).text)) == 2


async def test_refill_and_cancel_buttons_only_where_allowed(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "fay")
        first = placed_id(await b.submit("/order", {"service": LIKES, "link": "https://x.com/1", "quantity": "100"}))
        second = placed_id(await b.submit("/order", {"service": SERVICE["Facebook Poll Votes"],
                                                     "link": "https://x.com/2", "quantity": "100",
                                                     "answer_number": "2"}))
        page = (await b.get(f"/orders/{first}")).text
        assert ">Cancel</button>" in page and ">Refill</button>" not in page  # Pending, cancel-able service
        page = (await b.get(f"/orders/{second}")).text
        assert ">Cancel</button>" not in page and ">Refill</button>" not in page  # the service allows neither
        r = await b.submit(f"/orders/{first}/cancel", {}, form_page=f"/orders/{first}")
        page = (await b.get(r.headers["location"])).text
        assert "Cancel accepted" in page and "Canceled" in page and ">Cancel</button>" not in page
        assert balance_on((await b.get("/")).text) == "49.68000 USD"  # the first one refunded in full
        third = placed_id(await b.submit("/order", {"service": LIKES, "link": "https://x.com/3", "quantity": "100"}))
        await orders.operator_set_status(panel, third, "Completed", actor="ops")
        page = (await b.get(f"/orders/{third}")).text
        assert ">Refill</button>" in page and ">Cancel</button>" not in page
        await b.submit(f"/orders/{third}/refill", {}, form_page=f"/orders/{third}")
        assert ">Refill</button>" not in (await b.get(f"/orders/{third}")).text  # one is already active
        again = await b.submit(f"/orders/{third}/refill", {}, form_page=f"/orders/{third}")
        assert again.status_code == 400 and "already has an active refill" in again.text
        refills_page = (await b.get("/refills")).text
        assert f'<a href="/orders/{third}">{third}</a>' in refills_page and "Pending" in refills_page


async def test_a_customer_never_sees_or_touches_another_customers_things(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        alice = await customer(panel, browser, "alice")
        mallory = await customer(panel, browser, "mallory")
        theirs = placed_id(await alice.submit("/order", {"service": LIKES, "link": "https://alice.example/secret",
                                                         "quantity": "100"}))
        await alice.submit("/funds", {"amount": "5", "reference": "ALICE-REF"})
        # By URL and id:
        assert (await mallory.get(f"/orders/{theirs}")).status_code == 404
        for action in ("cancel", "refill"):
            r = await mallory.submit(f"/orders/{theirs}/{action}", {}, form_page="/orders")
            assert r.status_code == 404
        # By search and listing:
        for query in (f"?q={theirs}", "?q=alice.example", ""):
            listing = (await mallory.get(f"/orders{query}")).text
            assert "No orders found" in listing and f'href="/orders/{theirs}"' not in listing
        funds_page = (await mallory.get("/funds")).text
        assert "ALICE-REF" not in funds_page and f'href="/orders/{theirs}"' not in funds_page  # nor her ledger
        assert f'href="/orders/{theirs}"' in (await alice.get("/funds")).text  # (where her charge does show)
        # Refills: Alice's refill is on her page only, and Mallory cannot ask one for Alice's order.
        done = placed_id(await alice.submit("/order", {"service": LIKES, "link": "https://alice.example/done",
                                                       "quantity": "100"}))
        await orders.operator_set_status(panel, done, "Completed", actor="ops")
        assert (await mallory.submit(f"/orders/{done}/refill", {}, form_page="/orders")).status_code == 404
        await alice.submit(f"/orders/{done}/refill", {}, form_page=f"/orders/{done}")
        assert f'href="/orders/{done}"' in (await alice.get("/refills")).text
        assert f'href="/orders/{done}"' not in (await mallory.get("/refills")).text
        # By form field: a smuggled user id or order id changes nothing of Alice's.
        await mallory.submit("/funds", {"amount": "7", "reference": "M", "user_id": "1", "user": "alice"})
        assert "M</td>" in (await mallory.get("/funds")).text
        assert "ALICE-REF" in (await alice.get("/funds")).text and ">7.00000 USD" not in (await alice.get("/funds")).text
        page = (await alice.get(f"/orders/{theirs}")).text
        assert "Pending" in page and "Canceled" not in page


async def test_user_text_is_shown_as_text_never_as_markup(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "gus")
        evil = "https://x.com/<script>alert(1)</script>"
        order_id = placed_id(await b.submit("/order", {"service": COMMENTS, "link": evil,
                                                       "comments": "<img src=x onerror=alert(1)>\nok"}))
        for path in ("/orders", f"/orders/{order_id}", "/"):
            page = (await b.get(path)).text
            assert "<script>alert(1)" not in page and "<img src=x" not in page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        await b.submit("/funds", {"amount": "1", "reference": "<b>bold</b>"})
        assert "&lt;b&gt;bold&lt;/b&gt;" in (await b.get("/funds")).text


async def test_funds_request_is_listed_pending_and_bad_amounts_are_refused_at_the_field(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "hal")
        for amount, text in (("", "is required"), ("abc", "decimal"), ("-5", "negative"), ("0", "Invalid amount")):
            r = await b.submit("/funds", {"amount": amount})
            assert r.status_code == 400 and text in (field_error(r.text, "amount") or ""), (amount, r.text[-1500:])
        assert "No requests yet" in (await b.get("/funds")).text  # the refused ones asked for nothing
        r = await b.submit("/funds", {"amount": "12.5", "reference": "FT123"})
        page = (await b.get(r.headers["location"])).text
        row = page.split("FT123")[0].rsplit("<tr>", 1)[1]
        assert "12.50000 USD" in row and "Pending" in page.split("FT123")[1].split("</tr>")[0]
        statement = page.split("Statement")[1]
        assert "Deposit" in statement and "50.00000 USD" in statement  # the operator's credit, as a ledger entry


async def test_api_docs_are_generated_from_the_live_catalog_and_readable_signed_out(db_url):
    async with website(db_url, dialect="like3s") as (app, browser):
        await shop(app)
        page = html.unescape((await browser().get("/api-docs")).text)
        assert "http://panel.test/api/v2" in page and "Facebook Post Likes" in page
        assert "Custom Comments" in page and "<code>comments</code>" in page
        assert '"currency": "VND"' in page and '"balance": 100842920' not in page  # like3s: VND numbers
        assert re.search(r'"balance": 101\b', page)  # 100.84292 shown with VND's 0 decimals
        assert "curl" in page and "import requests" in page and "curl_init" in page


async def test_a_double_clicked_place_order_makes_one_order(db_url):
    """The order form carries an idempotency key: the same form sent twice
    (a double click, a browser retry) places one order and charges once."""
    import re as _re

    from websupport import csrf_of

    async with website(db_url) as (app, browser):
        panel = await shop(app)
        b = await customer(panel, browser, "dora")
        form_page = (await b.get(f"/order?service={LIKES}")).text
        key = _re.search(r'name="idempotency_key" value="([^"]+)"', form_page).group(1)
        data = {"csrf": csrf_of(form_page), "idempotency_key": key, "service": LIKES,
                "link": "https://facebook.com/p/9", "quantity": "1000"}
        first, second = [await b.client.post("/order", data=data) for _ in range(2)]
        assert placed_id(first) == placed_id(second)
        assert balance_on((await b.get("/")).text).startswith("49.10000")  # one charge of 0.90
        next_key = _re.search(r'name="idempotency_key" value="([^"]+)"', (await b.get("/order")).text).group(1)
        assert next_key != key  # a new form, a new order


class _Controls(HTMLParser):
    """The labels, form controls and buttons of a page, as a browser's accessibility tree sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}  # for= id -> label text
        self.controls: list[tuple[str, str | None, bool]] = []  # (tag, id, hidden by its field)
        self.buttons: list[str] = []
        self._label_for: str | None = None
        self._button: list[str] | None = None
        self._text: list[str] = []
        self._hidden_depth: list[bool] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div":
            self._hidden_depth.append("hidden" in a)
        elif tag == "label":
            self._label_for, self._text = a.get("for") or "", []
        elif tag == "button":
            self._button = []
        elif tag in ("select", "textarea") or (tag == "input" and a.get("type") not in ("hidden", "submit", "button")):
            self.controls.append((tag, a.get("id"), any(self._hidden_depth)))

    def handle_endtag(self, tag):
        if tag == "div" and self._hidden_depth:
            self._hidden_depth.pop()
        elif tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = " ".join("".join(self._text).split())
            self._label_for = None
        elif tag == "button" and self._button is not None:
            self.buttons.append(" ".join("".join(self._button).split()))
            self._button = None

    def handle_data(self, data):
        if self._label_for is not None:
            self._text.append(data)
        if self._button is not None:
            self._button.append(data)


def controls_of(page: str) -> _Controls:
    parsed = _Controls()
    parsed.feed(page)
    unlabelled = [(tag, id_) for tag, id_, _ in parsed.controls if not id_ or not parsed.labels.get(id_)]
    assert not unlabelled, f"controls without a <label for>: {unlabelled}"
    assert all(parsed.buttons), f"a button that says nothing: {parsed.buttons}"
    return parsed


# The labels contract of the issue: page -> (labels, buttons), in English.
CONTRACT = {
    "/signup": ({"Username", "Email", "Password"}, {"Sign up"}),
    "/login": ({"Username", "Password"}, {"Sign in"}),
    "/order": ({"Category", "Service"}, {"Place order", "Sign out"}),
    "/mass-order": ({"Orders"}, {"Place orders", "Sign out"}),
    "/orders": (set(), {"Sign out"}),
    "/refills": (set(), {"Sign out"}),
    "/funds": ({"Amount", "Reference"}, {"Request funds", "Sign out"}),
    "/account": ({"Current password", "New password"}, {"Change password", "Generate new key", "Sign out"}),
    "/": (set(), {"Sign out"}),
    "/api-docs": (set(), {"Sign out"}),
}
ORDER_FIELDS = {"Link", "Quantity", "Comments", "Usernames", "Username", "Hashtags", "Media", "Answer number", "Min",
                "Max", "Posts", "Old posts", "Delay", "Expiry", "Runs", "Interval"}


@pytest.mark.parametrize("lang", ["en", "vi"])
async def test_every_control_has_its_label_and_the_contract_labels_are_on_their_pages(db_url, lang):
    from smmpanel.web.i18n import gettext_for

    _ = gettext_for(lang)
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        visitor = browser()
        if lang == "vi":
            await visitor.submit("/language", {"lang": "vi", "next": "/login"}, form_page="/login")
        for path in ("/signup", "/login"):
            labels, buttons = CONTRACT[path]
            parsed = controls_of((await visitor.get(path)).text)
            assert {_(t) for t in labels} <= set(parsed.labels.values()), (path, parsed.labels)
            assert {_(t) for t in buttons} <= set(parsed.buttons), (path, parsed.buttons)
        b = visitor
        await b.sign_up("lena")
        await accounts.add_funds(panel, "lena", Decimal("50"), actor="ops")
        order_id = placed_id(await b.submit("/order", {"service": LIKES, "link": "https://x.com/1", "quantity": "100"}))
        for path, (labels, buttons) in CONTRACT.items():
            if path in ("/signup", "/login"):
                continue
            parsed = controls_of((await b.get(path)).text)
            assert {_(t) for t in labels} <= set(parsed.labels.values()), (path, parsed.labels)
            assert {_(t) for t in buttons} <= set(parsed.buttons), (path, parsed.buttons)
        detail = controls_of((await b.get(f"/orders/{order_id}")).text)
        assert _("Cancel") in detail.buttons
        # Over the catalog's types, the order form shows each field of the contract, labelled, when chosen.
        shown: set[str] = set()
        for service_id in range(1, len(DEMO_CATALOG) + 1):
            parsed = controls_of((await b.get(f"/order?service={service_id}")).text)
            shown |= {parsed.labels[id_] for tag, id_, hidden in parsed.controls if not hidden}
        assert {_(t) for t in ORDER_FIELDS} <= shown, sorted({_(t) for t in ORDER_FIELDS} - shown)
        if lang == "vi":  # no English label left where Vietnamese has its own word
            english = {t for t in ORDER_FIELDS | {"Category", "Service", "Amount", "Reference"} if _(t) != t}
            assert english and not english & shown


async def test_the_order_form_shows_the_services_description_min_and_max(db_url):
    async with website(db_url) as (app, browser):
        panel = await shop(app)
        sid = await catalog.add_service(panel, name="Slow likes", category="Other", type="Default", rate="1", min=10,
                                        max=500, description="Starts within 6 hours <b>no drop</b>")
        b = await customer(panel, browser, "mia")
        page = (await b.get(f"/order?service={sid}")).text
        info = re.search(r'<p class="service-info" data-service-info>(.*?)</p>', page, re.S).group(1)
        assert info == "Min 10, max 500. Starts within 6 hours &lt;b&gt;no drop&lt;/b&gt;"
