"""Backups: ``smmpanel backup PATH`` and ``smmpanel restore PATH``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from ..api.messages import message
from ..domain.errors import PanelError
from ..services import backups
from ..store.migrate import upgrade
from .base import emit, json_option, load_settings, main


def _fail(exc: PanelError, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps({"error": message(exc)}).decode())
        sys.exit(1)
    raise click.ClickException(message(exc))


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def backup_cmd(path: Path, as_json: bool) -> None:
    """Write a consistent copy of the database to PATH, while the panel runs
    (SQLite: a database file; PostgreSQL: a pg_dump custom archive)."""
    settings = load_settings()
    try:
        info = backups.backup(settings.database_url, path)
    except PanelError as exc:
        _fail(exc, as_json)
        return
    emit(as_json, info, f"backup written to {path} ({info['bytes']} bytes, {info['format']})")


@main.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm: the database's current content is replaced.")
@json_option
def restore_cmd(path: Path, yes: bool, as_json: bool) -> None:
    """Replace the database's content with the backup at PATH, then bring its
    schema up to date. Stop the server and the worker first."""
    if not yes:
        raise click.UsageError("restore replaces everything in the database: add --yes to confirm")
    settings = load_settings()
    try:
        backups.restore(settings.database_url, path)
    except PanelError as exc:
        _fail(exc, as_json)
        return
    upgrade(settings.database_url)  # a backup from an older release gets its newer migrations
    emit(as_json, {"restored": str(path)}, f"restored from {path}; run `smmpanel audit` to check it")
