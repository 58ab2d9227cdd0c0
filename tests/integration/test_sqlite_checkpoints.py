"""SQLite checkpoints in a thread of their own (store/checkpoints.py): the
serving connection never runs one in its commits, and the WAL still does
not grow without end under constant writes."""

import os
import sqlite3
import time

import pytest

from smmpanel.store.checkpoints import Checkpointer
from smmpanel.store.db import open_database

pytestmark = pytest.mark.anyio

PAGE_BYTES = 4096
RESTART_PAGES = 64
PAGES_WRITTEN = 3_000


def _writer(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # as the serving connection
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
    return conn


def _write_pages(conn, pages, *, pause_s=0.0):
    """Each transaction adds about 10 pages, as a batch of orders would."""
    for _ in range(pages // 10):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t (body) VALUES (?)", [(os.urandom(PAGE_BYTES - 200),)] * 10)
        conn.execute("COMMIT")
        time.sleep(pause_s)


def _wal_pages(path):
    return os.path.getsize(path + "-wal") // PAGE_BYTES


def test_without_the_thread_the_wal_of_a_connection_that_never_checkpoints_only_grows(tmp_path):
    path = str(tmp_path / "panel.db")
    conn = _writer(path)
    _write_pages(conn, PAGES_WRITTEN)
    assert _wal_pages(path) >= PAGES_WRITTEN
    conn.close()


def test_the_thread_copies_the_wal_back_and_restarts_it_while_writes_go_on(tmp_path):
    path = str(tmp_path / "panel.db")
    conn = _writer(path)
    checkpointer = Checkpointer(path, restart_pages=RESTART_PAGES, poll_s=0.002)
    try:
        _write_pages(conn, PAGES_WRITTEN, pause_s=0.001)
    finally:
        checkpointer.stop()
    # The WAL file is reused from its start after each restart: it stays a
    # small multiple of the threshold, where without the thread it held
    # every page written.
    assert _wal_pages(path) < PAGES_WRITTEN // 4
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == PAGES_WRITTEN // 10 * 10
    conn.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


async def test_a_file_database_serves_without_automatic_checkpoints_and_stops_its_thread(tmp_path):
    db = await open_database(f"sqlite:///{tmp_path / 'panel.db'}")
    try:
        assert await db.fetchval("PRAGMA wal_autocheckpoint") == 0
        assert db._checkpointer is not None and db._checkpointer._thread.is_alive()
        thread = db._checkpointer._thread
    finally:
        await db.close()
    assert not thread.is_alive()
