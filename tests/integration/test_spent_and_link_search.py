"""Two things kept for speed, on both engines: what each customer spent
(``users.spent_micros``, moved with the balance by every charge and refund,
checked by the audit), and the index behind searching orders by a piece of
their link, which must find exactly what reading every link found."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from smmpanel.services import accounts, admin, audit, catalog, orders
from smmpanel.services.principal import Customer
from smmpanel.store import linksearch
from smmpanel.store.db import open_database
from smmpanel.store.migrate import alembic_config
from smmpanel.store.orders import OrderFilter
from smmpanel.store.sql import like_pattern

pytestmark = pytest.mark.anyio

RATE = "2"  # per 1000: 1000 units cost 2.000000
CHARGE = 2_000_000
SPENT_CHECK = "what each customer spent equals its charges net of refunds"


async def _service(panel) -> int:
    return await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate=RATE, min=10,
                                     max=10_000, refill=True, cancel=True)


async def _spent_by_name(panel) -> dict[str, tuple[int, int]]:
    """Each user's kept total and the ledger's, by name."""
    rows = await panel.db.fetch(
        "SELECT u.name, u.spent_micros, (SELECT COALESCE(-SUM(l.amount_micros), 0) FROM ledger l "
        "WHERE l.user_id = u.id AND l.kind IN ('charge', 'refund')) AS ledger FROM users u")
    return {r["name"]: (r["spent_micros"], int(r["ledger"])) for r in rows}


async def test_spent_follows_orders_refunds_cancels_and_bulk_orders(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        _, alice_key = await accounts.add_user(panel, "alice", Decimal("100"), actor="ops")
        _, bob_key = await accounts.add_user(panel, "bob", Decimal("50"), actor="ops")
        await accounts.add_user(panel, "carol", actor="ops")
        sid = await _service(panel)
        alice, bob = Customer.from_api_key(alice_key), Customer.from_api_key(bob_key)
        order = {"service": sid, "quantity": 1000}

        # Orders arriving together share one commit (group commit): each still moves the total.
        together = await asyncio.gather(*(orders.place_order(panel, alice, {**order, "link": f"https://x.com/p/{n}"})
                                          for n in range(3)))
        bulk = await orders.place_bulk(panel, alice, {**order, "links": "https://x.com/b/1\nhttps://x.com/b/2"})
        assert len(bulk.created) == 2 and not bulk.failed
        await orders.operator_set_status(panel, together[0], "Partial", remains=250, actor="ops")  # refunds 0.5
        assert await orders.cancel(panel, alice, [together[1]]) == {together[1]: None}  # refunds 2
        await orders.operator_set_status(panel, bulk.created[0][0], "Completed", actor="ops")
        await orders.operator_set_status(panel, bulk.created[0][0], "Canceled", actor="ops")  # refunds 2 after all
        await orders.place_order(panel, bob, {**order, "link": "https://x.com/bob"})
        await accounts.add_funds(panel, "bob", Decimal("-10"), actor="ops")  # an adjustment is not spending
        await accounts.add_funds(panel, "carol", Decimal("5"), actor="ops")

        alice_spent = 5 * CHARGE - CHARGE // 4 - 2 * CHARGE
        assert await _spent_by_name(panel) == {"alice": (alice_spent, alice_spent), "bob": (CHARGE, CHARGE),
                                               "carol": (0, 0)}
        assert (await accounts.summary(panel, alice)).spent_micros == alice_spent  # the dashboard's "total spent"
        by_spent = await admin.find_users(panel, sort="spent")
        assert [(u["name"], u["spent"]) for u in by_spent] == [("alice", alice_spent), ("bob", CHARGE),
                                                                ("carol", 0)]
        assert await audit.run(panel) == []

        # The audit notices a total that no longer matches the ledger.
        await panel.db.execute("UPDATE users SET spent_micros = spent_micros + 1 WHERE name = 'bob'")
        findings = await audit.run(panel)
        assert [f.check for f in findings] == [SPENT_CHECK]
        assert findings[0].rows == [{"id": 2, "name": "bob", "spent_micros": CHARGE + 1, "ledger_spent": CHARGE}]


# Links with letters of both cases, LIKE's wildcards, quotes and a backslash,
# letters beyond ASCII; several of each piece so that pages fill.
LINKS = [
    "https://insta.com/p/Alpha", "https://insta.com/p/alpha_2", "https://insta.com/p/ALPHA%3",
    "https://tiktok.com/@beta.one", "https://tiktok.com/@Beta_two", "https://youtu.be/x?v=a%20b",
    "https://insta.com/p/Ärger", "https://insta.com/p/ärger2", "https://site.com/q?a=\"quoted\"",
    "https://site.com/back\\slash", "https://insta.com/p/12345", "https://insta.com/p/0012",
    "@handle_one", "@HandleTwo",
]
PIECES = ["alpha", "ALPHA", "Alpha_", "_", "%", "a%3", "%20", "\\", '"quoted"', "\"", "beta", "ärger", "Ärger",
          "ÄRGER", "12", "1", "p/", "insta.com/p/", "handle", "@h", "zz", "nothing-like-it", "tTok.com/@B"]


async def _brute_force_customer(panel, user_id: int, piece: str, order_id: int | None, before: int | None,
                                status: str | None, limit: int) -> list[int]:
    """What the search found before the index: every link of the customer read, newest first."""
    args: list = [user_id, like_pattern(piece.lower())]
    where = "o.user_id = $1 AND (lower(o.link) LIKE $2 ESCAPE '\\'"
    if order_id is not None:
        args.append(order_id)
        where += f" OR o.id = ${len(args)}"
    where += ")"
    for column, value in (("o.id <", before), ("o.status =", status)):
        if value is not None:
            args.append(value)
            where += f" AND {column} ${len(args)}"
    args.append(limit)
    rows = await panel.db.fetch(f"SELECT o.id FROM orders o WHERE {where} ORDER BY o.id DESC LIMIT ${len(args)}",
                                *args)
    return [r[0] for r in rows]


async def _brute_force_operator(panel, piece: str, before: int | None, limit: int) -> list[int]:
    args: list = [like_pattern(piece.strip().lower())]
    where = "lower(o.link) LIKE $1 ESCAPE '\\'"
    if before is not None:
        args.append(before)
        where += " AND o.id < $2"
    args.append(limit)
    rows = await panel.db.fetch(f"SELECT o.id FROM orders o WHERE {where} ORDER BY o.id DESC LIMIT ${len(args)}",
                                *args)
    return [r[0] for r in rows]


async def _fill(panel, rounds: int = 3) -> tuple[Customer, int, list[int]]:
    """alice's orders (LINKS, ``rounds`` times) interleaved with bob's (the same links)."""
    alice_id, alice_key = await accounts.add_user(panel, "alice", Decimal("1000"), actor="ops")
    _, bob_key = await accounts.add_user(panel, "bob", Decimal("1000"), actor="ops")
    sid = await _service(panel)
    alice, bob = Customer.from_api_key(alice_key), Customer.from_api_key(bob_key)
    ids = []
    for _ in range(rounds):
        for link in LINKS:
            ids.append(await orders.place_order(panel, alice, {"service": sid, "link": link, "quantity": 1000}))
            await orders.place_order(panel, bob, {"service": sid, "link": link, "quantity": 1000})
    for order_id in ids[::4]:
        await orders.operator_set_status(panel, order_id, "Completed", actor="ops")
    return alice, alice_id, ids


async def _same_as_brute_force(panel, alice: Customer, alice_id: int, ids: list[int]) -> int:
    """Every piece, page position, status and id search: the customer's and
    the operator's searches find what reading every link finds. Returns how
    many searches found something."""
    found_any = 0
    middle = ids[len(ids) // 2]
    pieces = PIECES + [str(ids[3]), f" {ids[5]} "]
    for piece in pieces:
        text = piece.strip()
        order_id = int(text) if text.isdigit() else None
        for before in (None, middle):
            for status in (None, "Completed"):
                for limit in (2, 10):
                    page = await orders.customer_orders(panel, alice, search=piece, before_id=before, status=status,
                                                        limit=limit)
                    expected = await _brute_force_customer(panel, alice_id, text, order_id, before, status, limit + 1)
                    assert [o.id for o in page.items] == expected[:limit], (piece, before, status, limit)
                    found_any += bool(expected)
            if order_id is None:  # a number is an id search for the operator, not a link search
                for limit in (2, 10):
                    rows = (await admin.find_orders(panel, OrderFilter(search=piece), before_id=before,
                                                    limit=limit)).items
                    expected = await _brute_force_operator(panel, piece, before, limit + 1)
                    assert [r["id"] for r in rows] == expected[:limit], (piece, before, limit)
    return found_any


@pytest.mark.parametrize("scan_first, indexed", [(4, True), (4, False), (linksearch.SCAN_FIRST_ROWS, True)])
async def test_link_search_finds_what_reading_every_link_found(db_url, panel_factory, monkeypatch, scan_first,
                                                               indexed):
    """With few rows read first, most searches go through the trigram index
    (on SQLite: through the orders it holds, or, not yet filled, the orders
    past it); with the default, through the newest rows."""
    monkeypatch.setattr(linksearch, "SCAN_FIRST_ROWS", scan_first)
    if not indexed:
        monkeypatch.setattr(linksearch, "INDEX_CHUNK_ROWS", 0)
    async with panel_factory(db_url) as panel:
        alice, alice_id, ids = await _fill(panel)
        assert await _same_as_brute_force(panel, alice, alice_id, ids) > 50

        async def found(piece: str) -> list[int]:
            return [o.id for o in (await orders.customer_orders(panel, alice, search=piece, limit=100)).items]

        # What a customer notices: any case of ASCII letters; wildcards are plain characters.
        assert len(await found("ALPHA")) == 9 and len(await found("alpha_")) == 3
        assert await found("%20") == [ids[33], ids[19], ids[5]]
        assert await found(str(ids[3])) == [ids[3]]  # an id (no link holds it)
        if db_url.startswith("sqlite"):
            indexed_through = await panel.db.fetchval("SELECT through_id FROM link_search_progress")
            assert indexed_through == (max(ids) + 1 if indexed else 0)  # bob placed the last order


async def test_link_search_after_the_upgrade_of_a_panel_with_orders(db_url, panel_factory, monkeypatch):
    """Orders made before migration 0009 are found through the index it builds,
    and what each customer had spent is filled in from the ledger."""
    from alembic import command

    # Alembic runs its own event loop (PostgreSQL): off this one.
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0009-1")  # the revision before 0009
    async with panel_factory(db_url) as panel:
        assert await _service(panel) == 1  # the catalog is untouched by 0009
    db = await open_database(db_url, pg_pool_max=2)
    try:
        await db.execute("INSERT INTO users (name, api_key_hash, active, balance_micros, created_at_s) "
                         "VALUES ('old', 'k1', true, 0, 1), ('idle', 'k2', true, 0, 1)")
        await db.execute("INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, created_at_s) "
                         "VALUES (1, 'deposit', 100000000, 100000000, 1)")
        balance = 100_000_000
        for n, link in enumerate(LINKS * 2, start=1):
            await db.execute(
                "INSERT INTO orders (user_id, service_id, type, link, quantity, units, params, charge_micros, status, "
                "remains, created_at_s, updated_at_s) VALUES (1, 1, 'Default', $1, 1000, 1000, '{}', $2, $3, $4, "
                "1, 1)", link, CHARGE, "Partial" if n % 5 == 0 else "Pending", 500 if n % 5 == 0 else 1000)
            balance -= CHARGE
            await db.execute("INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, "
                             "created_at_s) VALUES (1, 'charge', $1, $2, $3, 1)", -CHARGE, balance, n)
            if n % 5 == 0:
                balance += CHARGE // 2
                await db.execute("INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, "
                                 "created_at_s) VALUES (1, 'refund', $1, $2, $3, 1)", CHARGE // 2, balance, n)
        await db.execute("UPDATE users SET balance_micros = $1 WHERE id = 1", balance)
    finally:
        await db.close()
    await asyncio.to_thread(command.upgrade, alembic_config(db_url), "head")

    monkeypatch.setattr(linksearch, "SCAN_FIRST_ROWS", 2)  # through the index
    async with panel_factory(db_url) as panel:
        assert await audit.run(panel) == []
        orders_n = 2 * len(LINKS)
        assert await _spent_by_name(panel) == {"old": (orders_n * CHARGE - orders_n // 5 * CHARGE // 2,) * 2,
                                               "idle": (0, 0)}
        old = Customer.from_user_id(1)
        ids = list(range(1, orders_n + 1))
        assert await _same_as_brute_force(panel, old, 1, ids) > 20
        # New orders are found at once (read directly on SQLite until the index holds them).
        await accounts.add_funds(panel, "old", Decimal("10"), actor="ops")
        new = await orders.place_order(panel, old, {"service": 1, "link": "https://new.example/Fresh", "quantity": 100})
        monkeypatch.setattr(linksearch, "INDEX_CHUNK_ROWS", 0)
        assert [o.id for o in (await orders.customer_orders(panel, old, search="fresh")).items] == [new]
        monkeypatch.setattr(linksearch, "INDEX_CHUNK_ROWS", 500)
        assert [r["id"] for r in (await admin.find_orders(panel, OrderFilter(search="FRESH"))).items] == [new]


async def test_the_worker_fills_the_sqlite_link_index(sqlite_url, panel_factory, monkeypatch):
    """Placing an order writes nothing to the FTS5 table; the worker's pass
    indexes the new links in short transactions, and a search then finds
    them through the index alone."""
    from smmpanel.worker import Worker

    monkeypatch.setattr(linksearch, "INDEX_CHUNK_ROWS", 10)  # several chunks in one pass
    async with panel_factory(sqlite_url) as panel:
        alice, _, ids = await _fill(panel)  # searches nothing: no link indexed yet
        progress = "SELECT through_id FROM link_search_progress"
        arger = "SELECT rowid FROM orders_link_search WHERE orders_link_search MATCH '\"ärg\"'"
        assert await panel.db.fetchval(progress) == 0 and await panel.db.fetch(arger) == []
        await Worker(panel).run_once()
        assert await panel.db.fetchval(progress) == max(ids) + 1
        assert len(await panel.db.fetch(arger)) == 4 * 3  # alice's and bob's two Ärger links, three rounds
