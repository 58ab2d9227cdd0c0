"""Backups of the whole database, taken while the panel runs.

* SQLite: the online backup API copies the database in one step, inside one
  read transaction, so the copy is a consistent snapshot even while orders
  are being written (WAL mode lets writers go on meanwhile). The copy goes to
  a temporary file beside the target and is renamed into place only after an
  integrity check, so a crash never leaves a half-written backup under the
  real name. A restore goes through the same API into the database file, so
  SQLite's own locks and WAL keep any process that has it open consistent.
* PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot by MVCC)
  and ``pg_restore --clean --if-exists --single-transaction``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from ..domain.errors import BackupFailed

PG_TOOL_TIMEOUT_S = 3600  # a dump of a large panel takes minutes, never hours
SQLITE_RESTORE_LOCK_WAIT_S = 30  # for a writer still finishing its transaction


def sqlite_path(database_url: str) -> str:
    return database_url[len("sqlite:///"):]


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:///")


def backup(database_url: str, target: Path) -> None:
    if is_sqlite(database_url):
        _sqlite_copy(sqlite_path(database_url), target)
    else:
        _pg_tool(["pg_dump", "--format=custom", "--file", str(target), "--dbname", database_url])


def restore(database_url: str, source: Path) -> None:
    if not source.is_file():
        raise BackupFailed(reason=f"no backup file at {source}")
    if is_sqlite(database_url):
        _check_sqlite(str(source))
        _sqlite_restore(str(source), sqlite_path(database_url))
    else:
        _pg_tool(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                  "--exit-on-error", "--dbname", database_url, str(source)])


def _sqlite_copy(source_path: str, target: Path) -> None:
    if not os.path.exists(source_path):
        raise BackupFailed(reason=f"no SQLite database at {source_path}")
    target = target.resolve()
    if target == Path(source_path).resolve():
        raise BackupFailed(reason="the backup and the database are the same file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path)
    try:
        dest = sqlite3.connect(str(partial))
        try:
            source.backup(dest)  # all pages in one step: one consistent snapshot
        finally:
            dest.close()
    finally:
        source.close()
    _check_sqlite(str(partial))
    os.replace(partial, target)


def _sqlite_restore(source_path: str, target_path: str) -> None:
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target_path, timeout=SQLITE_RESTORE_LOCK_WAIT_S)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()


def _check_sqlite(path: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupFailed(reason=f"{path} is not a panel database: {exc}") from None
    finally:
        conn.close()
    if verdict != "ok":
        raise BackupFailed(reason=f"{path} failed SQLite's integrity check: {verdict}")


def _pg_tool(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupFailed(reason=f"{command[0]} is not installed (PostgreSQL client tools, e.g. apt install postgresql-client)")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BackupFailed(reason=f"{command[0]} took longer than {PG_TOOL_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise BackupFailed(reason=f"{command[0]} failed: {done.stderr.strip()}")
