"""What every command shares: settings, the database, ``--json`` output,
and turning a ``PanelError`` into a message and exit code 1."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any, Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import click
import orjson

from ..api.messages import message
from ..domain.errors import PanelError
from ..domain.money import parse_amount, parse_decimal, plain
from ..domain.pricing import below_cost
from ..services.panel import Panel
from ..settings import Settings, SettingsError
from ..store.db import open_database
from ..store.migrate import ensure_schema


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def describe_database(database_url: str) -> str:
    """The database as an operator can find it: a SQLite file's absolute path,
    a PostgreSQL URL without its password."""
    if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
        return "sqlite:///" + os.path.abspath(database_url[len("sqlite:///"):])
    parts = urlsplit(database_url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return database_url


def local_time(epoch_s: int | None) -> str:
    """A stored time (unix seconds) as the operator reads it: local ISO date-time."""
    if epoch_s is None:
        return "-"
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat(timespec="seconds")


COLUMN_GAP = "  "


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, empty: str,
          right: Sequence[str] = ()) -> str:
    """Rows under a header row, each column as wide as its widest cell (never
    truncated); columns named in ``right`` (amounts, counts) align right."""
    cells = [["-" if value is None else str(value) for value in row] for row in rows]
    if not cells:
        return empty
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return COLUMN_GAP.join(
            value.rjust(width) if header in right else value.ljust(width)
            for header, value, width in zip(headers, values, widths)
        ).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def emit(as_json: bool, data: Any, text: str | Callable[[], str]) -> None:
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(text() if callable(text) else text)


def prepare_database(database_url: str) -> None:
    """Bring the schema up to date; when there was no panel in the database
    yet, say that a new one was made, and where (a mistyped
    ``SMMPANEL_DATABASE_URL`` shows at once)."""
    if ensure_schema(database_url):
        # On stderr, so --json output stays one document.
        click.echo(f"note: created a new, empty panel database at {describe_database(database_url)} "
                   "(set SMMPANEL_DATABASE_URL to use another)", err=True)


def below_cost_warning(rate_micros: int, cost_micros: int | None) -> str | None:
    """The warning ``services set`` and ``users rate`` give for a rate under
    the upstream's cost (the website asks for a confirmation instead)."""
    if not below_cost(rate_micros, cost_micros):
        return None
    return f"rate {plain(rate_micros)} is below the upstream cost {plain(cost_micros or 0)}: every order loses money"


def warn(message: str | None) -> None:
    """A warning on standard error (standard output keeps the result, or the JSON document)."""
    if message:
        click.echo(f"warning: {message}", err=True)


def with_panel(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Run an async command body with a migrated database; PanelError -> exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = load_settings()
        prepare_database(settings.database_url)

        async def main() -> Any:
            db = await open_database(settings.database_url, pg_pool_max=2)
            try:
                return await fn(Panel(db=db, currency=settings.currency), *args, **kwargs)
            finally:
                await db.close()

        try:
            return asyncio.run(main())
        except PanelError as exc:
            if kwargs.get("as_json"):
                click.echo(orjson.dumps({"error": message(exc)}).decode())
                sys.exit(1)
            raise click.ClickException(message(exc)) from None

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def parse_money_arg(text: str, field: str, *, allow_negative: bool = False, exact: bool = False) -> Decimal:
    """An amount of money (rounded to the micro-unit), or with ``exact`` a
    ratio such as an exchange rate or a markup, kept digit for digit."""
    try:
        parse = parse_decimal if exact else parse_amount
        return parse(text, field, allow_negative=allow_negative)
    except PanelError as exc:
        raise click.BadParameter(message(exc)) from None


@click.group()
def main() -> None:
    """smmpanel: a self-hosted SMM reseller panel."""
