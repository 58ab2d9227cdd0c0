"""The OpenAPI description at /api/v2/openapi.json tells the truth: every
reply of every action, successes and errors, in both dialects and on both
engines, validates against the schemas the document gives for that action."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import jsonschema
import pytest
from starlette.testclient import TestClient

from smmpanel.app import PanelApp
from smmpanel.services import accounts, catalog, orders
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.settings import Settings
from smmpanel.store.db import open_database

API = "/api/v2"


async def _world(url: str) -> dict:
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        _, key = await accounts.add_user(panel, "alice", Decimal("1000"), actor="ops")
        likes = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="0.27819", min=10,
                                          max=10000, refill=True, cancel=True, dripfeed=True, description="real")
        comments = await catalog.add_service(panel, name="Comments", category="FB", type="Custom Comments",
                                             rate="8", min=1, max=100)
        customer = Customer.from_api_key(key)
        placed = [await orders.place_order(panel, customer, {"service": likes, "link": f"https://x.com/{n}",
                                                             "quantity": 1000}) for n in range(4)]
        await orders.operator_set_status(panel, placed[0], "Partial", remains=157, actor="ops")
        await orders.operator_set_status(panel, placed[1], "Completed", actor="ops")
        return {"key": key, "likes": likes, "comments": comments, "partial": placed[0], "completed": placed[1],
                "pending": placed[2], "spare": placed[3]}
    finally:
        await db.close()


def _calls(w: dict) -> list[tuple[str, dict]]:
    k = w["key"]
    return [
        ("services", {"key": k, "action": "services"}),
        ("balance", {"key": k, "action": "balance"}),
        ("balance", {"key": "wrong", "action": "balance"}),
        ("add", {"key": k, "action": "add", "service": w["likes"], "link": "https://x.com/a", "quantity": 100}),
        ("add", {"key": k, "action": "add", "service": w["likes"], "link": "https://x.com/a", "quantity": 1}),
        ("add", {"key": k, "action": "add", "service": w["comments"], "link": "https://x.com/a", "comments": "a\nb"}),
        ("addBulk", {"key": k, "action": "addBulk", "service": w["likes"], "quantity": 100,
                     "links": ["https://x.com/b", "bad link \x01"]}),
        ("status", {"key": k, "action": "status", "order": w["partial"]}),
        ("status", {"key": k, "action": "status", "order": 999_999}),
        ("status", {"key": k, "action": "status", "orders": f"{w['partial']},{w['pending']},999999"}),
        ("orders", {"key": k, "action": "orders", "orders": f"{w['completed']},abc"}),
        ("orders", {"key": k, "action": "orders", "orders": f"{w['completed']},999999"}),
        ("refill", {"key": k, "action": "refill", "order": w["completed"]}),
        ("refill", {"key": k, "action": "refill", "order": w["pending"]}),
        ("refill", {"key": k, "action": "refill", "orders": f"{w['partial']},{w['pending']}"}),
        ("refill_status", {"key": k, "action": "refill_status", "refill": 1}),
        ("refill_status", {"key": k, "action": "refill_status", "refills": "1,2"}),
        ("refill_status", {"key": k, "action": "refill_status", "refill": 999}),
        ("cancel", {"key": k, "action": "cancel", "orders": f"{w['spare']},{w['completed']},999999"}),
        ("cancel", {"key": k, "action": "cancel"}),
        ("nonsense", {"key": k, "action": "nonsense"}),
    ]


def _validator(document: dict, names: list[str]) -> jsonschema.Validator:
    schema = {"components": document["components"],
              "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in [*names, "Error"]]}
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("dialect", ["standard", "like3s"])
def test_every_reply_matches_the_description(db_url, dialect):
    world = asyncio.run(_world(db_url))
    settings = Settings(database_url=db_url, dialect=dialect, currency="USD")
    with TestClient(PanelApp(settings)) as client:
        document = client.get("/api/v2/openapi.json").json()
        assert document["openapi"].startswith("3.") and "/api/v2" in document["paths"]
        by_action = document["paths"]["/api/v2"]["post"]["x-replies-by-action"]
        assert set(by_action) == set(document["components"]["schemas"]["Request"]["properties"]["action"]["enum"])
        whole = document["paths"]["/api/v2"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        everything = jsonschema.Draft7Validator({"components": document["components"], **whole})
        kinds = set()
        for action, params in _calls(world):
            reply = client.post(API, json=params)
            assert reply.status_code == 200
            body = reply.json()
            _validator(document, by_action.get(action, [])).validate(body)
            everything.validate(body)
            kinds.add("error" if isinstance(body, dict) and "error" in body else action)
        assert {"services", "balance", "add", "addBulk", "status", "orders", "refill", "refill_status", "cancel",
                "error"} <= kinds  # each action answered at least once with success


def test_the_description_is_strict_enough_to_catch_a_wrong_reply(sqlite_url):
    """A reply of the other dialect, or with an extra key, does not validate."""
    with TestClient(PanelApp(Settings(database_url=sqlite_url, dialect="like3s", currency="VND"))) as client:
        document = client.get("/api/v2/openapi.json").json()
    numbers = _validator(document, ["Balance"])
    numbers.validate({"balance": 1000, "currency": "VND"})
    with pytest.raises(jsonschema.ValidationError):
        numbers.validate({"balance": "1000", "currency": "VND"})  # standard's string money
    with pytest.raises(jsonschema.ValidationError):
        _validator(document, ["Added"]).validate({"order": 1, "error": None})  # an error key on success
