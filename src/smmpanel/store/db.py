"""The two database adapters behind one small async interface.

Why plain SQL on the drivers: on the request path every statement through
SQLAlchemy's async layer costs ~0.1 ms plus a pool checkout, which alone would
miss the panel's throughput targets (``shared/perf-reference.md``). So
SQLAlchemy describes the tables and Alembic migrates them, and the panel runs
hand-written SQL here:

* PostgreSQL: asyncpg, a pool of connections; ``$1`` placeholders.
* SQLite: the stdlib ``sqlite3`` module on the event loop, one connection in
  WAL mode. SQLite statements take microseconds, so running them inline is
  cheaper than any hop to a thread. The same SQL text is used: ``$1`` becomes
  SQLite's numbered ``?1``.

A transaction on SQLite starts with ``BEGIN IMMEDIATE`` (it takes the write
lock up front, so two writers never deadlock on a lock upgrade) and holds an
asyncio lock, so coroutines never interleave inside one. Code inside a
transaction must never await anything but the database: no HTTP calls.

Checkpoints (the WAL copied back into the database file, with an
``fdatasync``) run in a thread of their own, not in the commit that fills
the WAL (``store/checkpoints.py``).

When another process (the worker, a CLI command) holds SQLite's write lock,
``BEGIN IMMEDIATE`` does not wait inside SQLite (that would stall the event
loop and every read with it): it is retried with ``asyncio.sleep`` for up to
``SQLITE_WRITE_WAIT_S``, then ``DatabaseBusy`` says so, with nothing changed.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, AsyncIterator, Protocol, Sequence

from ..domain.errors import DatabaseBusy
from .checkpoints import Checkpointer

SQLITE_BUSY_TIMEOUT_MS = 10_000  # statements outside a write transaction (rarely ever wait)
SQLITE_WRITE_WAIT_S = 5  # how long a write waits for another process's lock, without blocking the loop
SQLITE_LOCK_RETRY_FIRST_S = 0.002
SQLITE_LOCK_RETRY_MAX_S = 0.05
# The page cache: a WAL's worth of pages (the checkpointer restarts the WAL
# at 1,000). Not more: after an index page split, SQLite 3.40 (balance_nonroot)
# leaves the cache's largest page number at the lock-byte page (262,145), so
# the commit's truncation of the cache scans its whole hash table, a cost
# that grows with the cache. At 64 MiB that scan was 1.7-2.4% of the server's
# time per add; 4 MiB cut the panel's CPU per add by ~3% (docs/benchmark-log.md,
# 2026-12-08).
SQLITE_CACHE_KIB = 4_096
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
PG_POOL_MIN = 2
PG_POOL_MAX = 16
PG_COMMAND_TIMEOUT_S = 30

Row = Any  # sqlite3.Row or asyncpg.Record: both index by name and position


class Conn(Protocol):
    """What repositories need: run SQL with ``$n`` placeholders."""

    dialect: str

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...
    async def execute(self, sql: str, *args: Any) -> int: ...
    async def insert(self, sql: str, *args: Any) -> int: ...  # one row into a table with an ``id``: that id
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def savepoint(self) -> Any: ...  # in a transaction only


class IntegrityError(Exception):
    """A constraint the database enforces was hit (unique, check, foreign key)."""

    def __init__(self, constraint: str) -> None:
        self.constraint = constraint
        super().__init__(constraint)


def sqlalchemy_url(database_url: str) -> str:
    if database_url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    return database_url


@lru_cache(maxsize=512)
def _to_sqlite(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)




# --------------------------------------------------------------------- SQLite


class _SqliteConn:
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def _run(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._raw.execute(_to_sqlite(sql), args)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._run(sql, args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return self._run(sql, args).fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._run(sql, args).fetchone()
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> int:
        return self._run(sql, args).rowcount

    async def insert(self, sql: str, *args: Any) -> int:
        """The new row's id, as SQLite keeps it for each connection: a
        ``RETURNING`` clause costs SQLite a temporary table per statement."""
        return self._run(sql, args).lastrowid

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._raw.executemany(_to_sqlite(sql), rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Inside a transaction: undo just this part if it raises."""
        self._raw.execute("SAVEPOINT smmpanel_sp")
        try:
            yield
        except BaseException:
            self._raw.execute("ROLLBACK TO smmpanel_sp")
            self._raw.execute("RELEASE smmpanel_sp")
            raise
        self._raw.execute("RELEASE smmpanel_sp")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(exc)
    )


