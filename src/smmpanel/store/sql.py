"""SQL pieces every store module shares: id lists, finding a customer inside
a statement, keyset pages, LIKE patterns, checked column sets.

One SQL text serves both databases (``$n`` placeholders; ``db.py`` rewrites
them for SQLite); where the dialects differ the helper says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterable, Sequence

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


def ids_sql(dialect: str, column: str, n: int) -> str:
    """SQL: ``column`` is one of the ids in parameter $n (see ``ids_arg``)."""
    if dialect == "postgresql":
        return f"{column} = ANY(${n}::int[])"
    return f"{column} IN (SELECT value FROM json_each(${n}))"


def ids_arg(conn: Conn, ids: Sequence[int]) -> Any:
    """The parameter for ``ids_clause``: an array on PostgreSQL, JSON text on SQLite."""
    ids = [i for i in ids if 0 < i <= MAX_DB_ID]
    return ids if conn.dialect == "postgresql" else orjson.dumps(ids).decode()


# ----------------------------------------------------------------- customers

USER_REF_COLUMNS = ("api_key_hash", "id")


@dataclass(frozen=True, slots=True)
class UserRef:
    """Which user a customer's statement is for, found inside the statement
    itself (so an API read stays one statement): by the API key's hash, or by
    id (a signed-in web session). Either way only an active user matches."""

    column: str  # one of USER_REF_COLUMNS: a column name, never input
    value: str | int

    def __post_init__(self) -> None:
        if self.column not in USER_REF_COLUMNS:
            raise ValueError(f"a user is found by {' or '.join(USER_REF_COLUMNS)}, not {self.column!r}")

    @classmethod
    def by_key_hash(cls, key_hash: str) -> "UserRef":
        return cls("api_key_hash", key_hash)

    @classmethod
    def by_id(cls, user_id: int) -> "UserRef":
        return cls("id", storable_id(user_id))


def user_match(column: str, n: int, alias: str = "u") -> str:
    """SQL: ``alias`` (a ``users`` row) is the active user a ``UserRef`` on
    ``column`` names, its value in $n."""
    return f"{alias}.{column} = ${n} AND {alias}.active"


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
