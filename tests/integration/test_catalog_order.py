"""The catalog's order: the operator moves services and categories, and every
list customers see follows (the API's services action, the order form's two
selects, the API documentation), as does the operator's own list. Both
databases."""

from __future__ import annotations

import asyncio
import html
import re
from decimal import Decimal

import pytest
from alembic import command

from smmpanel.domain.errors import InvalidField, NotFound
from smmpanel.services import accounts, catalog
from smmpanel.store.db import open_database
from smmpanel.store.migrate import alembic_config
from websupport import website

CATALOG = [("Facebook", "Likes"), ("Instagram", "Followers"), ("Facebook", "Shares"), ("TikTok", "Views"),
           ("Instagram", "Likes IG")]


@pytest.fixture(autouse=True)
def panel_secret(monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")


async def add_catalog(panel) -> dict[str, int]:
    ids = {}
    for category, name in CATALOG:
        ids[name] = await catalog.add_service(panel, name=name, category=category, type="Default", rate="1", min=1,
                                              max=1000)
    return ids


async def names(panel) -> list[str]:
    return [row["name"] for row in await catalog.all_services(panel)]


async def category_id(panel, name: str) -> int:
    return next(row["id"] for row in await catalog.categories(panel) if row["name"] == name)


@pytest.mark.anyio
async def test_moves_up_down_and_to_a_place_and_the_ends_stay_put(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        ids = await add_catalog(panel)
        # Today's order: categories as their first service came, services as they were added.
        assert await names(panel) == ["Likes", "Shares", "Followers", "Likes IG", "Views"]
        assert await catalog.move(panel, "service", ids["Shares"], "up", actor="olga") == 1
        assert await names(panel) == ["Shares", "Likes", "Followers", "Likes IG", "Views"]
        assert await catalog.move(panel, "service", ids["Shares"], "up", actor="olga") == 1  # first already
        tiktok = await category_id(panel, "TikTok")
        assert await catalog.move(panel, "category", tiktok, 1, actor="olga") == 1
        assert await names(panel) == ["Views", "Shares", "Likes", "Followers", "Likes IG"]
        instagram = await category_id(panel, "Instagram")
        assert await catalog.move(panel, "category", instagram, "up", actor="olga") == 2
        assert await catalog.move(panel, "service", ids["Followers"], "down", actor="olga") == 2
        assert await names(panel) == ["Views", "Likes IG", "Followers", "Shares", "Likes"]
        assert await catalog.move(panel, "category", tiktok, 99, actor="olga") == 3  # past the end: last
        assert [r["name"] for r in await catalog.categories(panel)] == ["Instagram", "Facebook", "TikTok"]
        # A new service goes last in its category, a new category last of all.
        await catalog.add_service(panel, name="Comments", category="Facebook", type="Default", rate="1", min=1,
                                  max=10)
        await catalog.add_service(panel, name="Subscribers", category="YouTube", type="Default", rate="1", min=1,
                                  max=10)
        assert await names(panel) == ["Likes IG", "Followers", "Shares", "Likes", "Comments", "Views", "Subscribers"]
        # A service moved to another category is listed there (last), and an emptied category never blocks a move.
        await catalog.set_service(panel, ids["Views"], {"category": "YouTube"})
        youtube = await category_id(panel, "YouTube")
        assert await catalog.move(panel, "category", youtube, "up", actor="olga") == 2
        assert [r["name"] for r in await catalog.categories(panel)][:3] == ["Instagram", "YouTube", "Facebook"]


@pytest.mark.anyio
async def test_a_bad_move_names_its_field_and_changes_nothing(db_url, panel_factory):
    async with panel_factory(db_url) as panel:
        ids = await add_catalog(panel)
        before = await names(panel)
        for to, field in (("sideways", "position"), (0, "position"), ("-1", "position")):
            with pytest.raises(InvalidField) as bad:
                await catalog.move(panel, "service", ids["Likes"], to, actor="olga")
            assert bad.value.params["field"] == field
        with pytest.raises(NotFound):
            await catalog.move(panel, "service", 999_999, "up", actor="olga")
        with pytest.raises(NotFound):
            await catalog.move(panel, "category", 999_999, "up", actor="olga")
        with pytest.raises(InvalidField) as bad:
            await catalog.move(panel, "service", ids["Likes"], "up", actor=" ")
        assert bad.value.params["field"] == "actor"
        with pytest.raises(InvalidField):
            catalog.check_move_to(up=True, down=True)
        assert await names(panel) == before


@pytest.mark.anyio
async def test_every_list_a_customer_sees_follows_the_operators_order(db_url):
    async with website(db_url) as (app, browser):
        panel = app.site.state.web.panel
        ids = await add_catalog(panel)
        _, key = await accounts.add_user(panel, "alice", Decimal(5), actor="cli")
        await catalog.move(panel, "category", await category_id(panel, "TikTok"), 1, actor="olga")
        await catalog.move(panel, "service", ids["Likes IG"], "up", actor="olga")
        wanted = ["Views", "Likes", "Shares", "Likes IG", "Followers"]
        b = browser()
        reply = await b.client.post("/api/v2", data={"key": key, "action": "services"})
        assert [s["name"] for s in reply.json()] == wanted
        docs = html.unescape((await b.get("/api-docs")).text)  # its sample reply shows the first two services
        assert re.findall(r'"name": "([^"]+)"', docs) == wanted[:2]
        await b.sign_up("bob")
        form = (await b.get("/order")).text
        categories = re.findall(r'<option value="([^"]+)"[^>]*>\1</option>', form.split('id="f-service"')[0])
        assert categories == ["TikTok", "Facebook", "Instagram"]
        services = re.findall(r'<option value="(\d+)" data-category', form)
        assert [int(s) for s in services] == [ids[name] for name in wanted]


def test_the_migration_keeps_todays_order(db_url):
    """At 0007 customers saw services by id; 0008 numbers them so that nothing moves."""
    config = alembic_config(db_url)
    command.downgrade(config, "0007")

    async def fill() -> None:
        db = await open_database(db_url, pg_pool_max=1)
        try:
            for cid, name in ((1, "Zeta"), (2, "Alpha"), (3, "Empty")):
                await db.execute("INSERT INTO categories (id, name) VALUES ($1, $2)", cid, name)
            for sid, cid in ((10, 1), (11, 2), (12, 1)):
                await db.execute(
                    "INSERT INTO services (id, category_id, name, type, rate_micros, min, max, created_at_s) "
                    "VALUES ($1, $2, $3, 'Default', 1, 1, 10, 0)", sid, cid, f"s{sid}")
        finally:
            await db.close()

    async def listed() -> tuple[list, list]:
        db = await open_database(db_url, pg_pool_max=1)
        try:
            cats = [r["name"] for r in await db.fetch("SELECT name FROM categories ORDER BY position, id")]
            services = [r["id"] for r in await db.fetch(
                "SELECT s.id FROM services s JOIN categories c ON c.id = s.category_id "
                "ORDER BY c.position, c.id, s.position, s.id")]
            refused = await db.fetchval("SELECT COUNT(*) FROM orders WHERE refused_sends <> 0")
            return cats, services + [refused]
        finally:
            await db.close()

    asyncio.run(fill())
    command.upgrade(config, "head")
    cats, services = asyncio.run(listed())
    assert cats == ["Zeta", "Alpha", "Empty"]  # Zeta held the first service, the empty one goes last
    assert services == [10, 12, 11, 0]
