"""Group commit on real databases: one order that the database refuses
(here a charge beyond 64 bits, as the domain's limit would stop it earlier)
fails alone; the orders committed with it in the same batch stand."""

import asyncio
import dataclasses
from decimal import Decimal

import pytest

from smmpanel.domain.ordertypes import ServiceTerms, ServiceType, build_order
from smmpanel.services import accounts, audit, catalog
from smmpanel.store import orders as orders_store

pytestmark = pytest.mark.anyio

BEYOND_64_BITS = 3 * 10**19


async def _views_order(panel):
    """A Default service at 1.00 per 1000, and an order of 100 of it (0.10)."""
    sid = await catalog.add_service(panel, name="Views", category="TT", type="Default", rate="1", min=10,
                                    max=10_000)
    terms = ServiceTerms(id=sid, type=ServiceType.DEFAULT, rate_micros=1_000_000, min=10, max=10_000,
                         dripfeed=False)
    return build_order(terms, {"link": "https://example.com/p", "quantity": 100})


async def test_an_order_the_database_refuses_never_fails_its_batch(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        good_user, _ = await accounts.add_user(panel, "burst", Decimal("1000"), actor="cli")
        bad_user, _ = await accounts.add_user(panel, "mallory", Decimal("1000"), actor="cli")
        draft = await _views_order(panel)
        bad = dataclasses.replace(draft, charge_micros=BEYOND_64_BITS)
        now = panel.clock()
        calls = [orders_store.place_order(panel.db, good_user, draft, now) for _ in range(25)]
        calls += [orders_store.place_order(panel.db, bad_user, bad, now)]
        calls += [orders_store.place_order(panel.db, good_user, draft, now) for _ in range(25)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[25], Exception)
        placed = results[:25] + results[26:]
        assert all(isinstance(order_id, int) for order_id in placed), placed
        assert len(set(placed)) == 50
        assert (await accounts.user_named(panel, "burst"))["balance_micros"] == 1000_000_000 - 50 * 100_000
        assert (await accounts.user_named(panel, "mallory"))["balance_micros"] == 1000_000_000
        assert await audit.run(panel) == []


def _reply(order_id: int) -> str:
    return f'{{"order":{order_id}}}'


def _count_pipelined(monkeypatch) -> list[int]:
    """How many batches went pipelined, each with how many orders (a failed
    one would be rerun one by one, hiding the failure from the results)."""
    sizes: list[int] = []
    pipelined = orders_store._place_pipelined

    async def spy(tx, batch):
        results = await pipelined(tx, batch)
        sizes.append(len(batch))
        return results

    monkeypatch.setattr(orders_store, "_place_pipelined", spy)
    return sizes


async def test_one_batch_of_plain_keyed_retried_and_unfunded_orders(db_url, panel_factory, monkeypatch):
    """Orders that arrive together (one batch: pipelined on PostgreSQL) each
    end as they would alone: placed, refused for funds (a keyed one's key
    left free for its retry), or answered with their key's earlier reply."""
    pipelined = _count_pipelined(monkeypatch)
    async with panel_factory(db_url) as panel:
        rich, _ = await accounts.add_user(panel, "rich", Decimal("1000"), actor="cli")
        broke, _ = await accounts.add_user(panel, "broke", Decimal("0"), actor="cli")
        draft = await _views_order(panel)
        now = panel.clock()

        def claim(key: str, fingerprint: str = "f1") -> orders_store.KeyClaim:
            return orders_store.KeyClaim(key, fingerprint, now - 86_400, _reply)

        first = await orders_store.place_order(panel.db, rich, draft, now, claim=claim("earlier"))
        assert isinstance(first, int)
        results = await asyncio.gather(
            orders_store.place_order(panel.db, rich, draft, now),
            orders_store.place_order(panel.db, rich, draft, now, claim=claim("new")),
            orders_store.place_order(panel.db, rich, draft, now, claim=claim("earlier", "f2")),
            orders_store.place_order(panel.db, broke, draft, now, claim=claim("unfunded")),
            orders_store.place_order(panel.db, broke, draft, now),
            orders_store.place_order(panel.db, rich, draft, now),
        )
        assert pipelined == ([6] if "postgresql" in db_url else [])
        plain1, keyed, retried, unfunded_keyed, unfunded, plain2 = results
        assert all(isinstance(i, int) for i in (plain1, keyed, plain2)), results
        assert len({first, plain1, keyed, plain2}) == 4
        assert retried == orders_store.Claimed("f1", _reply(first))
        assert unfunded_keyed is None and unfunded is None
        assert (await accounts.user_named(panel, "rich"))["balance_micros"] == 1000_000_000 - 4 * 100_000
        # the unfunded order's key is free: once funded, its retry is placed
        await accounts.add_funds(panel, "broke", Decimal("1"), actor="cli")
        retry = await orders_store.place_order(panel.db, broke, draft, now, claim=claim("unfunded"))
        assert isinstance(retry, int)
        assert await audit.run(panel) == []


async def test_one_key_twice_in_one_batch_places_one_order(db_url, panel_factory, monkeypatch):
    """A retry in the batch of its first request sees that request's order
    (that batch goes one order after the other, on PostgreSQL too)."""
    pipelined = _count_pipelined(monkeypatch)
    async with panel_factory(db_url) as panel:
        user, _ = await accounts.add_user(panel, "twice", Decimal("1000"), actor="cli")
        draft = await _views_order(panel)
        now = panel.clock()
        key = orders_store.KeyClaim("same", "f1", now - 86_400, _reply)
        results = await asyncio.gather(orders_store.place_order(panel.db, user, draft, now),
                                       orders_store.place_order(panel.db, user, draft, now, claim=key),
                                       orders_store.place_order(panel.db, user, draft, now, claim=key))
        assert isinstance(results[0], int) and isinstance(results[1], int)
        assert results[2] == orders_store.Claimed("f1", _reply(results[1]))
        assert pipelined == []
        assert (await accounts.user_named(panel, "twice"))["balance_micros"] == 1000_000_000 - 2 * 100_000
        assert await audit.run(panel) == []


ODD_KEY = 'k "{a,b}" \\ [1] ключ 🔑'


async def test_a_batch_an_account_cannot_pay_in_full_places_its_orders_in_turn(db_url, panel_factory, monkeypatch):
    """On PostgreSQL an account is debited once for all its orders of a
    batch; when the total does not fit, its orders are still taken in the
    batch's order until the money runs out, and the other accounts' orders
    of the batch are not held back. The ledger's running balance holds."""
    pipelined = _count_pipelined(monkeypatch)
    async with panel_factory(db_url) as panel:
        tight, _ = await accounts.add_user(panel, "tight", Decimal("0.3"), actor="cli")  # 3 orders of 0.1
        rich, _ = await accounts.add_user(panel, "rich", Decimal("1000"), actor="cli")
        draft = await _views_order(panel)
        now = panel.clock()

        def claim(key: str) -> orders_store.KeyClaim:
            return orders_store.KeyClaim(key, "f1", now - 86_400, _reply)

        results = await asyncio.gather(
            orders_store.place_order(panel.db, tight, draft, now),
            orders_store.place_order(panel.db, rich, draft, now, claim=claim("r1")),
            orders_store.place_order(panel.db, tight, draft, now, claim=claim(ODD_KEY)),
            orders_store.place_order(panel.db, tight, draft, now),
            orders_store.place_order(panel.db, rich, draft, now),
            orders_store.place_order(panel.db, tight, draft, now, claim=claim("t2")),
            orders_store.place_order(panel.db, tight, draft, now),
        )
        assert pipelined == ([7] if "postgresql" in db_url else [])
        t1, r1, t2, t3, r2, t4, t5 = results
        assert all(isinstance(i, int) for i in (t1, t2, t3, r1, r2)), results
        assert t4 is None and t5 is None
        assert (await accounts.user_named(panel, "tight"))["balance_micros"] == 0
        assert (await accounts.user_named(panel, "rich"))["balance_micros"] == 1000_000_000 - 2 * 100_000
        charges = await panel.db.fetch(
            "SELECT order_id, balance_after_micros FROM ledger WHERE user_id = $1 AND kind = 'charge' ORDER BY id",
            tight)
        assert [(r["order_id"], r["balance_after_micros"]) for r in charges] == [
            (t1, 200_000), (t2, 100_000), (t3, 0)]
        # the refused keyed order's key is free: once funded, its retry is placed
        await accounts.add_funds(panel, "tight", Decimal("1"), actor="cli")
        assert isinstance(await orders_store.place_order(panel.db, tight, draft, now, claim=claim("t2")), int)
        # the placed one's key was kept as sent (it went through JSON on PostgreSQL)
        again = await orders_store.place_order(panel.db, tight, draft, now, claim=claim(ODD_KEY))
        assert again == orders_store.Claimed("f1", _reply(t2))
        assert await audit.run(panel) == []


async def test_executemany_writes_every_row_or_none(db_url, panel_factory):
    """The adapters' ``executemany`` (what a pipelined batch is sent with):
    every row written, and a refused row fails the call as ``IntegrityError``."""
    from smmpanel.store.db import IntegrityError

    insert = "INSERT INTO rate_limit_hits (bucket, window_start_s, hits) VALUES ($1, $2, $3)"
    async with panel_factory(db_url) as panel:
        async with panel.db.transaction() as tx:
            await tx.executemany(insert, [("a", 1, 1), ("b", 1, 2), ("c", 1, 3)])
        with pytest.raises(IntegrityError):
            async with panel.db.transaction() as tx:
                await tx.executemany(insert, [("d", 1, 1), ("a", 1, 9)])
        rows = await panel.db.fetch("SELECT bucket, hits FROM rate_limit_hits ORDER BY bucket")
        assert [(r["bucket"], r["hits"]) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]


async def test_insert_gives_each_new_rows_id(db_url, panel_factory):
    """The adapters' ``insert`` (SQLite's order insert, without RETURNING):
    the id of the row just written, on both databases and inside a
    transaction as outside."""
    insert = "INSERT INTO categories (name, position) VALUES ($1, $2)"
    async with panel_factory(db_url) as panel:
        first = await panel.db.insert(insert, "Views", 1)
        async with panel.db.transaction() as tx:
            second = await tx.insert(insert, "Likes", 2)
        rows = await panel.db.fetch("SELECT id, name FROM categories WHERE name IN ('Views', 'Likes') ORDER BY id")
        assert [(r["id"], r["name"]) for r in rows] == [(first, "Views"), (second, "Likes")]
        assert second > first
