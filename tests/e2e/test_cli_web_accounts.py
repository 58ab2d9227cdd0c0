"""The CLI side of website accounts: passwords, emails, roles."""

from __future__ import annotations

import asyncio
import os

import pytest

from conftest import run_cli
from smmpanel.services import auth
from smmpanel.services.panel import Panel
from smmpanel.store import auth as store
from smmpanel.store.db import open_database


def _env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_DATABASE_URL"] = db_url
    return env


def _sign_in(db_url: str, login: str, password: str) -> bool:
    async def attempt() -> bool:
        db = await open_database(db_url, pg_pool_max=2)
        try:
            await auth.sign_in(Panel(db=db), login, password, "127.0.0.1")
            return True
        except Exception:
            return False
        finally:
            await db.close()

    return asyncio.run(attempt())


def test_users_add_with_email_and_password_then_password_from_stdin(db_url):
    env = _env(db_url)
    r = run_cli(env, "users", "add", "alice", "--email", "alice@example.com", "--password", "first password")
    assert r.returncode == 0 and "API key" in r.stdout
    assert _sign_in(db_url, "alice@example.com", "first password")
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "smmpanel.cli", "users", "password", "alice"], env=env,
                       input="second password\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not _sign_in(db_url, "alice", "first password") and _sign_in(db_url, "alice", "second password")
    r = run_cli(env, "users", "password", "alice", "--password", "short")
    assert r.returncode == 1 and "at least 8 characters" in r.stderr


def test_api_only_customer_gets_a_password_and_operators_get_their_role(db_url):
    env = _env(db_url)
    assert run_cli(env, "users", "add", "bob").returncode == 0
    assert not _sign_in(db_url, "bob", "anything at all")  # API only: no password yet
    assert run_cli(env, "users", "password", "bob", "--password", "bobs password").returncode == 0
    assert _sign_in(db_url, "bob", "bobs password")
    assert run_cli(env, "users", "add", "olga", "--operator", "--password", "operator pass").returncode == 0
    assert run_cli(env, "users", "role", "bob", "operator").returncode == 0
    assert run_cli(env, "users", "role", "olga", "customer").returncode == 0

    async def roles() -> dict[str, str]:
        db = await open_database(db_url, pg_pool_max=2)
        try:
            return {name: (await store.login_by_name_or_email(db, name))["role"] for name in ("bob", "olga")}
        finally:
            await db.close()

    assert asyncio.run(roles()) == {"bob": "operator", "olga": "customer"}
    assert run_cli(env, "users", "role", "nobody", "operator").returncode == 1
