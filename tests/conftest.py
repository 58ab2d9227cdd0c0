"""Shared fixtures: real SQLite files and real PostgreSQL databases.

PostgreSQL: each test gets a fresh database cloned from a migrated template
(``CREATE DATABASE ... TEMPLATE``), so tests never see each other's rows.
Where PostgreSQL is unreachable the PostgreSQL cases are skipped, unless
``SMMPANEL_REQUIRE_PG=1`` (set by ``.ci/run``), which turns the skip into a
failure: CI never passes without having run them.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from smmpanel.services.panel import Panel
from smmpanel.store.db import open_database
from smmpanel.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("SMMPANEL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
# One template per test run (several runs may share the server: worktrees, CI).
PG_TEMPLATE = f"smmpanel_test_template_{os.getpid()}"
REQUIRE_PG = os.environ.get("SMMPANEL_REQUIRE_PG") == "1"
SERVER_START_TIMEOUT_S = 20
# The simulated upstreams of the tests listen on 127.0.0.1, which the client
# refuses unless told otherwise (client/guard.py): the tests allow it
# explicitly, here for this process and in run_cli/start_server for the
# commands they start.
LOOPBACK_UPSTREAMS = {"SMMPANEL_ALLOW_PRIVATE_UPSTREAMS": "1"}
os.environ.update(LOOPBACK_UPSTREAMS)


def _pg_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


async def _pg_admin(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


_pg_state: dict[str, object] = {}


def _pg_template_ready() -> bool:
    """Migrate the template database once per test session."""
    if "ok" in _pg_state:
        return bool(_pg_state["ok"])
    try:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)', f'CREATE DATABASE "{PG_TEMPLATE}"'))
        upgrade(f"{_pg_base()}/{PG_TEMPLATE}")
        _pg_state["ok"] = True
        atexit.register(_drop_template)
    except (OSError, Exception) as exc:  # unreachable server, missing role...
        _pg_state["ok"] = False
        _pg_state["why"] = repr(exc)
    return bool(_pg_state["ok"])


def _drop_template() -> None:
    try:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}" WITH (FORCE)'))
    except Exception:  # the server went away first: nothing left to tidy
        pass


def _need_pg() -> None:
    if not _pg_template_ready():
        message = f"PostgreSQL unavailable at {PG_ADMIN_URL}: {_pg_state.get('why')}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test."""
    _need_pg()
    name = f"smmpanel_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{PG_TEMPLATE}"'))
    try:
        yield f"{_pg_base()}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'panel.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each kind: the test runs once per engine."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


class Clock:
    """A settable clock for use cases (unix seconds)."""

    def __init__(self, now_s: int = 1_800_000_000) -> None:
        self.now_s = now_s

    def __call__(self) -> int:
        return self.now_s

    def advance(self, seconds: int) -> None:
        self.now_s += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def panel_factory(clock: Clock):
    """``async with panel_factory(url) as panel``: a Panel on a real database."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(url: str, currency: str = "USD"):
        db = await open_database(url, pg_pool_max=20)
        try:
            yield Panel(db=db, currency=currency, clock=clock)
        finally:
            await db.close()

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A real ``smmpanel serve`` process on a free port."""

    def __init__(self, env: dict[str, str], port: int, proc: subprocess.Popen) -> None:
        self.env = env
        self.port = port
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}/api/v2"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``smmpanel ARGS`` against this server's database."""
        return run_cli(self.env, *args)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_cli(env: dict[str, str], *args: str, check: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "smmpanel.cli", *args], env={**LOOPBACK_UPSTREAMS, **env}, capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"smmpanel {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
    return result


def start_server(extra_env: dict[str, str], *, workers: int = 1) -> ServerProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(LOOPBACK_UPSTREAMS)
    env.update(extra_env)
    env.setdefault("SMMPANEL_LOG_LEVEL", "warning")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smmpanel.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return ServerProcess(env, port, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start in time")


@pytest.fixture
def server_factory():
    """``server_factory({"SMMPANEL_DATABASE_URL": url, ...})`` -> a running server."""
    started: list[ServerProcess] = []

    def make(extra_env: dict[str, str], *, workers: int = 1) -> ServerProcess:
        server = start_server(extra_env, workers=workers)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
