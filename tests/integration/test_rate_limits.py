"""Rate limits through the real app on both engines: per API account on
/api/v2 and per address on sign-in/sign-up; 429 with a JSON (or HTML) error
and Retry-After, decided before anything is written; counts shared through
the database between processes on PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from starlette.testclient import TestClient

from smmpanel.app import PanelApp
from smmpanel.domain.ratelimit import RateLimit
from smmpanel.ops.ratelimit import Limiter
from smmpanel.services import accounts, catalog
from smmpanel.services.panel import Panel
from smmpanel.settings import Settings
from smmpanel.store.db import open_database
from websupport import csrf_of

API = "/api/v2"
# Windows are aligned on the clock; a test's hits must not straddle a window's
# end, so the limiters read a clock pinned in the middle of one.
MID_WINDOW_S = 1_800_000_000 + 1_800.0


def pin_clock(limiter: Limiter) -> None:
    limiter.clock = lambda: MID_WINDOW_S


async def _seed(url: str) -> tuple[str, str, int]:
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        _, alice = await accounts.add_user(panel, "alice", Decimal("10"), actor="ops")
        _, bob = await accounts.add_user(panel, "bob", Decimal("10"), actor="ops")
        sid = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="1", min=10, max=10000)
        return alice, bob, sid
    finally:
        await db.close()


async def _count(url: str, sql: str) -> int:
    db = await open_database(url, pg_pool_max=1)
    try:
        return int(await db.fetchval(sql))
    finally:
        await db.close()


def test_api_limit_per_account_is_429_with_retry_after_and_writes_nothing(db_url):
    alice, bob, sid = asyncio.run(_seed(db_url))
    settings = Settings(database_url=db_url, rate_limit=RateLimit(4, 3600), metrics_token="t" * 16)
    add = {"action": "add", "service": sid, "link": "https://x.com/p", "quantity": 100}
    app = PanelApp(settings)
    with TestClient(app) as client:
        pin_clock(app.api.limiter)
        for _ in range(3):
            assert client.post(API, data={"key": alice, "action": "balance"}).status_code == 200
        assert "order" in client.post(API, data={"key": alice, **add}).json()
        refused = client.post(API, data={"key": alice, **add})
        assert refused.status_code == 429
        assert refused.json() == {"error": f"Too many requests; retry in {refused.headers['retry-after']} seconds"}
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert client.post(API, data={"key": bob, "action": "balance"}).status_code == 200  # bob has his own
        metrics = client.get("/metrics", headers={"Authorization": "Bearer " + "t" * 16}).text
    assert asyncio.run(_count(db_url, "SELECT COUNT(*) FROM orders")) == 1  # the refused add wrote nothing
    assert 'smmpanel_api_requests_total{action="add",outcome="rate_limited"} 1.0' in metrics


def test_no_api_limit_by_default(sqlite_url):
    alice, _, _ = asyncio.run(_seed(sqlite_url))
    with TestClient(PanelApp(Settings.from_env({"SMMPANEL_DATABASE_URL": sqlite_url}))) as client:
        assert all(client.post(API, data={"key": alice, "action": "balance"}).status_code == 200 for _ in range(200))


@pytest.mark.anyio
async def test_login_limit_per_address_is_an_html_429_before_any_write(db_url, monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")
    app = PanelApp(Settings(database_url=db_url, login_rate_limit=RateLimit(3, 60)))
    async with app.site.router.lifespan_context(app.site):
        pin_clock(app.site.state.web.login_limiter)

        async def browser(ip: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 5000)),
                                     base_url="http://panel.test")

        guesser, neighbour = await browser("10.0.0.1"), await browser("10.0.0.2")
        token = csrf_of((await guesser.get("/login")).text)
        for _ in range(3):
            wrong = await guesser.post("/login", data={"csrf": token, "login": "alice", "password": "wrong pass"})
            assert wrong.status_code == 400
        refused = await guesser.post("/login", data={"csrf": token, "login": "alice", "password": "wrong pass"})
        assert refused.status_code == 429 and refused.headers["content-type"].startswith("text/html")
        assert int(refused.headers["retry-after"]) >= 1 and "Too many requests" in refused.text
        signup_token = csrf_of((await guesser.get("/signup")).text)
        refused = await guesser.post("/signup", data={"csrf": signup_token, "name": "mallory",
                                                      "email": "m@example.com", "password": "long enough"})
        assert refused.status_code == 429
        other = await neighbour.get("/signup")
        created = await neighbour.post("/signup", data={"csrf": csrf_of(other.text), "name": "nina",
                                                        "email": "n@example.com", "password": "long enough"})
        assert created.status_code == 303
        await guesser.aclose()
        await neighbour.aclose()
    assert await _count(db_url, "SELECT COUNT(*) FROM auth_failures") == 3 * 2  # per account and per address
    assert await _count(db_url, "SELECT COUNT(*) FROM users WHERE name = 'mallory'") == 0


@pytest.mark.anyio
@pytest.mark.postgres
async def test_processes_share_their_counts_through_postgresql(pg_url):
    """Two limiters, as two server processes would have, on one database: once
    each has shared, neither lets the account past the limit."""
    limit = RateLimit(10, 3600)
    db_one, db_two = await open_database(pg_url, pg_pool_max=2), await open_database(pg_url, pg_pool_max=2)
    try:
        one, two = Limiter(limit, prefix="api:"), Limiter(limit, prefix="api:")
        assert all(one.hit("acct") is None for _ in range(6))
        await one.share(db_one)
        assert all(two.hit("acct") is None for _ in range(4))
        await two.share(db_two)  # the store holds 10: the limit
        assert two.hit("acct") is not None
        assert one.hit("acct") is None  # one has not heard yet: at most one interval's overshoot
        await one.share(db_one)
        assert one.hit("acct") is not None and two.hit("other") is None
        total = await db_one.fetchval("SELECT hits FROM rate_limit_hits WHERE bucket = 'api:acct'")
        assert total == 11
    finally:
        await db_one.close()
        await db_two.close()
