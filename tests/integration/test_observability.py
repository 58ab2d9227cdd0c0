"""Seeing inside a running panel: /healthz, /readyz, /metrics (behind its
token), request ids in replies and in the logs. In-process (Starlette's test
client runs the app's lifespan) on both engines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from smmpanel.app import PanelApp
from smmpanel.ops.logs import setup_logging
from smmpanel.services import accounts, catalog
from smmpanel.services.panel import Panel
from smmpanel.settings import Settings
from smmpanel.store.db import open_database

TOKEN = "metrics-token-0123456789"
API = "/api/v2"


async def _seed(url: str) -> tuple[str, int]:
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        _, key = await accounts.add_user(panel, "alice", Decimal("10"), actor="ops")
        sid = await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="2", min=10, max=10000)
        return key, sid
    finally:
        await db.close()


def _client(url: str, **settings) -> TestClient:
    return TestClient(PanelApp(Settings(database_url=url, **settings)))


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when absent."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return None if found is None else float(found.group(1))


def test_metrics_count_requests_and_read_the_database(db_url):
    key, sid = asyncio.run(_seed(db_url))
    with _client(db_url, metrics_token=TOKEN) as client:
        for _ in range(3):
            assert "balance" in client.post(API, data={"key": key, "action": "balance"}).json()
        client.post(API, data={"key": "wrong", "action": "balance"})
        client.post(API, data={"key": key, "action": "nonsense"})
        for _ in range(2):
            assert "order" in client.post(API, data={"key": key, "action": "add", "service": sid,
                                                      "link": "https://x.com/p", "quantity": 1000}).json()
        reply = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200
        text = reply.text
    assert _sample(text, "smmpanel_api_requests_total", action="balance", outcome="ok") == 3
    assert _sample(text, "smmpanel_api_requests_total", action="balance", outcome="error") == 1
    assert _sample(text, "smmpanel_api_requests_total", action="other", outcome="error") == 1
    assert _sample(text, "smmpanel_api_requests_total", action="add", outcome="ok") == 2
    assert _sample(text, "smmpanel_api_request_duration_seconds_count", action="balance") == 4
    assert _sample(text, "smmpanel_api_request_duration_seconds_bucket", action="balance", le="+Inf") == 4
    assert _sample(text, "smmpanel_orders", status="Pending") == 2
    assert _sample(text, "smmpanel_needs_attention") == 0
    # 10 deposited, two orders of 1000 at 2 per 1000 charged: exact micro-units
    assert _sample(text, "smmpanel_ledger_amount_micros", kind="deposit") == 10_000_000
    assert _sample(text, "smmpanel_ledger_amount_micros", kind="charge") == -4_000_000
    assert _sample(text, "smmpanel_ledger_entries", kind="charge") == 2
    assert _sample(text, "smmpanel_balances_micros") == 6_000_000


def test_metrics_want_the_token_and_are_off_without_one(sqlite_url):
    with _client(sqlite_url, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    with _client(sqlite_url) as client:
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_health_and_readiness(db_url):
    with _client(db_url) as client:
        assert client.get("/healthz").json() == {"ok": True}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True


def test_not_ready_when_the_schema_is_behind(sqlite_url):
    async def roll_back_revision() -> None:
        db = await open_database(sqlite_url)
        await db.execute("UPDATE alembic_version SET version_num = '0001'")
        await db.close()

    asyncio.run(roll_back_revision())
    with _client(sqlite_url) as client:
        reply = client.get("/readyz")
        assert reply.status_code == 503
        assert reply.json()["schema"] == "0001" and reply.json()["ready"] is False
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_not_ready_without_a_schema(tmp_path):
    with _client(f"sqlite:///{tmp_path / 'empty.db'}") as client:
        reply = client.get("/readyz")
        assert reply.status_code == 503 and reply.json()["database"] != "ok"


@pytest.fixture
def json_logs():
    """The panel's JSON logging for one test, then logging as pytest had it
    (its capture hangs off the root logger, which the panel's config bypasses)."""
    names = ("smmpanel", "uvicorn", "uvicorn.access", "")  # "": the root logger
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate,
                    logging.getLogger(name).level) for name in names}
    setup_logging("json", "info")
    stream = io.StringIO()
    logging.getLogger("smmpanel").handlers[0].stream = stream
    yield stream
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)


def test_request_ids_in_replies_and_logs(sqlite_url, monkeypatch, json_logs):
    from smmpanel.api import actions

    key, _ = asyncio.run(_seed(sqlite_url))

    async def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setitem(actions.ACTIONS, "balance", broken)
    stream = json_logs
    with _client(sqlite_url) as client:
        first = client.post(API, data={"key": key, "action": "services"})
        second = client.post(API, data={"key": key, "action": "services"})
        assert first.headers["x-request-id"] != second.headers["x-request-id"]
        mine = client.post(API, data={"key": key, "action": "services"}, headers={"X-Request-Id": "client-42"})
        assert mine.headers["x-request-id"] == "client-42"
        hostile = client.post(API, data={"key": key, "action": "services"}, headers={"X-Request-Id": "a\tb"})
        assert hostile.headers["x-request-id"] != "a\tb"
        assert client.get("/healthz").headers["x-request-id"]
        failed = client.post(API, data={"key": key, "action": "balance"})
        assert failed.status_code == 500
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    faults = [line for line in lines if line["message"] == "unexpected fault in /api/v2"]
    assert len(faults) == 1
    assert faults[0]["request_id"] == failed.headers["x-request-id"]
    assert "RuntimeError: boom" in faults[0]["exception"] and faults[0]["level"] == "error"
    assert key not in stream.getvalue()


def test_a_library_warning_is_a_json_line_too(sqlite_url, json_logs):
    """Found by ``scripts/fuzz --engine postgresql``: a multipart body with a bad
    part header made python-multipart warn, and the warning reached the log as
    bare text among the JSON lines."""
    key, _ = asyncio.run(_seed(sqlite_url))
    body = (b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\nBad[Name: x\r\n\r\n" + key.encode()
            + b"\r\n--b--\r\n")
    with _client(sqlite_url) as client:
        reply = client.post(API, content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert reply.status_code < 500 and "error" in reply.json()
    lines = json_logs.getvalue().splitlines()
    warned = [json.loads(line) for line in lines if "invalid character" in line]
    assert warned and warned[0]["level"] == "warning" and warned[0]["logger"].startswith("python_multipart")
    assert all(line.startswith("{") for line in lines)
