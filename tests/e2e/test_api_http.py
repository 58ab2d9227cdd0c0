"""The API v2 contract (spec sections 1-5) over real HTTP, against real
``smmpanel serve`` processes.

Worlds (one server process each, shared by the tests of a world):

* SQLite ``standard`` (USD by default) and SQLite ``like3s`` (VND by default,
  small ``SMMPANEL_MAX_BODY_BYTES``): the whole matrix. Their catalog and
  customers come from the operator's CLI (``smmpanel users add``,
  ``smmpanel services add --type ...``), built once and copied.
* PostgreSQL ``standard`` and ``like3s`` with ``SMMPANEL_CURRENCY=USD``
  (``TestApiPostgres``): the same checks, inherited, so the PostgreSQL path is
  covered over HTTP too, and like3s numbers with decimals are seen.

Expected amounts are written as exact decimals (what ``rate x units / 1000``
is); ``World.money`` shows them the way the world's dialect and currency must
(strings in ``standard``, JSON numbers in ``like3s``; the currency's decimals,
half up).

Every test that changes state uses its own orders (or its own customer), so
tests of one world don't see each other.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import httpx
import pytest

from conftest import PG_TEMPLATE, ServerProcess, _need_pg, _pg_admin, _pg_base, run_cli, start_server
from smmpanel.services import accounts, catalog
from smmpanel.services import orders as order_service
from smmpanel.services import refills as refill_service
from smmpanel.services.panel import Panel
from smmpanel.store.db import open_database
from smmpanel.store.migrate import upgrade

pytestmark = pytest.mark.e2e

ENCODINGS = ["json", "form", "multipart", "query"]
UNKNOWN_ID = 999_999
SMALL_BODY_LIMIT = 65_536  # like3s worlds; standard worlds keep the default

# slug: (type, rate per 1000 (flat types: per order), min, max, flags)
CATALOG: dict[str, tuple[str, str, int, int, dict[str, Any]]] = {
    "default": ("Default", "1234.5", 10, 10_000,
                {"refill": True, "cancel": True, "dripfeed": True, "description": "Real likes, 30-day refill"}),
    "cheap": ("Default", "0.27819", 10, 100_000, {}),
    "norefill": ("Default", "1000", 10, 10_000, {"cancel": True}),
    "nocancel": ("Default", "1000", 10, 10_000, {"refill": True}),
    "window": ("Default", "1000", 10, 10_000, {"refill": True, "cancel": True, "refill_days": 0}),
    "guarded": ("Default", "1000", 10, 10_000, {"cancel": True, "deny_duplicate_link": True}),
    "disabled": ("Default", "1000", 10, 10_000, {}),
    "package": ("Package", "99.99", 1, 1, {}),
    "seo": ("SEO", "2000", 100, 10_000, {}),
    "cc": ("Custom Comments", "8000", 2, 100, {}),
    "ccp": ("Custom Comments Package", "150", 1, 1, {}),
    "mentions": ("Mentions", "3000", 10, 1_000, {}),
    "mwh": ("Mentions with Hashtags", "3500", 10, 1_000, {}),
    "mcl": ("Mentions Custom List", "5000", 1, 100, {}),
    "mh": ("Mentions Hashtag", "2500", 10, 1_000, {}),
    "muf": ("Mentions User Followers", "2600", 10, 1_000, {}),
    "mml": ("Mentions Media Likers", "2700", 10, 1_000, {}),
    "cl": ("Comment Likes", "1800", 10, 1_000, {}),
    "cr": ("Comment Replies", "12000", 1, 100, {}),
    "poll": ("Poll", "3200", 10, 1_000, {}),
    "invites": ("Invites from Groups", "6000", 10, 1_000, {}),
    "subs": ("Subscriptions", "1200", 50, 5_000, {}),
    # 1000 runs of 10^9 at 30000 per 1000: a charge of 3 x 10^19 micro-units, beyond 64 bits
    "huge": ("Default", "30000", 10, 1_000_000_000, {"dripfeed": True}),
}
ALL_TYPES = {
    "Default", "Package", "SEO", "Custom Comments", "Custom Comments Package", "Mentions",
    "Mentions with Hashtags", "Mentions Custom List", "Mentions Hashtag", "Mentions User Followers",
    "Mentions Media Likers", "Comment Likes", "Comment Replies", "Poll", "Invites from Groups", "Subscriptions",
}
# name: opening balance. ghost is disabled; vip pays 1000 per 1000 on "default".
USERS = {
    "alice": "1000000", "payer": "5000", "poor": "1", "bulk": "12.345", "wallet": "100.84292",
    "other": "100000", "vip": "100000", "ghost": "100", "burst": "100000", "methods": "100", "junk": "100", "waiter": "100",
}
DECIMALS = {"USD": 5, "VND": 0}

_links = itertools.count(1)
HUGE_ID = "999999999999999999"  # 18 digits: accepted as an id, but beyond any stored one


def new_link() -> str:
    return f"https://example.com/post/{next(_links)}-{uuid.uuid4().hex[:6]}"


# ------------------------------------------------------------ request encodings


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flat_pairs(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Form/query pairs; a list becomes repeated ``name[]`` fields (PHP style)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            pairs.extend((f"{name}[]", _text(item)) for item in value)
        else:
            pairs.append((name, _text(value)))
    return pairs


def multipart_body(pairs: list[tuple[str, str]]) -> tuple[bytes, str]:
    boundary = f"----smmpanel{uuid.uuid4().hex}"
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in pairs
    ]
    return ("".join(chunks) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


def request_kwargs(params: dict[str, Any], enc: str) -> dict[str, Any]:
    """httpx.request arguments carrying ``params`` in encoding ``enc``."""
    if enc == "json":
        return {"method": "POST", "content": json.dumps(params).encode(),
                "headers": {"content-type": "application/json"}}
    pairs = flat_pairs(params)
    if enc == "form":
        return {"method": "POST", "content": urlencode(pairs).encode(),
                "headers": {"content-type": "application/x-www-form-urlencoded"}}
    if enc == "multipart":
        body, ctype = multipart_body(pairs)
        return {"method": "POST", "content": body, "headers": {"content-type": ctype}}
    if enc == "query":
        return {"method": "GET", "params": pairs}
    raise ValueError(enc)


# ------------------------------------------------------------------ replies


def assert_json(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].split(";")[0].strip() == "application/json", resp.headers
    return json.loads(resp.content, parse_float=Decimal)


def ok(resp: httpx.Response) -> Any:
    """A success reply: 200, JSON, no top-level ``error`` key (not even null)."""
    body = assert_json(resp)
    if isinstance(body, dict):
        assert "error" not in body, body
    return body


def err(resp: httpx.Response, status: int = 200) -> str:
    """An error reply: exactly ``{"error": "<message>"}``."""
    body = assert_json(resp, status)
    assert isinstance(body, dict) and list(body) == ["error"], body
    assert isinstance(body["error"], str) and body["error"], body
    return body["error"]


# -------------------------------------------------------------------- worlds


@dataclass
class Seed:
    keys: dict[str, str]
    svc: dict[str, int]


@dataclass
class World:
    engine: str
    dialect: str
    currency: str
    max_body: int
    db_url: str
    server: ServerProcess
    seed: Seed
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    prepared: dict[str, int] = field(default_factory=dict)
    refills: dict[str, int] = field(default_factory=dict)
    window_placed_at: float = 0.0

    # ---- expectations
    @property
    def numbers(self) -> bool:
        return self.dialect == "like3s"

    def msg(self, en: str, vi: str) -> str:
        return vi if self.dialect == "like3s" else en

    def field_msg(self, name: str, en_rule: str, vi_rule: str) -> str:
        return self.msg(f"Invalid {name}: {en_rule}", f"Giá trị không hợp lệ: {name} {vi_rule}")

    def money(self, amount: str) -> Any:
        shown = Decimal(amount).quantize(Decimal(1).scaleb(-DECIMALS[self.currency]), rounding=ROUND_HALF_UP)
        return shown if self.numbers else str(shown)

    def count(self, value: int) -> Any:
        return value if self.numbers else str(value)

    def status_reply(self, charge: str, status: str, remains: int, start_count: int = 0) -> dict[str, Any]:
        return {"charge": self.money(charge), "start_count": self.count(start_count), "status": status,
                "remains": self.count(remains), "currency": self.currency}

    # ---- requests
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def key(self, user: str = "alice") -> str:
        return self.seed.keys[user]

    def svc(self, slug: str) -> int:
        return self.seed.svc[slug]

    def call(self, params: dict[str, Any], enc: str = "json", *, path: str = "/api/v2",
             query: dict[str, Any] | None = None) -> httpx.Response:
        kwargs = request_kwargs(params, enc)
        if query is not None:
            assert "params" not in kwargs
            kwargs["params"] = flat_pairs(query)
        method = kwargs.pop("method")
        return self.client.request(method, self.base + path, **kwargs)

    def act(self, action: str, enc: str = "json", user: str = "alice", **params: Any) -> httpx.Response:
        return self.call({"key": self.key(user), "action": action, **params}, enc)

    def add(self, slug: str = "default", user: str = "alice", enc: str = "json", **params: Any) -> int:
        if CATALOG[slug][0] != "Subscriptions":
            params.setdefault("link", new_link())
        if CATALOG[slug][0] in ("Default", "SEO", "Mentions", "Mentions with Hashtags", "Poll"):
            params.setdefault("quantity", 100)
        order_id = ok(self.act("add", enc, user, service=self.svc(slug), **params))["order"]
        assert type(order_id) is int and order_id > 0
        return order_id

    def status(self, order_id: int) -> dict[str, Any]:
        return ok(self.act("status", order=order_id))

    def balance(self, user: str) -> Any:
        return ok(self.act("balance", user=user))["balance"]


def _service_name(slug: str) -> str:
    return f"E2E {CATALOG[slug][0]} ({slug})"


def _category(slug: str) -> str:
    return "Instagram" if CATALOG[slug][0] != "Default" else "Facebook"


def _clean_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_DATABASE_URL"] = db_url
    return env


def seed_with_cli(db_url: str) -> Seed:
    """Customers and catalog through the operator's CLI, as an operator would."""
    env = _clean_env(db_url)

    def cli_json(*args: str) -> Any:
        return json.loads(run_cli(env, *args, "--json", check=True).stdout)

    def add_service(slug: str) -> tuple[str, int]:
        type_, rate, lo, hi, flags = CATALOG[slug]
        args = ["services", "add", "--name", _service_name(slug), "--category", _category(slug), "--type", type_,
                "--rate", rate, "--min", str(lo), "--max", str(hi)]
        for name, value in flags.items():
            option = "--" + name.replace("_", "-")
            args += [option] if value is True else [option, str(value)]
        return slug, cli_json(*args)["service"]

    def add_user(name: str) -> tuple[str, str]:
        return name, cli_json("users", "add", name, "--balance", USERS[name])["api_key"]

    with ThreadPoolExecutor(max_workers=3) as pool:
        services = pool.map(add_service, CATALOG)
        users = pool.map(add_user, USERS)
        seed = Seed(keys=dict(users), svc=dict(services))
        last = [
            pool.submit(cli_json, "services", "set", str(seed.svc["disabled"]), "enabled=false"),
            pool.submit(cli_json, "users", "disable", "ghost"),
            pool.submit(cli_json, "users", "rate", "vip", str(seed.svc["default"]), "1000"),
        ]
        for future in last:
            future.result()
    return seed


