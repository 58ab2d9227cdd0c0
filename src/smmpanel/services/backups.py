"""Operator use cases: back the panel's database up, and restore it."""

from __future__ import annotations

from pathlib import Path

from ..store import backup as store


def backup(database_url: str, target: Path) -> dict[str, object]:
    """A consistent copy of the whole database at ``target`` (raises
    ``BackupFailed``); what was written, for the operator."""
    store.backup(database_url, target)
    return {"backup": str(target), "bytes": target.stat().st_size,
            "format": "sqlite" if store.is_sqlite(database_url) else "pg_dump custom"}


def restore(database_url: str, source: Path) -> None:
    """Replace the database's content with the backup at ``source``. The
    server and worker should be stopped first: orders they accept meanwhile
    would be lost with the content they were written into."""
    store.restore(database_url, source)
