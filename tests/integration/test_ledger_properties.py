"""The ledger under any interleaving of what customers and operators do.

A Hypothesis state machine drives the real use cases (``smmpanel.services``)
on a real database: deposits and adjustments, orders of several types
(drip-feed included), operator status moves (repeats, contradictions, remains
negative or above the quantity), customer cancels, refills and refill status
changes, and the clock moving on. A small model predicts every outcome; after
every step the database must agree with it and ``audit.run`` must be clean.

Runs on SQLite (more examples) and PostgreSQL (fewer: each step is a round trip).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from smmpanel.domain.errors import (
    ActiveOrderWithLink,
    BadLink,
    CancelNotAllowed,
    IncorrectOrder,
    InvalidField,
    NotEnoughFunds,
    NotFound,
    QuantityTooHigh,
    RefillNotAllowed,
    StatusMoveRefused,
)
from smmpanel.domain.money import from_micros, plain
from smmpanel.services import accounts, audit, catalog, orders, refills
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.store.db import open_database
from money_oracle import half_up

DAY = 86_400
FINAL = ("Partial", "Canceled")
ACTIVE = ("Pending", "Processing", "In progress")
SUB_POSTS = 4
UNKNOWN_ORDER = 987_654
UNKNOWN_REFILL = 876_543

# What the operator types: every status, other spellings, and one that is wrong.
STATUS_INPUTS = {
    "Pending": "Pending", "Processing": "Processing", "In progress": "In progress", "in_progress": "In progress",
    "Completed": "Completed", "Partial": "Partial", "PARTIAL": "Partial", "Canceled": "Canceled",
    "Cancelled": None,
}
REFILL_STATUSES = ("Pending", "In progress", "Completed", "Rejected")


@dataclass
class Svc:
    key: str
    id: int
    rate: int
    flat: bool
    cancel: bool
    refill: bool
    refill_days: int
    deny_duplicate_link: bool


@dataclass
class MOrder:
    id: int
    user: int
    svc: Svc
    link: str
    units: int
    charge: int
    created: int
    status: str = "Pending"
    remains: int = 0
    start_count: int | None = None
    refund: int = 0


@dataclass
class MRefill:
    id: int
    order: int
    status: str = "Pending"


@dataclass
class Model:
    balance: list[int] = field(default_factory=lambda: [0, 0])
    deposits: list[int] = field(default_factory=lambda: [0, 0])
    orders: dict[int, MOrder] = field(default_factory=dict)
    refills: dict[int, MRefill] = field(default_factory=dict)


# ------------------------------------------------------------ order requests

links = st.integers(0, 10**6).map(lambda n: f"https://example.com/p/{n}")
handles = st.sampled_from(["@alpha", "@beta", "gamma.page"])  # few: the duplicate-link guard gets hit

valid_order_requests = st.one_of(
    # (service key, add parameters, units, expected error type or None)
    st.builds(lambda link, q: ("default", {"link": link, "quantity": str(q)}, q, None), links, st.integers(1, 500)),
    st.builds(lambda link, q, r, i: ("default", {"link": link, "quantity": q, "runs": str(r), "interval": i},
                                     q * r, None),
              links, st.integers(1, 500), st.integers(2, 6), st.integers(1, 1440)),
    st.builds(lambda h: ("package", {"link": h}, 1, None), handles),
    st.builds(lambda link, lines, sep: ("comments", {"link": link, "comments": sep.join(lines)}, len(lines), None),
              links, st.lists(st.sampled_from(["nice", "wow", "great pic", "😀 love it"]), min_size=1, max_size=20),
              st.sampled_from(["\n", "\r\n"])),
    st.builds(lambda lo, hi, posts: ("subs", {"username": "someone", "min": lo, "max": lo + hi,
                                              **({"posts": posts} if posts else {})},
                                     (lo + hi) * (posts or SUB_POSTS), None),
              st.integers(1, 50), st.integers(0, 50), st.none() | st.integers(1, SUB_POSTS)),
)
order_requests = st.one_of(
    valid_order_requests,
    # refused before any money moves
    st.sampled_from([
        ("default", {"link": "https://example.com/x", "quantity": 501}, 0, QuantityTooHigh),
        ("default", {"link": "not a link", "quantity": 5}, 0, BadLink),
        ("comments", {"link": "https://example.com/x", "comments": "x\x1by"}, 0, InvalidField),
    ]),
)

amounts = st.one_of(st.integers(1, 20_000_000), st.integers(-5_000_000, -1), st.just(0), st.integers(1, 10))
rates = st.one_of(st.integers(0, 400_000), st.integers(0, 10))  # micro-units per 1000 (Package: per order)


def machine_for(db_url: str):
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.now = 1_800_000_000
            self.model = Model()
            self.panel: Panel | None = None
            self.keys: list[str] = []
            self.names: list[str] = []
            self.svcs: dict[str, Svc] = {}

        def run(self, coro):
            return self.loop.run_until_complete(coro)

        def teardown(self) -> None:
            if self.panel is not None:
                self.run(self.panel.db.close())
            self.loop.close()

        # -------------------------------------------------------- setup

        @initialize(rates=st.lists(rates, min_size=4, max_size=4), comment_refill_days=st.integers(0, 3),
                    opening=st.lists(st.integers(0, 50_000_000), min_size=2, max_size=2),
                    first_orders=st.lists(st.tuples(st.integers(0, 1), valid_order_requests), max_size=6))
        def setup(self, rates, comment_refill_days, opening, first_orders):
            self.run(self._setup(rates, comment_refill_days, opening))
            for user, req in first_orders:
                self.place(user, req)

        async def _setup(self, rates, comment_refill_days, opening):
            db = await open_database(db_url, pg_pool_max=4)
            await _wipe(db)
            self.panel = Panel(db=db, clock=lambda: self.now)
            for i in range(2):
                _, key = await accounts.add_user(self.panel, f"user{i}", from_micros(opening[i]), actor="ops")
                self.keys.append(key)
                self.names.append(f"user{i}")
                self.model.balance[i] = self.model.deposits[i] = opening[i]
            specs = [
                # key, type, rate, min, max, flags
                ("default", "Default", rates[0], 1, 500,
                 dict(dripfeed=True, cancel=True, refill=True, refill_days=30)),
                ("package", "Package", rates[1], 1, 1,
                 dict(cancel=True, refill=False, deny_duplicate_link=True)),
                ("comments", "Custom Comments", rates[2], 1, 20,
                 dict(cancel=False, refill=True, refill_days=comment_refill_days)),
                ("subs", "Subscriptions", rates[3], 1, 100,
                 dict(cancel=True, refill=False, subscription_posts=SUB_POSTS)),
            ]
            for key, type_, rate, lo, hi, flags in specs:
                sid = await catalog.add_service(self.panel, name=f"{key} service", category="Test", type=type_,
                                                rate=plain(rate), min=lo, max=hi, **flags)
                self.svcs[key] = Svc(key, sid, rate, flat=type_ == "Package", cancel=flags["cancel"],
                                     refill=flags["refill"], refill_days=flags.get("refill_days", 30),
                                     deny_duplicate_link=flags.get("deny_duplicate_link", False))

        # ------------------------------------------------------- money in

        @rule(user=st.integers(0, 1), amount=amounts)
        def deposit(self, user, amount):
            m = self.model
            if amount == 0:
                with pytest.raises(InvalidField):
                    self.run(accounts.add_funds(self.panel, self.names[user], from_micros(0), actor="ops"))
                return
            if m.balance[user] + amount < 0:
                with pytest.raises(InvalidField) as info:
                    self.run(accounts.add_funds(self.panel, self.names[user], from_micros(amount), actor="ops"))
                assert info.value.params["rule"] == "balance_below_zero"
                return
            balance = self.run(accounts.add_funds(self.panel, self.names[user], from_micros(amount), note="t", actor="ops"))
            m.balance[user] += amount
            m.deposits[user] += amount
            assert balance == m.balance[user]

        # ---------------------------------------------------------- orders

        def pick_orders(self, data, *, max_size: int, prefer=None, unique: bool = True) -> list[int]:
            """Known orders (the newest, and those ``prefer`` likes), now and then an unknown id;
            with ``unique=False`` an id may be repeated (it must be answered once)."""
            orders_ = self.model.orders.values()
            branches = []
            for pool, weight in (([o.id for o in orders_ if prefer(o)] if prefer else [], 3),
                                 ([o.id for o in orders_], 2)):
                if pool:
                    branches += [st.sampled_from(pool[-12:])] * weight
            branches.append(st.just(UNKNOWN_ORDER))
            return data.draw(st.lists(st.one_of(branches), min_size=1, max_size=max_size, unique=unique))

        def pick_user(self, data, ids: list[int]) -> int:
            """Mostly the owner of the orders named, sometimes someone else."""
            owners = [self.model.orders[i].user for i in ids if i in self.model.orders]
            if not owners:
                return data.draw(st.integers(0, 1))
            return data.draw(st.one_of(st.sampled_from(owners), st.sampled_from(owners), st.integers(0, 1)))

        @rule(user=st.integers(0, 1), req=order_requests)
        def place(self, user, req):
            key, params, units, error = req
            svc, m = self.svcs[key], self.model
            call = orders.place_order(self.panel, Customer.from_api_key(self.keys[user]), {"service": str(svc.id), **params})
            if error is not None:
                with pytest.raises(error):
                    self.run(call)
                return
            charge = svc.rate if svc.flat else half_up(svc.rate * units, 1000)
            link = params.get("link", "")
            if svc.deny_duplicate_link and any(
                o.svc is svc and o.link == link and o.status in ACTIVE for o in m.orders.values()
            ):
                with pytest.raises(ActiveOrderWithLink):
                    self.run(call)
                return
            if charge > m.balance[user]:
                with pytest.raises(NotEnoughFunds):
                    self.run(call)
                return
            order_id = self.run(call)
            assert order_id not in m.orders
            m.orders[order_id] = MOrder(order_id, user, svc, link, units, charge, self.now, remains=units)
            m.balance[user] -= charge

        @rule(data=st.data(), status=st.sampled_from(["Partial", "Canceled", "Completed"]),
              remains=st.none() | st.integers(-50, 600), start_count=st.none() | st.integers(0, 10**6))
        def operator_settles(self, data, status, remains, start_count):
            """The moves that refund (or would, if repeated or contradicted)."""
            self.operator_move(data, status, remains, start_count)

        @rule(data=st.data(), status=st.sampled_from(sorted(STATUS_INPUTS)),
              remains=st.none() | st.integers(-50, 600) | st.integers(-(10**6), 10**6),
              start_count=st.none() | st.integers(0, 10**6))
        def operator_move(self, data, status, remains, start_count):
            m = self.model
            (order,) = self.pick_orders(data, max_size=1, prefer=lambda o: o.status not in FINAL)
            if remains is not None and remains > 0 and order in m.orders and data.draw(st.booleans()):
                remains = remains % (m.orders[order].units + 1)  # often a remains that fits the order
            call = orders.operator_set_status(self.panel, order, status, remains=remains, start_count=start_count, actor="ops")
            new = STATUS_INPUTS[status]
            if new is None:
                with pytest.raises(InvalidField) as info:
                    self.run(call)
                assert info.value.params["field"] == "status"
                return
            o = m.orders.get(order)
            if o is None:
                with pytest.raises(NotFound):
                    self.run(call)
                return
            if (remains is not None and not 0 <= remains <= o.units) or (
                    new == "Partial" and remains is None and o.status != "Partial"):
                # A first Partial must say what was left: a refund is never guessed.
                with pytest.raises(InvalidField) as info:
                    self.run(call)
                assert info.value.params["field"] == "remains"
                return
            if o.status in FINAL:
                if new == o.status:
                    assert self.run(call) is False  # a repeat changes nothing
                else:
                    with pytest.raises(StatusMoveRefused):
                        self.run(call)
                return
            if o.status == "Completed" and new not in ("Completed", "Partial", "Canceled"):
                with pytest.raises(StatusMoveRefused):
                    self.run(call)
                return
            assert self.run(call) is True
            refund = 0
            if new == "Canceled":
                refund = o.charge
            elif new == "Partial":
                left = o.remains if remains is None else remains
                refund = half_up(o.charge * min(max(left, 0), o.units), o.units)
            if remains is not None:
                o.remains = remains
            elif new == "Completed":
                o.remains = 0
            elif new == "Canceled":
                o.remains = o.units
            if start_count is not None:
                o.start_count = start_count
            o.status = new
            if refund:
                assert o.refund == 0
                o.refund = refund
                m.balance[o.user] += refund

        @rule(data=st.data())
        def customer_cancel(self, data):
            m = self.model
            ids = self.pick_orders(data, max_size=4, prefer=lambda o: o.status in ACTIVE and o.svc.cancel,
                                   unique=False)
            user = self.pick_user(data, ids)
            result = self.run(orders.cancel(self.panel, Customer.from_api_key(self.keys[user]), ids))
            assert set(result) == set(ids)
            for order_id in dict.fromkeys(ids):
                o, got = m.orders.get(order_id), result[order_id]
                if o is None or o.user != user:
                    assert isinstance(got, IncorrectOrder)
                elif not o.svc.cancel:
                    assert isinstance(got, CancelNotAllowed) and got.params["reason"] == "service"
                elif o.status in ("Completed", "Partial", "Canceled"):
                    assert isinstance(got, CancelNotAllowed) and got.params["reason"] == "final"
                elif o.status != "Pending":
                    assert isinstance(got, CancelNotAllowed) and got.params["reason"] == "started"
                else:
                    assert got is None
                    o.status, o.remains = "Canceled", o.units
                    assert o.refund == 0
                    o.refund = o.charge
                    m.balance[user] += o.charge

        # --------------------------------------------------------- refills

        @rule(data=st.data())
        def request_refill(self, data):
            m = self.model
            ids = self.pick_orders(data, max_size=3, prefer=lambda o: o.status in ("Completed", "Partial")
                                   and o.svc.refill, unique=False)
            user = self.pick_user(data, ids)
            result = self.run(refills.request(self.panel, Customer.from_api_key(self.keys[user]), ids))
            assert set(result) == set(ids)
            for order_id in dict.fromkeys(ids):
                o, got = m.orders.get(order_id), result[order_id]
                if o is None or o.user != user:
                    assert isinstance(got, IncorrectOrder)
                    continue
                if o.status not in ("Completed", "Partial"):
                    reason = "status"
                elif not o.svc.refill:
                    reason = "service"
                elif self.now - o.created > o.svc.refill_days * DAY:
                    reason = "window"
                elif any(r.order == order_id and r.status in ("Pending", "In progress") for r in m.refills.values()):
                    reason = "active"
                else:
                    reason = None
                if reason:
                    assert isinstance(got, RefillNotAllowed), (order_id, got)
                    assert got.params["reason"] == reason
                else:
                    assert isinstance(got, int) and got not in m.refills
                    m.refills[got] = MRefill(got, order_id)

        @rule(data=st.data(), status=st.sampled_from(REFILL_STATUSES))
        def operator_refill_move(self, data, status):
            m = self.model
            known = sorted(m.refills)[-8:]
            refill = data.draw(st.one_of(st.sampled_from(known), st.sampled_from(known), st.just(UNKNOWN_REFILL))
                               if known else st.just(UNKNOWN_REFILL))
            call = refills.operator_set_status(self.panel, refill, status)
            r = m.refills.get(refill)
            if r is None:
                with pytest.raises(NotFound):
                    self.run(call)
                return
            clash = status in ("Pending", "In progress") and any(
                other.id != r.id and other.order == r.order and other.status in ("Pending", "In progress")
                for other in m.refills.values()
            )
            if clash:
                with pytest.raises(RefillNotAllowed):
                    self.run(call)
                return
            self.run(call)
            r.status = status

        @rule(days=st.integers(0, 40), seconds=st.integers(0, DAY))
        def time_passes(self, days, seconds):
            self.now += days * DAY + seconds

        # ------------------------------------------------------ invariants

        @invariant()
        def ledger_holds(self):
            if self.panel is not None:
                self.run(self._check())

        async def _check(self):
            m, db = self.model, self.panel.db
            findings = await audit.run(self.panel)
            assert findings == [], findings

            users = {r["name"]: r for r in await db.fetch("SELECT id, name, balance_micros FROM users")}
            for i, name in enumerate(self.names):
                user_id = users[name]["id"]
                balance = users[name]["balance_micros"]
                assert balance == m.balance[i] >= 0
                # balance == deposits - net charges, from the database's own rows
                deposits = await db.fetchval(
                    "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger "
                    "WHERE user_id = $1 AND kind IN ('deposit', 'adjustment')", user_id)
                charged = await db.fetchval(
                    "SELECT COALESCE(SUM(charge_micros), 0) FROM orders WHERE user_id = $1", user_id)
                refunded = await db.fetchval(
                    "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger WHERE user_id = $1 AND kind = 'refund'",
                    user_id)
                assert deposits == m.deposits[i]
                assert balance == deposits - (charged - refunded)

            refunds = await db.fetch(
                "SELECT l.order_id, COUNT(*) AS n, SUM(l.amount_micros) AS total, MAX(o.charge_micros) AS charge "
                "FROM ledger l JOIN orders o ON o.id = l.order_id WHERE l.kind = 'refund' GROUP BY l.order_id")
            for row in refunds:
                assert row["n"] == 1, f"order {row['order_id']} refunded {row['n']} times"
                assert 0 < row["total"] <= row["charge"]
            by_order = {row["order_id"]: row["total"] for row in refunds}
            assert by_order == {o.id: o.refund for o in m.orders.values() if o.refund}

            # what each customer sees through `status`
            for i, key in enumerate(self.keys):
                mine = [o for o in m.orders.values() if o.user == i]
                if not mine:
                    continue
                rows = await orders.statuses(self.panel, Customer.from_api_key(key), [o.id for o in mine] + [UNKNOWN_ORDER])
                assert set(rows) == {o.id for o in mine}
                for o in mine:
                    row = rows[o.id]
                    assert row["status"] == o.status
                    assert row["net_micros"] == o.charge - o.refund
                    assert row["remains"] == o.remains
                    assert row["start_count"] == o.start_count

            got = {r["id"]: r["status"] for r in await db.fetch("SELECT id, status FROM refills")}
            assert got == {r.id: r.status for r in m.refills.values()}

    return LedgerMachine


async def _wipe(db) -> None:
    """Empty every table (the schema stays): each example starts from nothing."""
    if db.dialect == "postgresql":
        names = [r["tablename"] for r in await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        await db.execute(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
        return
    names = [r["name"] for r in await db.fetch(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('alembic_version', 'sqlite_sequence') "
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'orders_link_search%' AND name <> 'link_search_progress'")]
    await db.execute("PRAGMA foreign_keys = OFF")
    for name in names:
        await db.execute(f"DELETE FROM {name}")
    await db.execute("PRAGMA foreign_keys = ON")
    # The link search's FTS5 table is emptied by its own command, never row by row.
    await db.execute("INSERT INTO orders_link_search (orders_link_search) VALUES ('delete-all')")
    await db.execute("UPDATE link_search_progress SET through_id = 0")


COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
              stateful_step_count=50)


def test_ledger_invariants_hold_on_sqlite(sqlite_url):
    run_state_machine_as_test(machine_for(sqlite_url), settings=settings(max_examples=50, **COMMON))


@pytest.mark.postgres
def test_ledger_invariants_hold_on_postgresql(pg_url):
    run_state_machine_as_test(machine_for(pg_url), settings=settings(max_examples=10, **COMMON))


def test_the_model_catches_a_double_refund(sqlite_url):
    """The checks above can fail: a refund posted twice by hand is caught by the
    database's unique index, and a balance nudged by one micro-unit by audit."""
    from smmpanel.store import accounts as accounts_store
    from smmpanel.store.db import IntegrityError

    async def scenario():
        db = await open_database(sqlite_url)
        panel = Panel(db=db, clock=lambda: 1_800_000_000)
        try:
            _, key = await accounts.add_user(panel, "eve", Decimal("5"), actor="ops")
            sid = await catalog.add_service(panel, name="L", category="C", type="Default", rate="1", min=1, max=1000)
            order_id = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "https://x.com/p", "quantity": 1000})
            assert await orders.operator_set_status(panel, order_id, "Canceled", actor="ops")
            with pytest.raises(IntegrityError):
                async with db.transaction() as tx:
                    await accounts_store.post_entry(tx, 1, "refund", 1_000_000, 1_800_000_000, order_id=order_id)
            assert await audit.run(panel) == []
            await db.execute("UPDATE users SET balance_micros = balance_micros + 1")
            findings = await audit.run(panel)
            assert [f.check for f in findings] == ["balance equals the sum of ledger entries"]
        finally:
            await db.close()

    asyncio.run(scenario())