class SqliteDatabase(_SqliteConn):
    def __init__(self, path: str, *, write_wait_s: float = SQLITE_WRITE_WAIT_S,
                 background_checkpoints: bool = False) -> None:
        self.write_wait_s = write_wait_s
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
        raw.row_factory = sqlite3.Row
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        raw.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits, never
        # corrupt; a process crash loses nothing. The documented trade-off.
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        # Reads go through mmap (status reads touch random orders all over
        # the file); the page cache holds what a write changes and what the
        # WAL holds (SQLITE_CACHE_KIB says why it is no bigger).
        raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        raw.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        self._checkpointer: Checkpointer | None = None
        if background_checkpoints and path != ":memory:":  # off the event loop (store/checkpoints.py)
            raw.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = Checkpointer(path)
        super().__init__(raw)
        self._lock = asyncio.Lock()
        self.group_commit_lanes: dict = {}  # see groupcommit.py

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteConn]:
        async with self._lock:
            await self._begin_immediate()
            try:
                yield self
            except BaseException:
                self._raw.execute("ROLLBACK")
                raise
            self._raw.execute("COMMIT")

    async def _begin_immediate(self) -> None:
        deadline = time.monotonic() + self.write_wait_s
        delay = SQLITE_LOCK_RETRY_FIRST_S
        self._raw.execute("PRAGMA busy_timeout = 0")  # fail at once; wait here, on the loop's terms
        try:
            while True:
                try:
                    self._raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise
                    if time.monotonic() >= deadline:
                        raise DatabaseBusy(wait_s=self.write_wait_s) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, SQLITE_LOCK_RETRY_MAX_S)
        finally:
            self._raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._raw.close()


# ----------------------------------------------------------------- PostgreSQL


class _PgConn:
    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self._raw = raw  # an asyncpg Pool or Connection

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await _pg_call(self._raw.fetch, sql, args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await _pg_call(self._raw.fetchrow, sql, args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await _pg_call(self._raw.fetchval, sql, args)

    async def execute(self, sql: str, *args: Any) -> int:
        status = await _pg_call(self._raw.execute, sql, args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def insert(self, sql: str, *args: Any) -> int:
        return await _pg_call(self._raw.fetchval, sql + " RETURNING id", args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """The statement once per row, pipelined: every row is sent before the
        first reply is awaited, one round trip for all (asyncpg)."""
        await _pg_call(self._raw.executemany, sql, (rows,))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Inside a transaction: undo just this part if it raises. (Without it,
        one failed statement aborts the whole PostgreSQL transaction.)"""
        async with self._raw.transaction():  # nested on a connection: a SAVEPOINT
            yield


async def _pg_call(method: Any, sql: str, args: Sequence[Any]) -> Any:
    import asyncpg

    try:
        return await method(sql, *args)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(getattr(exc, "constraint_name", None) or str(exc)) from exc


async def _keep_session(conn: Any) -> None:
    """Give a connection back to the pool as it is. asyncpg's default reset
    sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on
    every release: a second round trip per pooled statement. The panel keeps
    no session state (no SET, LISTEN, cursors or session-level advisory
    locks), and asyncpg still rolls back a transaction left open."""


class PostgresDatabase(_PgConn):
    def __init__(self, pool: Any) -> None:
        super().__init__(pool)
        self.group_commit_lanes: dict = {}  # see groupcommit.py

    @classmethod
    async def connect(cls, dsn: str, *, max_size: int = PG_POOL_MAX) -> "PostgresDatabase":
        import asyncpg

        pool = await asyncpg.create_pool(
            dsn, min_size=min(PG_POOL_MIN, max_size), max_size=max_size, command_timeout=PG_COMMAND_TIMEOUT_S,
            reset=_keep_session,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgConn]:
        async with self._raw.acquire() as conn:
            async with conn.transaction():
                yield _PgConn(conn)

    async def close(self) -> None:
        await self._raw.close()


class InTransaction:
    """An open transaction that looks like a database: use cases run on it
    unchanged, their own transactions becoming savepoints of this one, so
    that everything they write commits (or not) together with what the
    caller writes in it (an idempotency key and the write it guards)."""

    in_transaction = True

    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self.dialect = tx.dialect
        self.group_commit_lanes: dict = {}  # groupcommit.lane runs each item at once here

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._tx.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._tx.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._tx.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._tx.execute(sql, *args)

    async def insert(self, sql: str, *args: Any) -> int:
        return await self._tx.insert(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._tx.executemany(sql, rows)

    def savepoint(self) -> Any:
        return self._tx.savepoint()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["InTransaction"]:
        async with self._tx.savepoint():
            yield self


Database = SqliteDatabase | PostgresDatabase


async def open_database(database_url: str, *, pg_pool_max: int = PG_POOL_MAX) -> Database:
    if database_url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.connect(database_url, max_size=pg_pool_max)
    if database_url.startswith("sqlite:///"):
        return SqliteDatabase(database_url[len("sqlite:///") :], background_checkpoints=True)
    if database_url == "sqlite://" or database_url == "sqlite:///:memory:":
        return SqliteDatabase(":memory:")
    raise ValueError(f"SMMPANEL_DATABASE_URL must start with sqlite:/// or postgresql:// (got {database_url!r})")