async def _seed_in_process(db_url: str) -> Seed:
    """The same customers and catalog through the use cases the CLI calls (fast)."""
    db = await open_database(db_url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        keys = {name: (await accounts.add_user(panel, name, Decimal(balance), actor="ops"))[1]
                for name, balance in USERS.items()}
        svc = {}
        for slug, (type_, rate, lo, hi, flags) in CATALOG.items():
            svc[slug] = await catalog.add_service(panel, name=_service_name(slug), category=_category(slug),
                                                  type=type_, rate=rate, min=lo, max=hi, **flags)
        await catalog.set_service(panel, svc["disabled"], {"enabled": "false"})
        await accounts.set_active(panel, "ghost", False)
        await accounts.set_custom_rate(panel, "vip", svc["default"], Decimal("1000"))
        return Seed(keys, svc)
    finally:
        await db.close()


def operate(db_url: str, orders: list[tuple[int, str, dict[str, Any]]] = (),
            refills: list[tuple[int, str]] = ()) -> None:
    """Operator moves (what ``smmpanel orders set`` / ``refills set`` do), in-process for speed."""

    async def main() -> None:
        db = await open_database(db_url, pg_pool_max=2)
        try:
            panel = Panel(db=db)
            for order_id, status, extra in orders:
                await order_service.operator_set_status(panel, order_id, status, actor="ops", **extra)
            for refill_id, status in refills:
                await refill_service.operator_set_status(panel, refill_id, status)
        finally:
            await db.close()

    asyncio.run(main())


def record_upstream_remains(db_url: str, order_id: int, remains: int) -> None:
    async def main() -> None:
        db = await open_database(db_url, pg_pool_max=2)
        try:
            async with db.transaction() as tx:
                await tx.execute("UPDATE orders SET remains = $1 WHERE id = $2", remains, order_id)
        finally:
            await db.close()

    asyncio.run(main())


def prepare(w: World) -> None:
    """Orders in the states the refill, cancel and status tests need."""
    p = w.prepared
    p["window_done"] = w.add("window")
    w.window_placed_at = time.time()
    for enc in ENCODINGS:
        p[f"done_{enc}"] = w.add()
    for name in ("done_multi", "partial_multi", "pending_multi", "rs_completed", "rs_rejected", "rs_pending",
                 "final_done", "final_partial", "in_progress"):
        p[name] = w.add()
    p["partial"] = w.add(quantity=1000)
    p["over"] = w.add(quantity=100)
    p["norefill_done"] = w.add("norefill")
    p["nocancel"] = w.add("nocancel")
    p["other_order"] = w.add(user="other")
    p["other_done"] = w.add(user="other")
    completed = ["window_done", *(f"done_{e}" for e in ENCODINGS), "done_multi", "rs_completed", "rs_rejected",
                 "rs_pending", "final_done", "norefill_done", "other_done"]
    operate(w.db_url, [(p[n], "Completed", {}) for n in completed] + [
        (p["partial_multi"], "Partial", {"remains": 40}),
        (p["final_partial"], "Partial", {"remains": 10}),
        (p["in_progress"], "In progress", {"start_count": 50}),
        (p["over"], "Completed", {"start_count": 168}),
    ])
    # Over-delivery: an upstream may report remains -2 (the worker records it); an operator can't.
    record_upstream_remains(w.db_url, p["over"], -2)
    # The operator's CLI for one move: what a reseller sees after `orders set`.
    cli = w.server.cli("orders", "set", str(p["partial"]), "--status", "Partial", "--remains", "250",
                       "--start-count", "3572", "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    for name in ("rs_completed", "rs_rejected", "rs_pending"):
        w.refills[name] = int(ok(w.act("refill", order=p[name]))["refill"])
    w.refills["other"] = int(ok(w.act("refill", user="other", order=p["other_done"]))["refill"])
    operate(w.db_url, refills=[(w.refills["rs_completed"], "Completed"), (w.refills["rs_rejected"], "Rejected")])


def start_world(engine: str, dialect: str, db_url: str, seed: Seed, *, env: dict[str, str], currency: str,
                max_body: int) -> World:
    server = start_server({"SMMPANEL_DATABASE_URL": db_url, "SMMPANEL_DIALECT": dialect, **env})
    world = World(engine=engine, dialect=dialect, currency=currency, max_body=max_body, db_url=db_url,
                  server=server, seed=seed)
    try:
        prepare(world)
    except BaseException:
        stop_world(world)
        raise
    return world


def stop_world(world: World) -> None:
    world.client.close()
    world.server.stop()


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seed]:
    path = tmp_path_factory.mktemp("template") / "panel.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    seed = seed_with_cli(url)
    return path, seed


@pytest.fixture(scope="module", params=["standard", "like3s"])
def w(request: pytest.FixtureRequest, sqlite_template, tmp_path_factory) -> World:
    template, seed = sqlite_template
    dialect = request.param
    path = tmp_path_factory.mktemp(dialect) / "panel.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{template}{suffix}").exists():
            shutil.copy(f"{template}{suffix}", f"{path}{suffix}")
    if dialect == "standard":  # defaults: USD, 1 MB bodies
        env, currency, max_body = {}, "USD", 1_000_000
    else:  # defaults: VND
        env, currency, max_body = {"SMMPANEL_MAX_BODY_BYTES": str(SMALL_BODY_LIMIT)}, "VND", SMALL_BODY_LIMIT
    world = start_world("sqlite", dialect, f"sqlite:///{path}", seed, env=env, currency=currency, max_body=max_body)
    yield world
    stop_world(world)


# ===================================================================== tests


