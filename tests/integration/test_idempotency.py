"""Idempotency-Key on add, addBulk, refill and cancel, through the real app
on both engines: a retry gets the first reply byte for byte and nothing new
is charged; another request under the same key is refused; concurrent
requests with one key make one order; the claim commits with the write."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import orjson
import pytest

from smmpanel.app import PanelApp
from smmpanel.services import accounts, audit, catalog, idempotency, orders
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.settings import Settings
from smmpanel.domain.errors import IdempotencyKeyReused
from smmpanel.store.db import open_database
from smmpanel.store.orders import KeyClaim

pytestmark = pytest.mark.anyio
API = "/api/v2"
REUSED = "Idempotency key already used for a different request; use a new key"


@asynccontextmanager
async def api(url: str):
    app = PanelApp(Settings(database_url=url), pg_pool_max=20)
    async with app.site.router.lifespan_context(app.site):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel.test") as client:
            yield client


async def _seed(url: str, balance: str = "10"):
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        _, alice = await accounts.add_user(panel, "alice", Decimal(balance), actor="ops")
        _, bob = await accounts.add_user(panel, "bob", Decimal(balance), actor="ops")
        sid = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="1", min=10,
                                        max=10000, cancel=True, refill=True)
        return alice, bob, sid
    finally:
        await db.close()


async def _scalar(url: str, sql: str):
    db = await open_database(url, pg_pool_max=1)
    try:
        return await db.fetchval(sql)
    finally:
        await db.close()


def _add(key: str, sid: int, **extra) -> dict:
    return {"key": key, "action": "add", "service": sid, "link": "https://x.com/p", "quantity": 1000, **extra}


async def test_a_retried_add_gets_the_first_reply_and_is_charged_once(db_url):
    alice, _, sid = await _seed(db_url)
    async with api(db_url) as client:
        first = await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "k-1"})
        again = await client.post(API, json=_add(alice, sid), headers={"Idempotency-Key": "k-1"})  # JSON this time
        by_field = await client.post(API, data=_add(alice, sid, idempotency_key="k-1"))
        assert "order" in first.json()
        assert again.content == first.content and by_field.content == first.content
        balance = (await client.post(API, data={"key": alice, "action": "balance"})).json()["balance"]
    assert Decimal(balance) == Decimal("9")  # one order of 1000 at 1 per 1000
    assert await _scalar(db_url, "SELECT COUNT(*) FROM orders") == 1
    assert await _scalar(db_url, "SELECT COUNT(*) FROM ledger WHERE kind = 'charge'") == 1


async def test_the_same_key_for_another_request_is_refused_and_changes_nothing(db_url):
    alice, _, sid = await _seed(db_url)
    async with api(db_url) as client:
        await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "k-2"})
        other = await client.post(API, data=_add(alice, sid, quantity=2000), headers={"Idempotency-Key": "k-2"})
        assert other.status_code == 200 and other.json() == {"error": REUSED}
        other_action = await client.post(API, data={"key": alice, "action": "cancel", "orders": "1"},
                                         headers={"Idempotency-Key": "k-2"})
        assert other_action.json() == {"error": REUSED}
        too_long = await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "x" * 256})
        assert too_long.json() == {"error": "Invalid idempotency_key: must be at most 255 characters"}
    assert await _scalar(db_url, "SELECT COUNT(*) FROM orders") == 1


async def test_keys_are_per_account(db_url):
    alice, bob, sid = await _seed(db_url)
    async with api(db_url) as client:
        mine = await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "shared"})
        his = await client.post(API, data=_add(bob, sid), headers={"Idempotency-Key": "shared"})
        assert mine.json()["order"] != his.json()["order"]


async def test_concurrent_requests_with_one_key_make_one_order(db_url):
    alice, _, sid = await _seed(db_url)
    async with api(db_url) as client:
        replies = await asyncio.gather(*(client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "race"})
                                         for _ in range(12)))
    assert len({reply.content for reply in replies}) == 1 and "order" in replies[0].json()
    assert await _scalar(db_url, "SELECT COUNT(*) FROM orders") == 1


async def test_bulk_cancel_and_refill_replay_their_first_reply(db_url):
    alice, _, sid = await _seed(db_url)
    bulk = {"key": alice, "action": "addBulk", "service": sid, "quantity": 100,
            "links": ["https://x.com/1", "https://x.com/2", "not a link at all \x01"]}
    async with api(db_url) as client:
        first = await client.post(API, json=bulk, headers={"Idempotency-Key": "bulk"})
        again = await client.post(API, json=bulk, headers={"Idempotency-Key": "bulk"})
        assert again.content == first.content and len(first.json()["created"]) == 2
        order = first.json()["created"][0]["order"]
        cancel = {"key": alice, "action": "cancel", "orders": str(order)}
        canceled = await client.post(API, data=cancel, headers={"Idempotency-Key": "c"})
        assert canceled.json() == [{"order": order, "cancel": 1}]
        # without the key a second cancel is refused; with it, the first answer again
        assert (await client.post(API, data=cancel, headers={"Idempotency-Key": "c"})).content == canceled.content
        assert "error" in (await client.post(API, data=cancel)).json()[0]["cancel"]
    assert await _scalar(db_url, "SELECT COUNT(*) FROM orders") == 2
    assert await _scalar(db_url, "SELECT COUNT(*) FROM ledger WHERE kind = 'refund'") == 1

    other = (first.json()["created"][1]["order"])
    db = await open_database(db_url, pg_pool_max=2)
    try:
        await orders.operator_set_status(Panel(db=db), other, "Completed", actor="ops")
    finally:
        await db.close()
    async with api(db_url) as client:
        refill = {"key": alice, "action": "refill", "order": other}
        one = await client.post(API, data=refill, headers={"Idempotency-Key": "r"})
        two = await client.post(API, data=refill, headers={"Idempotency-Key": "r"})
        assert "refill" in one.json() and two.content == one.content
    assert await _scalar(db_url, "SELECT COUNT(*) FROM refills") == 1


async def test_a_refused_write_keeps_no_claim(db_url):
    alice, _, sid = await _seed(db_url, balance="0.5")
    async with api(db_url) as client:
        poor = await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "later"})
        assert poor.json() == {"error": "Not enough funds on balance"}
        db = await open_database(db_url, pg_pool_max=2)
        try:
            await accounts.add_funds(Panel(db=db), "alice", Decimal("5"), actor="ops")
        finally:
            await db.close()
        rich = await client.post(API, data=_add(alice, sid), headers={"Idempotency-Key": "later"})
        assert "order" in rich.json()


async def test_claim_order_and_charge_commit_together(db_url, panel_factory):
    """A failure after the order was written inside the guarded write (as a
    crash would) leaves no order, no charge and no claim."""
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)

        async def place_then_fail(inner: Panel) -> str:
            await orders.place_order(inner, customer, {"service": sid, "link": "https://x.com/p", "quantity": 1000})
            raise RuntimeError("the process died here")

        with pytest.raises(RuntimeError):
            await idempotency.once(panel, customer, "crash", "fp", place_then_fail)
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 0
        assert await panel.db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 0
        assert await accounts.balance(panel, customer) == 10_000_000
        assert await audit.run(panel) == []


async def test_keys_expire_after_24_hours(db_url, panel_factory, clock):
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)

        async def place(inner: Panel) -> str:
            order = await orders.place_order(inner, customer, {"service": sid, "link": "https://x.com/p",
                                                               "quantity": 1000})
            return orjson.dumps({"order": order}).decode()

        first = await idempotency.once(panel, customer, "daily", "fp", place)
        clock.advance(23 * 3600)
        assert await idempotency.once(panel, customer, "daily", "fp", place) == first
        clock.advance(2 * 3600)
        assert await idempotency.once(panel, customer, "daily", "fp", place) != first
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 2


ADD = {"link": "https://x.com/p", "quantity": 1000}


def _count_transactions(panel) -> list[int]:
    """From now on, ``[0]`` of the returned list counts the transactions the panel opens."""
    count = [0]
    real_transaction = panel.db.transaction

    def counted():
        count[0] += 1
        return real_transaction()

    panel.db.transaction = counted
    return count


async def test_keyed_adds_share_group_commits(db_url, panel_factory):
    """Keyed orders arriving together are claimed, charged and committed in
    shared transactions, like orders without a key; each key still answers
    with its own order."""
    alice, _, sid = await _seed(db_url, balance="100")
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        transactions = _count_transactions(panel)
        replies = await asyncio.gather(*(idempotency.add(panel, customer, f"k{i}", {"service": sid, **ADD})
                                         for i in range(20)))
        assert len({orjson.loads(r)["order"] for r in replies}) == 20
        assert transactions[0] < 20
        assert await asyncio.gather(*(idempotency.add(panel, customer, f"k{i}", {"service": sid, **ADD})
                                      for i in range(20))) == replies
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 20
        assert await audit.run(panel) == []


async def test_a_keyed_add_leaves_nothing_when_its_batch_fails(db_url, panel_factory):
    """The key's claim, the order and its charge commit together: a failure
    while the reply is being kept (as a crash there would) leaves none."""
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)

        def reply_then_fail(order_id: int) -> str:
            raise RuntimeError("the process died here")

        with pytest.raises(RuntimeError):
            await orders.place_order(panel, customer, {"service": sid, **ADD},
                                     claim=KeyClaim("crash", "fp", 0, reply_then_fail))
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 0
        assert await panel.db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 0
        assert await accounts.balance(panel, customer) == 10_000_000


async def test_a_retried_add_answers_even_when_it_would_now_be_refused(db_url, panel_factory):
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        first = await idempotency.add(panel, customer, "k", {"service": sid, **ADD})
        await catalog.set_service(panel, sid, {"enabled": False})
        assert await idempotency.add(panel, customer, "k", {"service": sid, **ADD}) == first
        with pytest.raises(IdempotencyKeyReused):
            await idempotency.add(panel, customer, "k", {"service": sid, **ADD, "quantity": 2000})


async def test_a_keyed_add_key_expires_after_24_hours_and_its_space_is_reclaimed(db_url, panel_factory, clock):
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        first = await idempotency.add(panel, customer, "daily", {"service": sid, **ADD})
        clock.advance(23 * 3600)
        assert await idempotency.add(panel, customer, "daily", {"service": sid, **ADD}) == first
        assert await idempotency.forget_expired(panel) == 0
        clock.advance(2 * 3600)
        second = await idempotency.add(panel, customer, "daily", {"service": sid, **ADD})
        assert second != first
        await idempotency.add(panel, customer, "other", {"service": sid, **ADD})
        clock.advance(24 * 3600 + 1)
        assert await idempotency.forget_expired(panel) == 2
        assert await panel.db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 0


async def test_expired_keys_sent_together_are_taken_over_in_one_batch(db_url, panel_factory, clock):
    """Keys past 24 hours arriving in one shared commit (with a new key and
    a live one among them) make new orders; the live one still replays."""
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        old = await asyncio.gather(*(idempotency.add(panel, customer, f"old{i}", {"service": sid, **ADD})
                                     for i in range(3)))
        clock.advance(20 * 3600)
        live = await idempotency.add(panel, customer, "live", {"service": sid, **ADD})
        clock.advance(5 * 3600)
        transactions = _count_transactions(panel)
        again = await asyncio.gather(*(idempotency.add(panel, customer, key, {"service": sid, **ADD})
                                       for key in ("old0", "old1", "old2", "new", "live")))
        if db_url.startswith("sqlite"):  # (PostgreSQL's reads go over the network: arrivals spread over batches)
            assert transactions[0] == 1
        assert again[4] == live
        assert len(set(again[:4]) | set(old) | {live}) == 8
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 8
        assert await panel.db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 5
        assert await accounts.balance(panel, customer) == 2_000_000
        assert await audit.run(panel) == []


async def test_one_key_sent_many_times_at_once_makes_one_order(db_url, panel_factory):
    """Copies of one keyed add that land in one group-commit batch (or in
    several) all answer with the one order."""
    alice, _, sid = await _seed(db_url)
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        replies = await asyncio.gather(*(idempotency.add(panel, customer, "same", {"service": sid, **ADD})
                                         for _ in range(10)))
        assert len(set(replies)) == 1 and "order" in orjson.loads(replies[0])
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 1
        assert await panel.db.fetchval("SELECT reply FROM idempotency_keys") == replies[0]
        assert await accounts.balance(panel, customer) == 9_000_000


async def test_keyed_and_plain_adds_in_one_batch_each_answer_with_their_own_order(db_url, panel_factory):
    """In one shared commit, with orders without a key between them, some
    refused for funds and a retry among them: each keyed reply names the
    order made from that request (its link), and a refused one keeps no key.
    (On SQLite a keyed order's id is known before it is written: it follows
    from the orders placed before it in the same transaction. Were it wrong,
    the order's insert would fail and its batch go again one by one.)"""
    alice, _, sid = await _seed(db_url)  # 10.00: ten orders of 1.00
    async with panel_factory(db_url) as panel:
        customer = Customer.from_api_key(alice)
        early = await idempotency.add(panel, customer, "early", {"service": sid, **ADD, "link": "https://x.com/early"})
        requests = []
        for i in range(7):
            requests.append(orders.place_order(panel, customer, {"service": sid, **ADD, "link": f"https://x.com/p{i}"}))
            requests.append(idempotency.add(panel, customer, f"k{i}", {"service": sid, **ADD,
                                                                       "link": f"https://x.com/k{i}"}))
        requests.append(idempotency.add(panel, customer, "early", {"service": sid, **ADD, "link": "https://x.com/early"}))
        transactions = _count_transactions(panel)
        results = await asyncio.gather(*requests, return_exceptions=True)

        # shared commits: no batch failed and went again one order at a time (that makes one per request)
        assert transactions[0] < len(requests) // 2

        assert results[-1] == early
        keyed = {f"k{i}": results[2 * i + 1] for i in range(7)}
        placed_keys = {key: orjson.loads(reply)["order"] for key, reply in keyed.items() if isinstance(reply, str)}
        for key, order_id in placed_keys.items():
            assert await panel.db.fetchval("SELECT link FROM orders WHERE id = $1", order_id) == f"https://x.com/{key}"
        refused = [r for r in results if isinstance(r, BaseException)]
        assert refused and all(type(r).__name__ == "NotEnoughFunds" for r in refused)
        assert await panel.db.fetchval("SELECT COUNT(*) FROM orders") == 10
        assert await panel.db.fetchval("SELECT COUNT(*) FROM idempotency_keys") == 1 + len(placed_keys)
        assert await accounts.balance(panel, customer) == 0
        assert await audit.run(panel) == []
