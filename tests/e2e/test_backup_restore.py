"""``smmpanel backup`` taken while orders pour in, restored into a fresh
database: the copy is one consistent moment (audit clean, every order
acknowledged before the backup began is in it, none acknowledged after it
ended), on SQLite (online backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from decimal import Decimal

import httpx
import pytest

from conftest import _pg_admin, _pg_base, run_cli
from smmpanel.store.db import open_database

pytestmark = pytest.mark.e2e

MAX_LOAD_ORDERS = 3000  # the load loop is bounded even if the test misbehaves
ORDERS_BEFORE_BACKUP = 50


class OrderLoad(threading.Thread):
    def __init__(self, url: str, key: str, service: int) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.service = url, key, service
        self.acknowledged: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(MAX_LOAD_ORDERS):
                if self.stop.is_set():
                    return
                reply = client.post(self.url, data={"key": self.key, "action": "add", "service": self.service,
                                                    "link": f"https://x.com/p/{n}", "quantity": 100}).json()
                self.acknowledged.append(reply["order"])


async def _order_ids(url: str) -> set[int]:
    db = await open_database(url, pg_pool_max=1)
    try:
        return {row["id"] for row in await db.fetch("SELECT id FROM orders")}
    finally:
        await db.close()


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_backup_under_load_restores_clean(engine, request, server_factory, tmp_path):
    source_url = request.getfixturevalue("sqlite_url" if engine == "sqlite" else "pg_url")
    server = server_factory({"SMMPANEL_DATABASE_URL": source_url})
    service = json.loads(server.cli("services", "add", "--name", "Likes", "--category", "FB", "--type", "Default",
                                    "--rate", "1", "--min", "10", "--max", "1000", "--json").stdout)["service"]
    key = json.loads(server.cli("users", "add", "busy", "--balance", "10000", "--json").stdout)["api_key"]

    load = OrderLoad(server.url, key, service)
    load.start()
    while len(load.acknowledged) < ORDERS_BEFORE_BACKUP and load.is_alive():
        threading.Event().wait(0.01)
    acked_before = list(load.acknowledged)
    backup_file = tmp_path / ("panel.backup" if engine == "sqlite" else "panel.dump")
    taken = run_cli(server.env, "backup", str(backup_file), "--json", check=True)
    acked_after = list(load.acknowledged)
    load.stop.set()
    load.join(timeout=30)
    assert json.loads(taken.stdout)["bytes"] > 0
    assert len(load.acknowledged) > len(acked_after) or not load.is_alive()

    if engine == "sqlite":
        target_url = f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        name = f"smmpanel_t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        request.addfinalizer(lambda: asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
        target_url = f"{_pg_base()}/{name}"
    target_env = {**server.env, "SMMPANEL_DATABASE_URL": target_url}
    run_cli(target_env, "restore", str(backup_file), "--yes", check=True)

    audit = run_cli(target_env, "audit", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["ok"] is True, audit.stdout
    restored = asyncio.run(_order_ids(target_url))
    assert set(acked_before) <= restored  # acknowledged before the backup began: in it
    assert not (set(load.acknowledged) - set(acked_after)) & restored  # acknowledged after it ended: not in it
    assert len(restored) >= ORDERS_BEFORE_BACKUP
    # the customer's balance is what the restored orders left: 0.1 each (100 at 1 per 1000)
    users = json.loads(run_cli(target_env, "users", "list", "--json", check=True).stdout)
    assert Decimal(users[0]["balance"]) == Decimal("10000") - Decimal("0.1") * len(restored)


def test_restore_wants_confirmation_and_a_real_backup(sqlite_url, tmp_path):
    env = {"SMMPANEL_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}
    run_cli(env, "users", "add", "keep", "--balance", "5", check=True)
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    unconfirmed = run_cli(env, "restore", str(junk))
    assert unconfirmed.returncode != 0 and "--yes" in unconfirmed.stderr
    refused = run_cli(env, "restore", str(junk), "--yes")
    assert refused.returncode == 1 and "Backup or restore failed" in refused.stderr
    missing = run_cli(env, "restore", str(tmp_path / "nowhere.backup"), "--yes", "--json")
    assert missing.returncode == 1 and "no backup file" in json.loads(missing.stdout)["error"]
    users = json.loads(run_cli(env, "users", "list", "--json", check=True).stdout)
    assert [u["name"] for u in users] == ["keep"]  # nothing changed
