"""What a customer reads (the website's pages and the API's reads), on both
engines: pages of orders, refills and ledger entries, filters and search,
one order's detail, and the rule that nobody sees another's account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from smmpanel.domain.errors import AccountUnavailable, IncorrectOrder, InvalidApiKey, InvalidField
from smmpanel.services import accounts, catalog, orders, refills
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer

pytestmark = pytest.mark.anyio

RATE = "2"  # per 1000: 1000 units cost 2.000000
CHARGE_MICROS = 2_000_000
LINKS = ["https://insta.com/p/Alpha", "https://insta.com/p/beta_1", "https://insta.com/p/beta-2",
         "https://tiktok.com/@gamma", "https://insta.com/p/delta"]


async def _shop(panel: Panel) -> dict[str, Any]:
    """alice with five orders (one Completed and refilled, one Partial, one
    Canceled), bob with one order of his own."""
    alice_id, alice_key = await accounts.add_user(panel, "alice", Decimal("100"), actor="ops")
    bob_id, bob_key = await accounts.add_user(panel, "bob", Decimal("100"), actor="ops")
    sid = await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate=RATE, min=10,
                                    max=10_000, refill=True, cancel=True)
    alice = Customer.from_api_key(alice_key)
    ids = [await orders.place_order(panel, alice, {"service": sid, "link": link, "quantity": 1000}) for link in LINKS]
    bob_order = await orders.place_order(panel, Customer.from_api_key(bob_key),
                                         {"service": sid, "link": LINKS[0], "quantity": 1000})
    await orders.operator_set_status(panel, ids[0], "Completed", actor="ops")
    await orders.operator_set_status(panel, ids[1], "Partial", remains=250, actor="ops")
    assert await orders.cancel(panel, alice, [ids[2]]) == {ids[2]: None}
    refill_id = (await refills.request(panel, alice, [ids[0]]))[ids[0]]
    return {"alice": alice, "alice_id": alice_id, "bob": Customer.from_api_key(bob_key), "bob_id": bob_id,
            "ids": ids, "bob_order": bob_order, "refill": refill_id, "service": sid}


async def _all_pages(read, **kwargs) -> list[list[int]]:
    pages, before = [], None
    while True:
        page = await read(before_id=before, **kwargs)
        pages.append([item.id for item in page.items])
        if page.next_before_id is None:
            return pages
        before = page.next_before_id


async def test_orders_page_newest_first_by_keyset(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        ids = shop["ids"]
        pages = await _all_pages(lambda **kw: orders.customer_orders(panel, shop["alice"], **kw), limit=2)
        assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
        whole = await orders.customer_orders(panel, shop["alice"])
        assert [o.id for o in whole.items] == ids[::-1] and whole.next_before_id is None


async def test_orders_filter_by_status_and_search(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        alice, ids = shop["alice"], shop["ids"]

        async def found(**kwargs) -> list[int]:
            return [o.id for o in (await orders.customer_orders(panel, alice, **kwargs)).items]

        assert await found(status="Partial") == [ids[1]]
        assert await found(status="canceled") == [ids[2]]  # any case, as the operator's spelling
        assert await found(status="Pending") == [ids[4], ids[3]]
        assert await found(search="BETA") == [ids[2], ids[1]]  # a piece of the link, any case
        assert await found(search="_") == [ids[1]]  # LIKE's wildcards are plain characters here
        assert await found(search="tiktok.com/@") == [ids[3]]
        assert await found(search=f" {ids[3]} ") == [ids[3]]  # an order id
        assert await found(search="beta", status="Partial") == [ids[1]]
        assert await found(search="nothing-like-this") == []
        assert await found(search="") == ids[::-1]  # an empty search box finds everything
        with pytest.raises(InvalidField) as err:
            await found(status="Done")
        assert err.value.params["field"] == "status"


async def test_order_detail(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        partial = await orders.customer_order(panel, shop["alice"], shop["ids"][1])
        assert (partial.status, partial.remains, partial.link) == ("Partial", 250, LINKS[1])
        assert partial.charge_micros == CHARGE_MICROS and partial.refund_micros == CHARGE_MICROS // 4
        assert partial.service_name == "Likes" and partial.quantity == 1000 and partial.params == {}
        with pytest.raises(IncorrectOrder):
            await orders.customer_order(panel, shop["alice"], 999_999)


async def test_nobody_sees_another_customers_account(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        bob, alice_order = shop["bob"], shop["ids"][0]
        page = await orders.customer_orders(panel, bob)
        assert [o.id for o in page.items] == [shop["bob_order"]]
        assert (await orders.customer_orders(panel, bob, search=str(alice_order))).items == []
        with pytest.raises(IncorrectOrder):
            await orders.customer_order(panel, bob, alice_order)
        assert await orders.statuses(panel, bob, [alice_order]) == {}
        assert (await refills.customer_refills(panel, bob)).items == []
        assert await refills.statuses(panel, bob, [shop["refill"]]) == {}
        entries = (await accounts.statement(panel, bob)).items
        assert {e.order_id for e in entries} == {None, shop["bob_order"]}
        assert isinstance((await orders.cancel(panel, bob, [shop["ids"][4]]))[shop["ids"][4]], IncorrectOrder)
        assert isinstance((await refills.request(panel, bob, [alice_order]))[alice_order], IncorrectOrder)
        assert (await orders.customer_order(panel, shop["alice"], shop["ids"][4])).status == "Pending"


async def test_refills_page(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        page = await refills.customer_refills(panel, shop["alice"])
        [refill] = page.items
        assert (refill.id, refill.order_id, refill.status, refill.link) == (
            shop["refill"], shop["ids"][0], "Pending", LINKS[0])
        assert page.next_before_id is None


async def test_statement_and_summary(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        alice, ids = shop["alice"], shop["ids"]
        entries = [e for page in await _all_pages(lambda **kw: accounts.statement(panel, alice, **kw), limit=3)
                   for e in page]
        full = (await accounts.statement(panel, alice, limit=50)).items
        assert entries == [e.id for e in full]
        # deposit, five charges, a partial refund, a cancel refund: newest first
        assert [(e.kind, e.order_id) for e in full] == [
            ("refund", ids[2]), ("refund", ids[1]), *[("charge", i) for i in reversed(ids)], ("deposit", None)]
        assert full[0].balance_after_micros == 100_000_000 - 5 * CHARGE_MICROS + CHARGE_MICROS // 4 + CHARGE_MICROS
        summary = await accounts.summary(panel, alice)
        spent = 5 * CHARGE_MICROS - CHARGE_MICROS // 4 - CHARGE_MICROS
        assert (summary.name, summary.spent_micros, summary.currency) == ("alice", spent, "USD")
        assert summary.balance_micros == full[0].balance_after_micros == await accounts.balance(panel, alice)


async def test_a_web_session_reads_the_same_account(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        by_key, by_id = shop["alice"], Customer.from_user_id(shop["alice_id"])
        assert await accounts.balance(panel, by_id) == await accounts.balance(panel, by_key)
        assert (await orders.customer_orders(panel, by_id)).items == (await orders.customer_orders(panel, by_key)).items
        assert (await orders.statuses(panel, by_id, shop["ids"])).keys() == set(shop["ids"])
        assert [s["id"] for s in await catalog.customer_services(panel, by_id)] == [shop["service"]]


async def test_unknown_or_disabled_accounts_are_refused(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        await accounts.set_active(panel, "alice", False)
        for customer, error in ((shop["alice"], InvalidApiKey), (Customer.from_api_key("nope"), InvalidApiKey),
                                (Customer.from_user_id(shop["alice_id"]), AccountUnavailable),
                                (Customer.from_user_id(10**12), AccountUnavailable)):
            for read in (lambda: accounts.balance(panel, customer), lambda: accounts.summary(panel, customer),
                         lambda: accounts.statement(panel, customer), lambda: orders.customer_orders(panel, customer),
                         lambda: refills.customer_refills(panel, customer),
                         lambda: orders.statuses(panel, customer, shop["ids"]),
                         lambda: catalog.customer_services(panel, customer)):
                with pytest.raises(error):
                    await read()
        assert (await orders.customer_orders(panel, shop["bob"])).items  # bob is unaffected


@pytest.mark.parametrize("limit", [0, 201, "x"])
async def test_page_size_is_bounded(db_url, panel_factory, limit):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        with pytest.raises(InvalidField) as err:
            await orders.customer_orders(panel, shop["alice"], limit=limit)
        assert err.value.params["field"] == "limit"


class _CountingDb:
    """The panel's database, counting the statements sent outside transactions."""

    def __init__(self, db: Any) -> None:
        self._db, self.statements = db, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._db, name)
        if name in ("fetch", "fetchrow", "fetchval", "execute"):
            async def counted(*args: Any) -> Any:
                self.statements += 1
                return await attr(*args)
            return counted
        return attr


async def test_api_reads_are_one_statement_each(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        shop = await _shop(panel)
        db = _CountingDb(panel.db)
        counted = Panel(db=db, currency=panel.currency, clock=panel.clock)  # type: ignore[arg-type]
        alice = shop["alice"]
        for read in (lambda: accounts.balance(counted, alice), lambda: orders.statuses(counted, alice, shop["ids"]),
                     lambda: catalog.customer_services(counted, alice),
                     lambda: refills.statuses(counted, alice, [shop["refill"]])):
            db.statements = 0
            assert await read()
            assert db.statements == 1
