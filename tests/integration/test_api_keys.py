"""API keys on both engines, through the real /api/v2 app: a rotated key
works for its grace period and is refused after it, for every action, with
the same reply as a key never issued; a key with a known lookup but a wrong
secret is refused before anything is charged; keys issued before migration
0010 keep working after it."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smmpanel.api.app import ApiV2
from smmpanel.api.render import Dialect
from smmpanel.domain.errors import InvalidField
from smmpanel.services import accounts, auth, catalog, keys
from smmpanel.services.panel import Panel
from smmpanel.store.db import open_database
from smmpanel.store.migrate import alembic_config, upgrade

pytestmark = pytest.mark.anyio

HOUR_S = 3600
INVALID_KEY = {"error": "Invalid API key"}


class Api:
    """The API app on a test panel (its clock is the test's), over ASGI."""

    def __init__(self, panel: Panel) -> None:
        app = ApiV2(panel, Dialect("standard", "USD"), max_body_bytes=1_000_000)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://panel")

    async def __call__(self, key: str, action: str, **params: Any) -> tuple[int, Any]:
        reply = await self.client.post("/", data={"key": key, "action": action, **params})
        return reply.status_code, reply.json()


async def _shop(panel: Panel) -> tuple[str, int, int]:
    """alice (100.00) with one order of 1000 likes; returns her key, the service and the order."""
    _, key = await accounts.add_user(panel, "alice", Decimal("100"), actor="ops")
    sid = await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate="2", min=10,
                                    max=10_000, refill=True, cancel=True)
    api = Api(panel)
    status, reply = await api(key, "add", service=sid, link="https://x.com/p/1", quantity=1000)
    assert status == 200 and "order" in reply
    return key, sid, int(reply["order"])


def _every_action(sid: int, order: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("balance", {}), ("services", {}), ("status", {"order": order}), ("orders", {"orders": str(order)}),
        ("status", {"orders": f"{order},{order + 1}"}),  # several ids: SQLite reads them as one JSON row
        ("add", {"service": sid, "link": "https://x.com/p/2", "quantity": 100}),
        ("addBulk", {"service": sid, "links": "https://x.com/p/3", "quantity": 100}),
        ("refill", {"order": order}), ("refill_status", {"refill": 1}), ("cancel", {"orders": str(order)}),
        ("add", {}),  # a bad key says so before what is missing
        ("nonsense", {}),
    ]


async def _balance(api: Api, key: str) -> str:
    return (await api(key, "balance"))[1]["balance"]