class TestApi:
    # ------------------------------------------------------------ transport

    @pytest.mark.parametrize("path", ["/api/v2", "/api/v2/"])
    @pytest.mark.parametrize("enc", ["query", "form", "json"])
    def test_paths_and_methods(self, w: World, path: str, enc: str) -> None:
        body = ok(w.call({"key": w.key("wallet"), "action": "balance"}, enc, path=path))
        assert body == {"balance": w.money("100.84292"), "currency": w.currency}

    def test_balance_exact_and_default_currency(self, w: World) -> None:
        body = ok(w.act("balance", user="wallet"))
        expected = {("standard", "USD"): "100.84292", ("like3s", "VND"): 101, ("like3s", "USD"): Decimal("100.84292")}
        assert body == {"balance": expected[w.dialect, w.currency], "currency": w.currency}
        raw = w.act("balance", user="wallet").content
        assert (b'"balance":"' in raw) is (w.dialect == "standard")

    @pytest.mark.parametrize("enc", ["json", "form", "multipart"])
    def test_query_and_body_mix_body_wins(self, w: World, enc: str) -> None:
        # key in the query string, action in the body: both are read
        body = ok(w.call({"action": "balance"}, enc, query={"key": w.key("wallet")}))
        assert body["balance"] == w.money("100.84292")
        # both in both: the body wins (a bad key and an unknown action in the query are ignored)
        body = ok(w.call({"key": w.key("wallet"), "action": "balance"}, enc,
                         query={"key": "not-a-key", "action": "fly"}))
        assert body["balance"] == w.money("100.84292")
        # and the other way round: a bad key in the body is not rescued by the query
        assert err(w.call({"key": "not-a-key", "action": "balance"}, enc,
                          query={"key": w.key("wallet")})) == w.msg("Invalid API key", "API key không hợp lệ")

    def test_json_without_content_type_is_read(self, w: World) -> None:
        resp = w.client.post(w.server.url, content=json.dumps({"key": w.key("wallet"), "action": "balance"}),
                             headers={"content-type": ""})
        assert ok(resp)["balance"] == w.money("100.84292")

    @pytest.mark.parametrize("body,ctype", [
        (b'{"key": "abc", "action": ', "application/json"),
        (b'["balance"]', "application/json"),
        (b'"balance"', "application/json"),
        (b"key=\xff\xfe&action=balance", "application/x-www-form-urlencoded"),
    ], ids=["truncated-json", "json-array", "json-string", "bad-utf8-form"])
    def test_unreadable_body_is_incorrect_request(self, w: World, body: bytes, ctype: str) -> None:
        resp = w.client.post(w.server.url, content=body, headers={"content-type": ctype})
        assert err(resp) == w.msg("Incorrect request", "Yêu cầu không hợp lệ")

    def test_body_size_limit(self, w: World) -> None:
        def padded(size: int) -> bytes:
            head = json.dumps({"key": w.key("wallet"), "action": "balance", "pad": ""}).encode()
            body = head[:-2] + b"x" * (size - len(head)) + head[-2:]
            assert len(body) == size
            return body

        at_limit = w.client.post(w.server.url, content=padded(w.max_body), headers={"content-type": "application/json"})
        assert ok(at_limit)["balance"] == w.money("100.84292")
        over = w.client.post(w.server.url, content=padded(w.max_body + 1), headers={"content-type": "application/json"})
        assert err(over, 413) == w.msg(f"Request body larger than {w.max_body} bytes",
                                       f"Dữ liệu gửi lên vượt quá {w.max_body} byte")
        # the server is still fine afterwards
        assert ok(w.act("balance", user="wallet"))["balance"] == w.money("100.84292")

    # ------------------------------------------------------ services, balance

    def test_services_catalog(self, w: World) -> None:
        entries = ok(w.act("services"))
        assert isinstance(entries, list)
        by_id = {e["service"]: e for e in entries}
        assert len(by_id) == len(entries)
        assert all(type(e["service"]) is int for e in entries)
        ours = {slug: by_id.get(sid) for slug, sid in w.seed.svc.items()}
        assert ours.pop("disabled") is None  # a disabled service is not listed
        assert {e["type"] for e in ours.values()} == ALL_TYPES
        assert ours["default"] == {
            "service": w.svc("default"), "name": _service_name("default"), "type": "Default",
            "category": "Facebook", "rate": Decimal("1234.5") if w.numbers else "1234.5",
            "min": w.count(10), "max": w.count(10_000), "refill": True, "cancel": True, "dripfeed": True,
            "description": "Real likes, 30-day refill",
        }
        for slug, entry in ours.items():
            type_, rate, lo, hi, flags = CATALOG[slug]
            assert entry["type"] == type_ and entry["name"] == _service_name(slug)
            assert entry["rate"] == (Decimal(rate) if w.numbers else rate)
            assert (entry["min"], entry["max"]) == (w.count(lo), w.count(hi))
            for flag in ("refill", "cancel", "dripfeed"):
                assert entry[flag] is bool(flags.get(flag)), (slug, flag)
            assert ("description" in entry) is ("description" in flags)

    def test_services_show_the_customers_own_rate(self, w: World) -> None:
        entry = next(e for e in ok(w.act("services", user="vip")) if e["service"] == w.svc("default"))
        assert entry["rate"] == (1000 if w.numbers else "1000")
        order_id = w.add(user="vip", quantity=1000)
        assert ok(w.act("status", user="vip", order=order_id)) == w.status_reply("1000", "Pending", 1000)

    def test_balance_follows_charge_and_refund(self, w: World) -> None:
        assert w.balance("payer") == w.money("5000")
        order_id = w.add(user="payer", quantity=1000)
        assert w.balance("payer") == w.money("3765.5")
        assert ok(w.act("cancel", user="payer", orders=str(order_id))) == [{"order": order_id, "cancel": 1}]
        assert w.balance("payer") == w.money("5000")
        assert ok(w.act("status", user="payer", order=order_id)) == w.status_reply("0", "Canceled", 1000)

    # ------------------------------------------------------------------ add

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_add_default(self, w: World, enc: str) -> None:
        resp = w.act("add", enc, service=w.svc("default"), link=new_link(), quantity=123)
        body = ok(resp)
        assert list(body) == ["order"] and type(body["order"]) is int
        assert w.status(body["order"]) == w.status_reply("151.8435", "Pending", 123)

    def test_add_numbers_as_json_strings(self, w: World) -> None:
        body = ok(w.call({"key": w.key(), "action": "add", "service": str(w.svc("default")),
                          "link": new_link(), "quantity": "1000"}))
        status = ok(w.call({"key": w.key(), "action": "status", "order": str(body["order"])}))
        assert status == w.status_reply("1234.5", "Pending", 1000)

    def test_add_cheap_rate_keeps_every_decimal(self, w: World) -> None:
        order_id = w.add("cheap", quantity=1000)
        assert w.status(order_id) == w.status_reply("0.27819", "Pending", 1000)
        order_id = w.add("cheap", quantity=17)
        # 0.27819 x 17 / 1000 = 0.00472923 -> 0.004729 (micro-units, half up)
        assert w.status(order_id) == w.status_reply("0.004729", "Pending", 17)

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_add_dripfeed(self, w: World, enc: str) -> None:
        order_id = w.add(enc=enc, quantity=100, runs=3, interval=60)
        # charged for quantity x runs
        assert w.status(order_id) == w.status_reply("370.35", "Pending", 300)

    ORDER_TYPES = [
        # slug, params beyond service, charge, units (remains of a new order)
        ("package", {"link": "https://instagram.com/p/abc"}, "99.99", 1),
        ("seo", {"link": "https://youtube.com/watch?v=x", "quantity": 500, "keywords": "cats, dogs"}, "1000", 500),
        ("cc", {"link": "https://example.com/c", "comments": "Nice!\r\nGreat post\n\n   \nWow\n"}, "24", 3),
        ("ccp", {"link": "https://example.com/c", "comments": "one\ntwo\nthree\nfour"}, "150", 1),
        ("mentions", {"link": "https://example.com/m", "quantity": 100, "usernames": "ann\nbob"}, "300", 100),
        ("mwh", {"link": "https://example.com/m", "quantity": 20, "usernames": "ann\nbob", "hashtags": "#cats\r\n#dogs"},
         "70", 20),
        ("mcl", {"link": "https://example.com/m", "usernames": "ann\r\nbob\r\ncid\r\n"}, "15", 3),
        ("mh", {"link": "https://example.com/m", "quantity": 40, "hashtag": "#cats"}, "100", 40),
        ("muf", {"link": "https://example.com/m", "quantity": 50, "username": "natgeo"}, "130", 50),
        ("mml", {"link": "https://example.com/m", "quantity": 60, "media": "https://instagram.com/p/xyz"},
         "162", 60),
        ("cl", {"link": "https://example.com/m", "quantity": 70, "username": "commenter"}, "126", 70),
        ("cr", {"link": "https://example.com/m", "username": "owner", "comments": "hi\nthere"}, "24", 2),
        ("poll", {"link": "https://example.com/poll", "quantity": 80, "answer_number": "2"}, "256", 80),
        ("invites", {"link": "https://facebook.com/groups/1", "quantity": 90, "groups": "g1\ng2"}, "540", 90),
        ("subs", {"username": "natgeo", "min": 100, "max": 200, "posts": 5, "delay": 30, "expiry": "31/12/2030"},
         "1200", 1000),
        # posts absent: the service's default cap (10) is reserved up front
        ("subs", {"username": "natgeo", "min": 100, "max": 200}, "2400", 2000),
        ("subs", {"username": "@natgeo", "min": "50", "max": "5000", "posts": "1", "delay": "600",
                  "old_posts": "3"}, "6000", 5000),
    ]

    @pytest.mark.parametrize("slug,params,charge,units", ORDER_TYPES, ids=[
        f"{CATALOG[c[0]][0]}-{i}" for i, c in enumerate(ORDER_TYPES)])
    def test_add_every_order_type(self, w: World, slug: str, params: dict, charge: str, units: int) -> None:
        body = ok(w.act("add", service=w.svc(slug), **params))
        assert list(body) == ["order"] and type(body["order"]) is int
        assert w.status(body["order"]) == w.status_reply(charge, "Pending", units)

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_custom_comments_count_lines_in_every_encoding(self, w: World, enc: str) -> None:
        order_id = w.add("cc", enc=enc, comments="first one\r\nsecond, with comma\n\n  \nthird\r\n")
        assert w.status(order_id) == w.status_reply("24", "Pending", 3)

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_custom_comments_as_a_list(self, w: World, enc: str) -> None:
        order_id = w.add("cc", enc=enc, comments=["a comment", "another, with a comma", "a third"])
        assert w.status(order_id) == w.status_reply("24", "Pending", 3)

    def test_same_link_twice_allowed_by_default(self, w: World) -> None:
        link = new_link()
        first, second = w.add(link=link), w.add(link=link)
        assert first != second

    def test_duplicate_active_link_guard(self, w: World) -> None:
        link = new_link()
        first = w.add("guarded", link=link, quantity=10)
        resp = w.act("add", service=w.svc("guarded"), link=link, quantity=10)
        assert err(resp) == w.msg(
            "You have active order with this link. Please wait until order being completed.",
            "Link này đang có đơn chạy, vui lòng chờ hoàn thành.")
        w.add("guarded", link=new_link(), quantity=10)  # another link is fine
        assert ok(w.act("cancel", orders=first)) == [{"order": first, "cancel": 1}]
        w.add("guarded", link=link, quantity=10)  # the link is free again

    # -------------------------------------------------------------- addBulk

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_add_bulk(self, w: World, enc: str) -> None:
        links = [new_link(), "not a link", new_link(), "@some_handle"]
        body = ok(w.act("addBulk", enc, service=w.svc("default"), links=links, quantity=200))
        assert list(body) == ["created", "failed"]
        assert [c["link"] for c in body["created"]] == [links[0], links[2], links[3]]
        assert all(list(c) == ["order", "link"] and type(c["order"]) is int for c in body["created"])
        assert len({c["order"] for c in body["created"]}) == 3
        assert body["failed"] == [{"link": "not a link", "error": w.msg("Bad link", "Link không hợp lệ")}]
        for created in body["created"]:
            assert w.status(created["order"]) == w.status_reply("246.9", "Pending", 200)

    @pytest.mark.parametrize("sep", [",", "\n", "\r\n", " , "], ids=["comma", "lf", "crlf", "spaced-comma"])
    @pytest.mark.parametrize("enc", ["json", "form"])
    def test_add_bulk_links_as_one_string(self, w: World, sep: str, enc: str) -> None:
        links = [new_link(), new_link()]
        body = ok(w.act("addBulk", enc, service=w.svc("default"), links=sep.join(links), quantity=10))
        assert [c["link"] for c in body["created"]] == links and body["failed"] == []

    def test_add_bulk_repeated_fields_without_brackets(self, w: World) -> None:
        links = [new_link(), new_link()]
        pairs = [("key", w.key()), ("action", "addBulk"), ("service", str(w.svc("default"))), ("quantity", "10")]
        pairs += [("links", link) for link in links]
        resp = w.client.post(w.server.url, content=urlencode(pairs),
                             headers={"content-type": "application/x-www-form-urlencoded"})
        assert [c["link"] for c in ok(resp)["created"]] == links

    def test_add_bulk_stops_charging_when_funds_run_out(self, w: World) -> None:
        links = [new_link(), new_link()]
        body = ok(w.act("addBulk", user="bulk", service=w.svc("default"), links=links, quantity=10))
        assert [c["link"] for c in body["created"]] == links[:1]
        assert body["failed"] == [{"link": links[1], "error": w.msg("Not enough funds on balance", "Số dư không đủ")}]
        assert w.balance("bulk") == w.money("0")

    def test_add_bulk_per_link_rule_errors(self, w: World) -> None:
        links = [new_link(), new_link()]
        body = ok(w.act("addBulk", service=w.svc("default"), links=links, quantity=5))
        minimal = w.msg("Quantity less than minimal 10", "Số lượng tối thiểu là 10")
        assert body == {"created": [], "failed": [{"link": link, "error": minimal} for link in links]}

    def test_add_bulk_hundred_links_and_not_one_more(self, w: World) -> None:
        links = [f"https://example.com/bulk/{uuid.uuid4().hex}" for _ in range(101)]
        resp = w.act("addBulk", service=w.svc("cheap"), links=links, quantity=10)
        assert err(resp) == w.field_msg("links", "at most 100 allowed", "tối đa 100 mục")
        body = ok(w.act("addBulk", service=w.svc("cheap"), links=links[:100], quantity=10))
        assert len(body["created"]) == 100 and body["failed"] == []

    # --------------------------------------------------------------- status

    def test_status_partial_is_charged_net_of_refund(self, w: World) -> None:
        # 1234.5 - 1234.5 x 250 / 1000
        assert w.status(w.prepared["partial"]) == w.status_reply("925.875", "Partial", 250, 3572)

    def test_status_negative_remains(self, w: World) -> None:
        assert w.status(w.prepared["over"]) == w.status_reply("123.45", "Completed", -2, 168)

    @pytest.mark.parametrize("action", ["status", "orders"])
    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_multi_status(self, w: World, action: str, enc: str) -> None:
        a, b = w.add(quantity=10), w.add(quantity=20)
        other = w.prepared["other_order"]
        ids = [a, b, UNKNOWN_ID, other, a]
        body = ok(w.act(action, enc, orders=ids if enc != "json" else ",".join(map(str, ids))))
        missing = {"error": w.msg("Incorrect order ID", "Không tìm thấy đơn hàng")}
        assert body == {
            str(a): w.status_reply("12.345", "Pending", 10),
            str(b): w.status_reply("24.69", "Pending", 20),
            str(UNKNOWN_ID): missing,
            str(other): missing,  # another customer's order does not exist for this key
        }
        assert list(body) == [str(a), str(b), str(UNKNOWN_ID), str(other)]  # the order sent, duplicates once

    @pytest.mark.parametrize("action", ["status", "orders"])
    def test_multi_status_keyed_by_the_id_as_sent(self, w: World, action: str) -> None:
        a, b = w.add(quantity=10), w.add(quantity=10)
        body = ok(w.act(action, orders=f" {a} ,\n0{b}\r\n{a},"))
        assert body == {str(a): w.status_reply("12.345", "Pending", 10),
                        f"0{b}": w.status_reply("12.345", "Pending", 10)}
        body = ok(w.act(action, orders=[a, b]))  # a JSON array of numbers
        assert list(body) == [str(a), str(b)]

    def test_status_single_of_multi_id_list_of_one(self, w: World) -> None:
        a = w.add(quantity=10)
        assert ok(w.act("status", orders=str(a))) == {str(a): w.status_reply("12.345", "Pending", 10)}

    # --------------------------------------------------------------- refill

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_refill_single(self, w: World, enc: str) -> None:
        order_id = w.prepared[f"done_{enc}"]
        body = ok(w.act("refill", enc, order=order_id))
        assert list(body) == ["refill"]
        refill_id = body["refill"]
        if w.numbers:
            assert type(refill_id) is int
        else:
            assert type(refill_id) is str and refill_id.isdigit()
        assert ok(w.act("refill_status", enc, refill=refill_id)) == {"status": "Pending"}
        again = w.act("refill", enc, order=order_id)
        assert err(again) == w.msg("This order already has an active refill", "Đơn hàng đang có yêu cầu bảo hành")

    def test_refill_multi(self, w: World) -> None:
        p = w.prepared
        ids = [p["done_multi"], p["partial_multi"], p["pending_multi"], UNKNOWN_ID, p["other_done"], p["done_multi"]]
        body = ok(w.act("refill", orders=",".join(map(str, ids))))
        assert isinstance(body, list) and len(body) == 5
        assert [e["order"] for e in body] == ids[:5]
        assert all(list(e) == ["order", "refill"] for e in body)
        assert type(body[0]["refill"]) is int and type(body[1]["refill"]) is int
        assert body[0]["refill"] != body[1]["refill"]
        missing = {"error": w.msg("Incorrect order ID", "Không tìm thấy đơn hàng")}
        assert body[2:] == [
            {"order": p["pending_multi"], "refill": {"error": w.msg(
                "Refill is only available for Completed or Partial orders", "Chỉ bảo hành đơn Completed hoặc Partial")}},
            {"order": UNKNOWN_ID, "refill": missing},
            {"order": p["other_done"], "refill": missing},
        ]
        statuses = ok(w.act("refill_status", refills=[body[0]["refill"], body[1]["refill"]]))
        assert statuses == [{"refill": body[0]["refill"], "status": "Pending"},
                            {"refill": body[1]["refill"], "status": "Pending"}]

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_refill_status_multi(self, w: World, enc: str) -> None:
        r = w.refills
        ids = [r["rs_completed"], r["rs_rejected"], r["rs_pending"], UNKNOWN_ID, r["other"], r["rs_completed"]]
        body = ok(w.act("refill_status", enc, refills=ids if enc != "json" else ",".join(map(str, ids))))
        missing = {"error": w.msg("Refill not found", "Không tìm thấy yêu cầu bảo hành")}
        assert body == [
            {"refill": r["rs_completed"], "status": "Completed"},
            {"refill": r["rs_rejected"], "status": "Rejected"},
            {"refill": r["rs_pending"], "status": "Pending"},
            {"refill": UNKNOWN_ID, "status": missing},
            {"refill": r["other"], "status": missing},
        ]

    def test_refill_status_single_values(self, w: World) -> None:
        for name, status in (("rs_completed", "Completed"), ("rs_rejected", "Rejected"), ("rs_pending", "Pending")):
            assert ok(w.act("refill_status", refill=w.refills[name])) == {"status": status}

    def test_refill_after_a_completed_or_rejected_refill(self, w: World) -> None:
        # the earlier refill is over: a new one may be asked
        for name in ("rs_completed", "rs_rejected"):
            body = ok(w.act("refill", order=w.prepared[name]))
            assert int(body["refill"]) > w.refills[name]

    def test_refill_not_allowed(self, w: World) -> None:
        p = w.prepared
        # the window service refills for 0 days: any order from an earlier second is out of it
        time.sleep(max(0.0, int(w.window_placed_at) + 1.05 - time.time()))
        cases = [
            (w.add(), "Refill is only available for Completed or Partial orders",
             "Chỉ bảo hành đơn Completed hoặc Partial"),
            (p["in_progress"], "Refill is only available for Completed or Partial orders",
             "Chỉ bảo hành đơn Completed hoặc Partial"),
            (p["norefill_done"], "Refill is not available for this service", "Dịch vụ này không hỗ trợ bảo hành"),
            (p["window_done"], "Refill period for this order has expired", "Đơn hàng đã hết thời gian bảo hành"),
            (p["rs_pending"], "This order already has an active refill", "Đơn hàng đang có yêu cầu bảo hành"),
        ]
        for order_id, en, vi in cases:
            assert err(w.act("refill", order=order_id)) == w.msg(en, vi), order_id
        body = ok(w.act("refill", orders=[order_id for order_id, _, _ in cases]))
        assert body == [{"order": order_id, "refill": {"error": w.msg(en, vi)}} for order_id, en, vi in cases]

    # --------------------------------------------------------------- cancel

    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_cancel_multi(self, w: World, enc: str) -> None:
        a, b = w.add(quantity=10), w.add(quantity=30, runs=2, interval=5)
        ids = [a, UNKNOWN_ID, b, a]
        body = ok(w.act("cancel", enc, orders=ids if enc != "query" else ",".join(map(str, ids))))
        assert body == [{"order": a, "cancel": 1},
                        {"order": UNKNOWN_ID, "cancel": {"error": w.msg("Incorrect order ID", "Không tìm thấy đơn hàng")}},
                        {"order": b, "cancel": 1}]
        assert w.status(a) == w.status_reply("0", "Canceled", 10)
        assert w.status(b) == w.status_reply("0", "Canceled", 60)

    @pytest.mark.parametrize("enc", ["json", "query"])
    def test_cancel_single_order_param(self, w: World, enc: str) -> None:
        a = w.add(quantity=10)
        assert ok(w.act("cancel", enc, order=a)) == [{"order": a, "cancel": 1}]
        assert w.status(a)["status"] == "Canceled"

    def test_cancel_not_allowed(self, w: World) -> None:
        p = w.prepared
        canceled = w.add(quantity=10)
        ok(w.act("cancel", orders=canceled))
        final = ("Order is already finished and can't be canceled", "Đơn đã kết thúc, không thể hủy")
        cases = [
            (p["nocancel"], "Cancel is not available for this service", "Dịch vụ này không hỗ trợ hủy đơn"),
            (p["final_done"], *final),
            (p["final_partial"], *final),
            (canceled, *final),
            (p["in_progress"], "Order is already in progress and can't be canceled", "Đơn đang chạy, không thể hủy"),
            (p["other_order"], "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ]
        body = ok(w.act("cancel", orders=[c[0] for c in cases]))
        assert body == [{"order": order_id, "cancel": {"error": w.msg(en, vi)}} for order_id, en, vi in cases]
        # nothing moved
        assert w.status(p["in_progress"]) == w.status_reply("123.45", "In progress", 100, 50)
        assert w.status(p["final_partial"]) == w.status_reply("111.105", "Partial", 10)

    # --------------------------------------------------------------- errors

    FIXED_ERRORS: list[tuple[str, Callable[[World], dict], str, str]] = [
        ("no-key", lambda w: {"action": "balance"}, "Incorrect request", "Yêu cầu không hợp lệ"),
        ("no-action", lambda w: {"key": w.key()}, "Incorrect request", "Yêu cầu không hợp lệ"),
        ("nothing", lambda w: {}, "Incorrect request", "Yêu cầu không hợp lệ"),
        ("empty-key", lambda w: {"key": "", "action": "services"}, "Incorrect request", "Yêu cầu không hợp lệ"),
        ("empty-action", lambda w: {"key": w.key(), "action": ""}, "Incorrect request", "Yêu cầu không hợp lệ"),
        ("unknown-key", lambda w: {"key": "A" * 43, "action": "balance"}, "Invalid API key", "API key không hợp lệ"),
        ("unknown-key-add", lambda w: {"key": "A" * 43, "action": "add", "service": w.svc("default"),
                                       "link": new_link(), "quantity": 100}, "Invalid API key", "API key không hợp lệ"),
        ("unknown-key-unknown-action", lambda w: {"key": "A" * 43, "action": "fly"},
         "Invalid API key", "API key không hợp lệ"),
        ("disabled-key-balance", lambda w: {"key": w.key("ghost"), "action": "balance"},
         "Invalid API key", "API key không hợp lệ"),
        ("disabled-key-services", lambda w: {"key": w.key("ghost"), "action": "services"},
         "Invalid API key", "API key không hợp lệ"),
        ("disabled-key-status", lambda w: {"key": w.key("ghost"), "action": "status", "orders": "1,2"},
         "Invalid API key", "API key không hợp lệ"),
        ("disabled-key-add-no-service", lambda w: {"key": w.key("ghost"), "action": "add"},
         "Invalid API key", "API key không hợp lệ"),
        ("unknown-action", lambda w: {"key": w.key(), "action": "fly"}, "Invalid action", "Action không hợp lệ"),
        ("action-wrong-case", lambda w: {"key": w.key(), "action": "BALANCE"}, "Invalid action", "Action không hợp lệ"),
        ("add-no-link", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"), "quantity": 100},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("add-no-quantity", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"),
                                       "link": new_link()},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("add-empty-quantity", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"),
                                          "link": new_link(), "quantity": ""},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("add-no-service", lambda w: {"key": w.key(), "action": "add", "link": new_link(), "quantity": 100},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("package-no-link", lambda w: {"key": w.key(), "action": "add", "service": w.svc("package")},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("bulk-no-links", lambda w: {"key": w.key(), "action": "addBulk", "service": w.svc("default"),
                                     "quantity": 100},
         "Missing required fields: service, link, quantity", "Thiếu thông tin: service, link, quantity là bắt buộc"),
        ("add-unknown-service", lambda w: {"key": w.key(), "action": "add", "service": UNKNOWN_ID,
                                           "link": new_link(), "quantity": 100},
         "Incorrect service ID", "Dịch vụ không tồn tại"),
        ("add-disabled-service", lambda w: {"key": w.key(), "action": "add", "service": w.svc("disabled"),
                                            "link": new_link(), "quantity": 100},
         "Incorrect service ID", "Dịch vụ không tồn tại"),
        ("bulk-unknown-service", lambda w: {"key": w.key(), "action": "addBulk", "service": UNKNOWN_ID,
                                            "links": [new_link()], "quantity": 100},
         "Incorrect service ID", "Dịch vụ không tồn tại"),
        ("bad-link", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"),
                                "link": "not a link", "quantity": 100}, "Bad link", "Link không hợp lệ"),
        ("quantity-below-min", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"),
                                          "link": new_link(), "quantity": 9},
         "Quantity less than minimal 10", "Số lượng tối thiểu là 10"),
        ("quantity-above-max", lambda w: {"key": w.key(), "action": "add", "service": w.svc("default"),
                                          "link": new_link(), "quantity": 10_001},
         "Quantity more than maximal 10000", "Số lượng tối đa là 10000"),
        ("lines-below-min", lambda w: {"key": w.key(), "action": "add", "service": w.svc("cc"),
                                       "link": new_link(), "comments": "only one\n\n"},
         "Quantity less than minimal 2", "Số lượng tối thiểu là 2"),
        ("funds", lambda w: {"key": w.key("poor"), "action": "add", "service": w.svc("default"),
                             "link": new_link(), "quantity": 10}, "Not enough funds on balance", "Số dư không đủ"),
        ("status-unknown-order", lambda w: {"key": w.key(), "action": "status", "order": UNKNOWN_ID},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("status-huge-order-id", lambda w: {"key": w.key(), "action": "status", "order": HUGE_ID},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("refill-huge-order-id", lambda w: {"key": w.key(), "action": "refill", "order": HUGE_ID},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("refill-status-huge-id", lambda w: {"key": w.key(), "action": "refill_status", "refill": HUGE_ID},
         "Refill not found", "Không tìm thấy yêu cầu bảo hành"),
        ("add-huge-service-id", lambda w: {"key": w.key(), "action": "add", "service": HUGE_ID,
                                           "link": new_link(), "quantity": 100},
         "Incorrect service ID", "Dịch vụ không tồn tại"),
        ("status-other-customers-order", lambda w: {"key": w.key(), "action": "status",
                                                    "order": w.prepared["other_order"]},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("refill-unknown-order", lambda w: {"key": w.key(), "action": "refill", "order": UNKNOWN_ID},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("refill-other-customers-order", lambda w: {"key": w.key(), "action": "refill",
                                                    "order": w.prepared["other_done"]},
         "Incorrect order ID", "Không tìm thấy đơn hàng"),
        ("bad-list-status", lambda w: {"key": w.key(), "action": "status", "orders": "1,abc"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-orders", lambda w: {"key": w.key(), "action": "orders", "orders": "1;2"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-negative", lambda w: {"key": w.key(), "action": "status", "orders": "1,-2"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-only-commas", lambda w: {"key": w.key(), "action": "status", "orders": ",,"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-cancel", lambda w: {"key": w.key(), "action": "cancel", "orders": "x"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-refill", lambda w: {"key": w.key(), "action": "refill", "orders": "1 2"},
         'Invalid orders format, use: "1,2,3"', 'Định dạng orders không hợp lệ, dùng dạng: "1,2,3"'),
        ("bad-list-refills", lambda w: {"key": w.key(), "action": "refill_status", "refills": "1.5"},
         'Invalid refills format, use: "1,2,3"', 'Định dạng refills không hợp lệ, dùng dạng: "1,2,3"'),
        ("refill-not-found", lambda w: {"key": w.key(), "action": "refill_status", "refill": UNKNOWN_ID},
         "Refill not found", "Không tìm thấy yêu cầu bảo hành"),
        ("refill-of-another-customer", lambda w: {"key": w.key(), "action": "refill_status",
                                                  "refill": w.refills["other"]},
         "Refill not found", "Không tìm thấy yêu cầu bảo hành"),
    ]

    @pytest.mark.parametrize("enc", ENCODINGS)
    @pytest.mark.parametrize("name,build,en,vi", FIXED_ERRORS, ids=[c[0] for c in FIXED_ERRORS])
    def test_section4_errors(self, w: World, enc: str, name: str, build, en: str, vi: str) -> None:
        assert err(w.call(build(w), enc)) == w.msg(en, vi)

    def test_ids_beyond_any_stored_id_are_unknown(self, w: World) -> None:
        a = w.add(quantity=10)
        missing = {"error": w.msg("Incorrect order ID", "Không tìm thấy đơn hàng")}
        assert ok(w.act("status", orders=f"{a},{HUGE_ID}")) == {
            str(a): w.status_reply("12.345", "Pending", 10), HUGE_ID: missing}
        assert ok(w.act("refill", orders=f"{a},{HUGE_ID}"))[1] == {"order": int(HUGE_ID), "refill": missing}
        assert ok(w.act("refill_status", refills=HUGE_ID)) == [{"refill": int(HUGE_ID), "status": {
            "error": w.msg("Refill not found", "Không tìm thấy yêu cầu bảo hành")}}]
        assert ok(w.act("cancel", orders=f"{a},{HUGE_ID}")) == [{"order": a, "cancel": 1},
                                                                 {"order": int(HUGE_ID), "cancel": missing}]

    def test_failed_add_charges_nothing(self, w: World) -> None:
        before = w.balance("poor")
        assert err(w.act("add", user="poor", service=w.svc("default"), link=new_link(), quantity=10))
        assert w.balance("poor") == before == w.money("1")

    @pytest.mark.parametrize("link", [
        "not a link", "ftp://example.com/x", "https://", "https://exa mple.com/x", "javascript:alert(1)",
        "https://example.com/\u0001x", "https://example.com/\nx", "https://example.com/" + "a" * 2100, "   ",
        "http://nodot/x",
    ], ids=["words", "ftp", "no-host", "space", "javascript", "control-char", "newline", "too-long", "blank",
            "host-without-dot"])
    @pytest.mark.parametrize("enc", ["json", "form"])
    def test_bad_links(self, w: World, link: str, enc: str) -> None:
        resp = w.act("add", enc, service=w.svc("default"), link=link, quantity=100)
        expected = w.msg("Bad link", "Link không hợp lệ")
        if not link.strip():  # blank: the field is missing
            expected = w.msg("Missing required fields: service, link, quantity",
                             "Thiếu thông tin: service, link, quantity là bắt buộc")
        assert err(resp) == expected

    @pytest.mark.parametrize("link", ["https://example.com/p?x=1&y=2#frag", "http://sub.example.vn/a/b", "@natgeo",
                                      "natgeo.official", "https://www.facebook.com/groups/123/posts/456/"])
    def test_good_links(self, w: World, link: str) -> None:
        w.add(link=link)

    @pytest.mark.parametrize("action,field_", [("status", "orders"), ("orders", "orders"), ("refill", "orders"),
                                              ("refill_status", "refills"), ("cancel", "orders")])
    @pytest.mark.parametrize("enc", ["json", "form"])
    def test_more_than_100_ids(self, w: World, action: str, field_: str, enc: str) -> None:
        ids = list(range(UNKNOWN_ID, UNKNOWN_ID + 101))
        resp = w.act(action, enc, **{field_: ",".join(map(str, ids)) if enc == "json" else ids})
        assert err(resp) == w.field_msg(field_, "at most 100 allowed", "tối đa 100 mục")
        # 100 distinct ids (plus duplicates) are fine: each answered once
        body = ok(w.act(action, enc, **{field_: ",".join(map(str, ids[:100] + ids[:5]))}))
        assert len(body) == 100

    DRIPFEED_ERRORS = [
        ("runs-1", {"runs": 1, "interval": 10}, "runs", "must be between 2 and 1000", "phải từ 2 đến 1000"),
        ("runs-1001", {"runs": 1001, "interval": 10}, "runs", "must be between 2 and 1000", "phải từ 2 đến 1000"),
        ("runs-0", {"runs": 0, "interval": 10}, "runs", "must be between 2 and 1000", "phải từ 2 đến 1000"),
        ("interval-0", {"runs": 2, "interval": 0}, "interval", "must be between 1 and 1440", "phải từ 1 đến 1440"),
        ("interval-1441", {"runs": 2, "interval": 1441}, "interval", "must be between 1 and 1440",
         "phải từ 1 đến 1440"),
        ("runs-no-interval", {"runs": 2}, "interval", "is required", "là bắt buộc"),
        ("interval-no-runs", {"interval": 10}, "runs", "is required", "là bắt buộc"),
        ("runs-text", {"runs": "2x", "interval": 10}, "runs", "must be a whole number", "phải là số nguyên không âm"),
        ("interval-fraction", {"runs": 2, "interval": 1.5}, "interval", "must be a whole number",
         "phải là số nguyên không âm"),
    ]

    @pytest.mark.parametrize("case,extra,field_,en_rule,vi_rule", DRIPFEED_ERRORS, ids=[c[0] for c in DRIPFEED_ERRORS])
    @pytest.mark.parametrize("enc", ["json", "form"])
    def test_bad_dripfeed_values(self, w: World, case, extra, field_, en_rule, vi_rule, enc: str) -> None:
        resp = w.act("add", enc, service=w.svc("default"), link=new_link(), quantity=100, **extra)
        assert err(resp) == w.field_msg(field_, en_rule, vi_rule)

    def test_dripfeed_rules_per_service_and_per_run(self, w: World) -> None:
        unavailable = w.field_msg("runs", "drip-feed (runs, interval) is not available for this service",
                                  "dịch vụ này không hỗ trợ drip-feed (runs, interval)")
        resp = w.act("add", service=w.svc("norefill"), link=new_link(), quantity=100, runs=2, interval=10)
        assert err(resp) == unavailable
        resp = w.act("add", service=w.svc("package"), link=new_link(), runs=2, interval=10)
        assert err(resp) == unavailable
        # the per-run quantity must lie within min..max, whatever the total
        resp = w.act("add", service=w.svc("default"), link=new_link(), quantity=5, runs=4, interval=10)
        assert err(resp) == w.msg("Quantity less than minimal 10", "Số lượng tối thiểu là 10")
        resp = w.act("add", service=w.svc("default"), link=new_link(), quantity=10_000, runs=2, interval=10)
        assert w.status(ok(resp)["order"]) == w.status_reply("24690", "Pending", 20_000)

    WRONG_TYPES = [
        ("quantity-12abc", "add", {"quantity": "12abc"}, "quantity"),
        ("quantity-1.5", "add", {"quantity": 1.5}, "quantity"),
        ("quantity-minus-3", "add", {"quantity": -3}, "quantity"),
        ("quantity-minus-3-text", "add", {"quantity": "-3"}, "quantity"),
        ("quantity-exponent", "add", {"quantity": "1e3"}, "quantity"),
        ("quantity-true", "add", {"quantity": True}, "quantity"),
        ("quantity-20-digits", "add", {"quantity": "9" * 20}, "quantity"),
        ("service-12abc", "add", {"service": "12abc"}, "service"),
        ("service-1.5", "add", {"service": 1.5}, "service"),
        ("service-minus-3", "add", {"service": -3}, "service"),
        ("minutes-text", "add", {"minutes": "soon"}, "minutes"),
        ("status-order-12abc", "status", {"order": "12abc"}, "order"),
        ("status-order-1.5", "status", {"order": 1.5}, "order"),
        ("status-order-minus-3", "status", {"order": -3}, "order"),
        ("refill-order-12abc", "refill", {"order": "12abc"}, "order"),
        ("refill-status-1.5", "refill_status", {"refill": 1.5}, "refill"),
        ("bulk-quantity-12abc", "addBulk", {"quantity": "12abc"}, "quantity"),
    ]

    @pytest.mark.parametrize("case,action,params,field_", WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
    @pytest.mark.parametrize("enc", ENCODINGS)
    def test_wrong_field_types(self, w: World, case, action, params, field_, enc: str) -> None:
        full = {"key": w.key(), "action": action}
        if action in ("add", "addBulk"):
            full.update(service=w.svc("default"), quantity=100)
            full.update({"link": new_link()} if action == "add" else {"links": [new_link()]})
        full.update(params)
        resp = w.call(full, enc)
        expected = w.field_msg(field_, "must be a whole number", "phải là số nguyên không âm")
        if action == "addBulk":  # a rule broken by every link fails every link
            assert ok(resp) == {"created": [], "failed": [{"link": full["links"][0], "error": expected}]}
        else:
            assert err(resp) == expected

    def test_minutes_range(self, w: World) -> None:
        resp = w.act("add", service=w.svc("default"), link=new_link(), quantity=100, minutes=0)
        assert err(resp) == w.field_msg("minutes", "must be between 1 and 100000", "phải từ 1 đến 100000")
        w.add(minutes="60", comments="hello\nworld")

    def test_missing_ids(self, w: World) -> None:
        assert err(w.act("status")) == w.field_msg("order", "is required", "là bắt buộc")
        assert err(w.act("orders")) == w.field_msg("orders", "is required", "là bắt buộc")
        assert err(w.act("refill")) == w.field_msg("order", "is required", "là bắt buộc")
        assert err(w.act("refill_status")) == w.field_msg("refill", "is required", "là bắt buộc")
        assert err(w.act("cancel")) == w.field_msg("orders", "is required", "là bắt buộc")

    TYPE_FIELD_ERRORS = [
        ("seo", {"link": "https://e.com/x", "quantity": 500}, "keywords", "is required", "là bắt buộc"),
        ("cc", {"link": "https://e.com/x"}, "comments", "is required", "là bắt buộc"),
        ("cc", {"link": "https://e.com/x", "comments": "\n \r\n"}, "comments", "is required", "là bắt buộc"),
        ("ccp", {"link": "https://e.com/x"}, "comments", "is required", "là bắt buộc"),
        ("mentions", {"link": "https://e.com/x", "quantity": 10}, "usernames", "is required", "là bắt buộc"),
        ("mwh", {"link": "https://e.com/x", "quantity": 10, "usernames": "a"}, "hashtags", "is required",
         "là bắt buộc"),
        ("mcl", {"link": "https://e.com/x"}, "usernames", "is required", "là bắt buộc"),
        ("mh", {"link": "https://e.com/x", "quantity": 10}, "hashtag", "is required", "là bắt buộc"),
        ("muf", {"link": "https://e.com/x", "quantity": 10}, "username", "is required", "là bắt buộc"),
        ("mml", {"link": "https://e.com/x", "quantity": 10}, "media", "is required", "là bắt buộc"),
        ("cl", {"link": "https://e.com/x", "quantity": 10}, "username", "is required", "là bắt buộc"),
        ("cr", {"link": "https://e.com/x", "comments": "a"}, "username", "is required", "là bắt buộc"),
        ("cr", {"link": "https://e.com/x", "username": "a"}, "comments", "is required", "là bắt buộc"),
        ("poll", {"link": "https://e.com/x", "quantity": 10}, "answer_number", "is required", "là bắt buộc"),
        ("invites", {"link": "https://e.com/x", "quantity": 10}, "groups", "is required", "là bắt buộc"),
        ("muf", {"link": "https://e.com/x", "quantity": 10, "username": "a\nb"}, "username",
         "must not contain control characters", "không được chứa ký tự điều khiển"),
        ("subs", {"min": 100, "max": 200}, "username", "is required", "là bắt buộc"),
        ("subs", {"username": "u", "max": 200}, "min", "is required", "là bắt buộc"),
        ("subs", {"username": "u", "min": 100}, "max", "is required", "là bắt buộc"),
        ("subs", {"username": "u", "min": 300, "max": 200}, "min", "must not be above max",
         "không được lớn hơn max"),
        ("subs", {"username": "u", "min": "1x", "max": 200}, "min", "must be a whole number",
         "phải là số nguyên không âm"),
        ("subs", {"username": "u", "min": 100, "max": 200, "posts": 11}, "posts", "must be between 1 and 10",
         "phải từ 1 đến 10"),
        ("subs", {"username": "u", "min": 100, "max": 200, "posts": 0}, "posts", "must be between 1 and 10",
         "phải từ 1 đến 10"),
        ("subs", {"username": "u", "min": 100, "max": 200, "delay": 7}, "delay",
         "must be one of: 0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600",
         "phải là một trong: 0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600"),
        ("subs", {"username": "u", "min": 100, "max": 200, "expiry": "2030-12-31"}, "expiry",
         "must be a date as d/m/Y", "phải là ngày dạng d/m/Y"),
        ("subs", {"username": "u", "min": 100, "max": 200, "expiry": "31/02/2030"}, "expiry",
         "must be a date as d/m/Y", "phải là ngày dạng d/m/Y"),
    ]

    @pytest.mark.parametrize("slug,params,field_,en_rule,vi_rule", TYPE_FIELD_ERRORS,
                             ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(TYPE_FIELD_ERRORS)])
    def test_order_type_field_errors(self, w: World, slug, params, field_, en_rule, vi_rule) -> None:
        resp = w.act("add", service=w.svc(slug), **params)
        assert err(resp) == w.field_msg(field_, en_rule, vi_rule)

    def test_subscription_limits_follow_service_min_max(self, w: World) -> None:
        resp = w.act("add", service=w.svc("subs"), username="u", min=10, max=200)
        assert err(resp) == w.msg("Quantity less than minimal 50", "Số lượng tối thiểu là 50")
        resp = w.act("add", service=w.svc("subs"), username="u", min=100, max=5001)
        assert err(resp) == w.msg("Quantity more than maximal 5000", "Số lượng tối đa là 5000")

    def test_no_success_reply_has_an_error_key(self, w: World) -> None:
        # every action, success path, raw bytes: not even "error": null
        a = w.add(quantity=10)
        replies = [
            w.act("services"), w.act("balance"), w.act("status", order=a), w.act("status", orders=str(a)),
            w.act("orders", orders=str(a)),
            w.act("addBulk", service=w.svc("default"), links=[new_link()], quantity=10),
            w.act("cancel", order=a),
        ]
        for resp in replies:
            ok(resp)
            assert b'"error"' not in resp.content, resp.content


    # --------------------------------------------------- attacks (issue 6, section 5)

    def test_a_huge_charge_is_refused_and_fails_no_other_order(self, w: World) -> None:
        """The overflowing order arrives among 50 orders of another customer:
        it gets a clear error naming the limit, they are all placed."""
        before = w.balance("alice")
        huge = {"key": w.key("alice"), "action": "add", "service": w.svc("huge"), "link": new_link(),
                "quantity": 1_000_000_000, "runs": 1000, "interval": 5}
        valid = [{"key": w.key("burst"), "action": "add", "service": w.svc("cheap"), "link": new_link(),
                  "quantity": 10} for _ in range(50)]

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as client:
                calls = [client.post(w.server.url, json=params) for params in valid[:25] + [huge] + valid[25:]]
                return await asyncio.gather(*calls)

        replies = asyncio.run(burst())
        assert err(replies[25]) == w.field_msg(
            "quantity", "the order is too large (at most 1000000000000000 units and a charge of 100000000000)",
            "đơn quá lớn (tối đa 1000000000000000 đơn vị và 100000000000 tiền)")
        placed = [ok(reply)["order"] for reply in replies[:25] + replies[26:]]
        assert len(set(placed)) == 50
        assert w.balance("alice") == before
        assert ok(w.act("status", user="burst", orders=",".join(map(str, placed))))[str(placed[0])]["status"] == \
            "Pending"

    @pytest.mark.parametrize("enc", ["json", "form", "multipart"])
    def test_add_bulk_never_splits_a_list_item(self, w: World, enc: str) -> None:
        link = new_link() + "?ids=10,20"
        body = ok(w.act("addBulk", enc, service=w.svc("cheap"), links=[link], quantity=10))
        assert body["failed"] == [] and [c["link"] for c in body["created"]] == [link]
        assert ok(w.act("status", order=body["created"][0]["order"]))["status"] == "Pending"

    def test_add_bulk_splits_a_single_string(self, w: World) -> None:
        a, b = new_link(), new_link()
        body = ok(w.act("addBulk", "form", service=w.svc("cheap"), links=f"{a},{b}", quantity=10))
        assert [c["link"] for c in body["created"]] == [a, b]

    def test_add_bulk_refuses_items_that_are_not_text(self, w: World) -> None:
        good = new_link()
        items = [None, False, 1.5, 7, {"a": 1}, ["x"], good]
        resp = w.act("addBulk", user="junk", service=w.svc("cheap"), links=items, quantity=10)
        body = ok(resp)
        rule = w.field_msg("links", "must be text", "phải là chuỗi ký tự")
        assert body["failed"] == [{"link": item, "error": rule} for item in items[:-1]]
        assert [c["link"] for c in body["created"]] == [good]
        for python_text in (b"None", b"False", b"{'a'", b"['x']"):
            assert python_text not in resp.content
        assert w.balance("junk") == w.money(str(Decimal(USERS["junk"]) - Decimal("0.0027819")))

    @pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"])
    def test_only_get_and_post_run_actions(self, w: World, method: str) -> None:
        params = {"key": w.key("methods"), "action": "add", "service": w.svc("default"), "link": new_link(),
                  "quantity": 10}
        headers = {"origin": "https://evil.example", "access-control-request-method": "POST"}
        resp = w.client.request(method, w.server.url, params=params, headers=headers)
        assert resp.status_code == 405
        assert resp.headers["allow"] == "GET, POST"
        if method != "HEAD":
            assert err(resp, 405) == w.msg("Method not allowed: use GET or POST",
                                           "Phương thức không được hỗ trợ: dùng GET hoặc POST")
        resp = w.client.request(method, w.server.url, json=params) if method not in ("HEAD", "TRACE") else resp
        assert resp.status_code == 405
        assert w.balance("methods") == w.money(USERS["methods"])  # nothing charged, no order

    @pytest.mark.parametrize("link", [
        "https://example.com/\u202egnp.exe",  # right-to-left override
        "https://exa\u200bmple.com/post/1",  # zero-width space
        "https://example.com/post/1\u2066",  # left-to-right isolate
        "\ufeffhttps://example.com/post/1",  # byte order mark
        "https://example.com/p\u200d1",  # zero-width joiner
    ], ids=["rlo", "zwsp", "lri", "bom", "zwj"])
    def test_invisible_characters_in_a_link_are_refused(self, w: World, link: str) -> None:
        assert err(w.act("add", service=w.svc("cheap"), link=link, quantity=10)) == w.msg("Bad link", "Link không hợp lệ")
        body = ok(w.act("addBulk", service=w.svc("cheap"), links=[link], quantity=10))
        assert body["created"] == [] and body["failed"][0]["error"] == w.msg("Bad link", "Link không hợp lệ")

    def test_operator_cannot_record_negative_remains_or_start_count(self, w: World) -> None:
        order_id = w.add(quantity=100)
        for option, field_ in (("--remains", "remains"), ("--start-count", "start_count")):
            cli = w.server.cli("orders", "set", str(order_id), "--status", "Partial", "--remains", "10",
                               option, "-5")
            assert cli.returncode == 1
            assert f"Invalid {field_}: must not be negative" in cli.stderr
        assert w.status(order_id) == w.status_reply("123.45", "Pending", 100)

    def test_a_write_waiting_on_sqlites_lock_is_told_to_retry_and_reads_go_on(self, w: World) -> None:
        if w.engine != "sqlite":
            pytest.skip("PostgreSQL waits for row locks without blocking the server")
        import sqlite3

        holder = sqlite3.connect(w.db_url[len("sqlite:///"):], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process (a worker, a CLI command) holds the write lock
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                started = time.monotonic()
                write = pool.submit(w.act, "add", service=w.svc("cheap"), link=new_link(), quantity=10, user="waiter")
                time.sleep(0.3)
                for _ in range(5):  # reads are answered at once meanwhile
                    t0 = time.monotonic()
                    assert ok(w.act("balance", user="wallet"))["balance"] == w.money("100.84292")
                    assert time.monotonic() - t0 < 0.5
                resp = write.result()
            waited = time.monotonic() - started
        finally:
            holder.rollback()
            holder.close()
        assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
        assert err(resp, 503) == w.msg(
            "Panel busy (waited 5 s for the database), nothing was changed: please retry",
            "Hệ thống đang bận (đã chờ 5 giây), chưa có gì thay đổi: vui lòng thử lại")
        assert 4 < waited < 8
        w.add("cheap", user="waiter", quantity=10)  # the lock is gone: the same order goes through


# ----------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="class", params=["standard", "like3s"])
def pg_world(request: pytest.FixtureRequest) -> World:
    """PostgreSQL worlds: standard/USD and like3s with SMMPANEL_CURRENCY=USD."""
    _need_pg()
    name = f"smmpanel_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{PG_TEMPLATE}"'))
    url = f"{_pg_base()}/{name}"
    try:
        seed = asyncio.run(_seed_in_process(url))
        if request.param == "standard":
            world = start_world("postgresql", "standard", url, seed, env={}, currency="USD", max_body=1_000_000)
        else:
            world = start_world("postgresql", "like3s", url, seed, currency="USD", max_body=SMALL_BODY_LIMIT,
                                env={"SMMPANEL_CURRENCY": "USD", "SMMPANEL_MAX_BODY_BYTES": str(SMALL_BODY_LIMIT)})
        try:
            yield world
        finally:
            stop_world(world)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
class TestApiPostgres(TestApi):
    """The same checks on PostgreSQL: standard/USD and like3s with USD (JSON numbers with decimals)."""

    @pytest.fixture
    def w(self, pg_world: World) -> World:
        return pg_world

    def test_like3s_numbers_keep_their_decimals(self, w: World) -> None:
        order_id = w.add("cheap", quantity=1000)
        raw = w.act("status", order=order_id).content
        if w.numbers:
            assert b'"charge":0.27819' in raw
        else:
            assert b'"charge":"0.27819"' in raw