# ------------------------------------------------------------------ races


@pytest.mark.anyio
async def test_racing_settlements_refund_exactly_once(db_url, panel_factory):
    """Operator moves and customer cancels on one order, all at once: one wins,
    the order is refunded once, and the losers are told so (no-op or refused)."""
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "racer", Decimal("10"), actor="ops")
        sid = await catalog.add_service(panel, name="L", category="C", type="Default", rate="2", min=1, max=1000,
                                        cancel=True)
        order_id = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "https://x.com/p", "quantity": 1000})

        async def attempt(i: int):
            try:
                if i % 3 == 0:
                    return (await orders.cancel(panel, Customer.from_api_key(key), [order_id]))[order_id] or True
                status, remains = ("Canceled", None) if i % 3 == 1 else ("Partial", 250)
                return await orders.operator_set_status(panel, order_id, status, remains=remains, actor="ops")
            except StatusMoveRefused as exc:
                return exc

        results = await asyncio.gather(*(attempt(i) for i in range(30)))
        assert results.count(True) == 1, results
        assert all(r is False or isinstance(r, (StatusMoveRefused, CancelNotAllowed)) for r in results if r is not True)
        refunds = await panel.db.fetch("SELECT amount_micros FROM ledger WHERE kind = 'refund'")
        assert len(refunds) == 1
        row = await orders.order(panel, order_id)
        expected = {"Canceled": 2_000_000, "Partial": 500_000}[row["status"]]
        assert refunds[0]["amount_micros"] == row["refund_micros"] == expected
        assert (await accounts.user_named(panel, "racer"))["balance_micros"] == 8_000_000 + expected
        assert await audit.run(panel) == []


@pytest.mark.anyio
async def test_racing_refill_requests_create_one_refill(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        _, key = await accounts.add_user(panel, "racer", Decimal("10"), actor="ops")
        sid = await catalog.add_service(panel, name="L", category="C", type="Default", rate="2", min=1, max=1000,
                                        refill=True)
        order_id = await orders.place_order(panel, Customer.from_api_key(key), {"service": sid, "link": "https://x.com/p", "quantity": 100})
        await orders.operator_set_status(panel, order_id, "Completed", actor="ops")
        results = await asyncio.gather(*(refills.request(panel, Customer.from_api_key(key), [order_id]) for _ in range(20)))
        created = [r[order_id] for r in results if isinstance(r[order_id], int)]
        assert len(created) == 1
        assert all(r[order_id].params["reason"] == "active" for r in results if not isinstance(r[order_id], int))
        assert len(await panel.db.fetch("SELECT id FROM refills")) == 1