async def test_old_key_works_during_grace_and_is_refused_after_for_every_action(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel:
        old, sid, order = await _shop(panel)
        api = Api(panel)
        rotated = await accounts.rotate_key_of(panel, "alice", actor="ops", grace_s=HOUR_S)
        assert rotated.old_key_until_s == clock() + HOUR_S
        new = rotated.api_key
        assert new.startswith("smm_") and new != old

        clock.advance(HOUR_S - 1)  # the last second of grace: both keys are alice's
        assert await _balance(api, old) == await _balance(api, new) == "98.00000"
        status, reply = await api(old, "status", order=order)
        assert reply["status"] == "Pending"
        status, reply = await api(old, "status", orders=f"{order},{order + 1}")
        assert reply[str(order)]["status"] == "Pending" and reply[str(order + 1)] == {"error": "Incorrect order ID"}
        status, reply = await api(old, "add", service=sid, link="https://x.com/p/9", quantity=500)
        assert "order" in reply  # the old key still orders, and its order is alice's
        assert await _balance(api, new) == "97.00000"

        clock.advance(1)  # grace is over
        for action, params in _every_action(sid, order):
            assert await api(old, action, **params) == (200, INVALID_KEY), action
            assert await api("never-issued-" + secrets.token_urlsafe(8), action, **params) == (200, INVALID_KEY)
        assert await _balance(api, new) == "97.00000"  # nothing the old key asked for was done
        assert (await api(new, "status", order=order))[1]["status"] == "Pending"


async def test_without_grace_the_old_key_stops_at_once(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        old, sid, order = await _shop(panel)
        api = Api(panel)
        new = (await accounts.rotate_key_of(panel, "alice", actor="ops")).api_key
        for action, params in _every_action(sid, order):
            assert await api(old, action, **params) == (200, INVALID_KEY), action
        assert await _balance(api, new) == "98.00000"


async def test_a_second_rotation_ends_the_first_grace(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        first, _sid, _order = await _shop(panel)
        api = Api(panel)
        second = (await accounts.rotate_key_of(panel, "alice", actor="ops", grace_s=HOUR_S)).api_key
        third = (await accounts.rotate_key_of(panel, "alice", actor="ops", grace_s=HOUR_S)).api_key
        assert await api(first, "balance") == (200, INVALID_KEY)
        assert await _balance(api, second) == await _balance(api, third) == "98.00000"


async def test_the_website_new_key_uses_the_same_rotation_without_grace(db_url, panel_factory, clock):
    async with panel_factory(db_url) as panel:
        old, _sid, _order = await _shop(panel)
        user_id = (await accounts.user_named(panel, "alice"))["id"]
        new = await auth.new_key(panel, user_id)
        api = Api(panel)
        assert await api(old, "balance") == (200, INVALID_KEY)
        assert await _balance(api, new) == "98.00000"
        view = await accounts.key_view(panel, user_id)
        assert view.shown == keys.lookup_of(new, keys.hash_key(new)) + "_…" and view.set_by == "customer"
        assert view.set_at_s == clock() and view.old_until_s is None


async def test_a_known_lookup_with_a_wrong_secret_is_an_invalid_key_and_charges_nothing(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        key, sid, order = await _shop(panel)
        api = Api(panel)
        forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")  # same smm_<lookup>_, other secret
        assert keys.lookup_of(forged, keys.hash_key(forged)) == keys.lookup_of(key, keys.hash_key(key))
        for action, params in _every_action(sid, order):
            assert await api(forged, action, **params) == (200, INVALID_KEY), action
        assert await _balance(api, key) == "98.00000"
        assert (await api(key, "status", order=order))[1]["status"] == "Pending"  # the cancel did nothing


async def test_the_stored_key_is_compared_in_python_through_keys_match(db_url, panel_factory, monkeypatch):
    async with panel_factory(db_url) as panel:
        key, _sid, _order = await _shop(panel)
        api = Api(panel)
        compared: list[tuple[str, str]] = []
        real = keys.hmac.compare_digest

        def spy(a: str, b: str) -> bool:
            compared.append((a, b))
            return real(a, b)

        monkeypatch.setattr(keys.hmac, "compare_digest", spy)
        assert await _balance(api, key) == "98.00000"
        assert compared == [(keys.hash_key(key),) * 2]


async def test_grace_out_of_range_is_refused_and_the_key_stays(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        key, _sid, _order = await _shop(panel)
        with pytest.raises(InvalidField) as err:
            await accounts.rotate_key_of(panel, "alice", actor="ops", grace_s=accounts.MAX_KEY_GRACE_S + 1)
        assert err.value.params["field"] == "--grace"
        assert await _balance(Api(panel), key) == "98.00000"


# ------------------------------------------------- keys made before 0010


async def _legacy_user(url: str) -> str:
    """A customer as a 0007 panel made them: a bare random key, its sha256 stored."""
    key = secrets.token_urlsafe(32)
    db = await open_database(url, pg_pool_max=1)
    try:
        await db.execute(
            "INSERT INTO users (name, api_key_hash, active, balance_micros, created_at_s) "
            "VALUES ('old-timer', $1, true, 0, 1700000000)", hashlib.sha256(key.encode()).hexdigest())
    finally:
        await db.close()
    return key


def _database_at_0007(url: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), "0010-1")  # the revision before 0010, whatever it is


def test_keys_made_before_the_migration_keep_working_after_it(db_url, panel_factory):
    _database_at_0007(db_url)  # the fixture's database, taken back to the schema before keys had lookups
    key = asyncio.run(_legacy_user(db_url))
    upgrade(db_url)

    async def check() -> None:
        async with panel_factory(db_url) as panel:
            await accounts.add_funds(panel, "old-timer", Decimal("10"), actor="ops")
            sid = await catalog.add_service(panel, name="Likes", category="IG", type="Default", rate="2", min=10,
                                            max=10_000)
            api = Api(panel)
            assert await _balance(api, key) == "10.00000"
            status, reply = await api(key, "add", service=sid, link="https://x.com/p/1", quantity=1000)
            assert "order" in reply
            assert (await api(key, "status", order=reply["order"]))[1]["status"] == "Pending"
            assert await _balance(api, key) == "8.00000"
            assert await api(key[:-1] + ("x" if key[-1] != "x" else "y"), "balance") == (200, INVALID_KEY)
            user_id = (await accounts.user_named(panel, "old-timer"))["id"]
            assert (await accounts.key_view(panel, user_id)).shown is None  # no visible start to show
            # Rotating a key of the older form: it may keep its grace like any other.
            new = (await accounts.rotate_key_of(panel, "old-timer", actor="ops", grace_s=HOUR_S)).api_key
            assert await _balance(api, key) == await _balance(api, new) == "8.00000"

    asyncio.run(check())


def test_sqlite_finds_a_key_through_its_indexes_after_analyze(sqlite_url):
    """With most accounts holding no old key, statistics must not talk SQLite
    into scanning every account for each request."""
    import sqlite3

    from smmpanel.store import accounts as accounts_store, catalog as catalog_store

    con = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    con.executemany("INSERT INTO users (name, api_key_hash, api_key_lookup, active, balance_micros, created_at_s) "
                    "VALUES (?, ?, ?, 1, 0, 0)", [(f"u{i}", f"h{i}", f"l{i}") for i in range(2000)])
    con.commit()  # and no old key anywhere, as right after the migration
    con.execute("ANALYZE")
    for column, index in (("api_key_lookup", "uq_users_api_key_lookup"), ("old_key_lookup", "uq_users_old_key_lookup")):
        for sql in (accounts_store._balance_sql(column), catalog_store._terms_sql(column),
                    catalog_store._services_for_sql(column)):
            args = ("l5", 1)[:sql.count("$2") + 1]
            plan = [row[-1] for row in con.execute("EXPLAIN QUERY PLAN " + sql.replace("$", "?"), args)]
            assert "SCAN u" not in plan and any(index in step for step in plan), plan
    con.close()
