"""SQL pieces every store module shares: id lists, finding a customer inside
a statement, keyset pages, LIKE patterns, checked column sets.

One SQL text serves both databases (``$n`` placeholders; ``db.py`` rewrites
them for SQLite); where the dialects differ the helper says so.
"""

from __future__ import annotations

from typing import Any, Collection, Iterable, Mapping, Protocol, Sequence

import orjson

from .db import Conn

# Ids are INTEGER columns: nothing stored lies beyond this, so a larger id a
# client sends is simply unknown (and must not reach PostgreSQL's int4 binding).
MAX_DB_ID = 2**31 - 1


def storable_id(value: int) -> int:
    """The id itself, or 0 (never a row id) when no row could carry it."""
    return value if 0 < value <= MAX_DB_ID else 0


# ------------------------------------------------------------------ id lists


def ids_clause(conn: Conn, column: str, n: int) -> str:
    return ids_sql(conn.dialect, column, n)


def ids_sql(dialect: str, column: str, n: int, one: bool = False) -> str:
    """SQL: ``column`` is one of the ids in parameter $n (see ``ids_arg``);
    ``one``: a list of one id, compared as itself (``ids_param``)."""
    if one:
        # Unpacking a list of one (SQLite's json_each) doubled the cost of a
        # status read: 69k instructions against 35k.
        return f"{column} = ${n}"
    if dialect == "postgresql":
        # Sent as the array's text ('{1,2,3}'), cast by the server: asyncpg
        # would otherwise check every element of a list on the way (100 ids:
        # 100 abstract-class isinstance calls per status request).
        return f"{column} = ANY(CAST(${n}::text AS int[]))"
    return f"{column} IN (SELECT value FROM json_each(${n}))"


def ids_arg(conn: Conn, ids: Sequence[int]) -> Any:
    """The parameter for ``ids_clause``: the ids as text, an array's on
    PostgreSQL ('{1,2}'), JSON's on SQLite ('[1,2]')."""
    text = orjson.dumps([i for i in ids if 0 < i <= MAX_DB_ID]).decode()
    return "{" + text[1:-1] + "}" if conn.dialect == "postgresql" else text


def ids_param(conn: Conn, ids: Sequence[int]) -> Any:
    """The parameter for ``ids_sql(..., one=len(ids) == 1)``: the usual
    request names one id, and it goes as itself."""
    return storable_id(ids[0]) if len(ids) == 1 else ids_arg(conn, ids)


# ----------------------------------------------------------------- customers

# An API key is found by its lookup among current keys first; only when
# that finds nothing is it looked for among old keys in a rotation's grace
# (``api.app`` retries as ``Customer.as_old_key``). One index probe on the
# hot path: an OR over both columns made every PostgreSQL read ~30% costlier.
KEY_COLUMNS = {"api_key_lookup": ("api_key_hash", None), "old_key_lookup": ("old_key_hash", "old_key_until_s")}
USER_REF_COLUMNS = (*KEY_COLUMNS, "id")


class UserRef(Protocol):
    """Which user a customer's statement is for, found inside the statement
    itself (so an API read stays one statement): by the API key's lookup (the
    current key's or, during a rotation's grace, the old one's), or by id (a
    signed-in web session). Either way only an active user matches.
    ``services.principal.Customer`` is one; ``user_match`` checks the column
    when a statement's text is built (once per column: the texts are cached).

    A lookup only finds the account: the statement also selects the stored
    key (``key_columns``) and the store keeps a row only if ``admits`` it."""

    @property
    def column(self) -> str: ...  # one of USER_REF_COLUMNS

    @property
    def value(self) -> str | int: ...

    def admits(self, row: Any) -> bool: ...


def user_match(column: str, n: int, alias: str = "u") -> str:
    """SQL: ``alias`` (a ``users`` row) is the active user a ``UserRef`` on
    ``column`` names, its value in $n."""
    if column not in USER_REF_COLUMNS:
        raise ValueError(f"a user is found by {' or '.join(USER_REF_COLUMNS)}, not {column!r}")
    return f"{alias}.{column} = ${n} AND {alias}.active"


def key_columns(column: str, alias: str = "u") -> str:
    """SQL to append to a select list (nothing for an id): the stored hash of
    the key found by ``column``, as ``key_hash``, and for an old key until
    when it works, as ``key_until_s`` (a current key has no end: no column,
    as every column fetched costs a hot read on SQLite ~1k instructions)."""
    if column not in KEY_COLUMNS:
        return ""
    hash_column, until_column = KEY_COLUMNS[column]
    until = f", {alias}.{until_column} AS key_until_s" if until_column else ""
    return f", {alias}.{hash_column} AS key_hash{until}"


def admitted(who: UserRef, row: Any) -> bool:
    """Whether the statement found ``who`` (a row) and ``who`` may have it."""
    return row is not None and who.admits(row)


def admitted_rows(who: UserRef, rows: list[Any]) -> list[Any]:
    """All of ``rows`` (every one is the same user's) if ``who`` may have them, else none."""
    return rows if not rows or who.admits(rows[0]) else []


# ------------------------------------------------------------- query building


class Args:
    """Parameters of a statement built piece by piece: ``args.add(v)`` gives
    the ``$n`` to write where ``v`` goes."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def keyset_page(args: Args, id_column: str, before_id: int | None, limit: int) -> tuple[str, str]:
    """The ``AND id < before`` condition (or nothing) and the ORDER/LIMIT tail
    of a newest-first keyset page."""
    older = "" if before_id is None else f" AND {id_column} < {args.add(storable_id(before_id) or MAX_DB_ID)}"
    return older, f" ORDER BY {id_column} DESC LIMIT {args.add(limit)}"


def like_pattern(text: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) matching ``text`` anywhere, ``%`` and ``_`` literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def checked_columns(names: Iterable[str], allowed: Collection[str], table: str) -> list[str]:
    """``names`` as a list, each one of ``allowed``: a column name from code
    never reaches SQL unchecked."""
    names = list(names)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"not a writable column of {table}: {', '.join(unknown)}")
    return names


def set_clause(names: Sequence[str], first: int) -> str:
    """``a = $first, b = $first+1, ...``"""
    return ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=first))


async def update_stamped(conn: Conn, table: str, allowed: Collection[str], row_id: int, now_s: int,
                         values: Mapping[str, Any]) -> None:
    """Write ``values`` (columns of ``allowed``) to one row of ``table``, and
    its ``updated_at_s``."""
    names = checked_columns(values, allowed, table)
    await conn.execute(
        f"UPDATE {table} SET updated_at_s = $2, {set_clause(names, 3)} WHERE id = $1", row_id, now_s,
        *[values[k] for k in names],
    )
