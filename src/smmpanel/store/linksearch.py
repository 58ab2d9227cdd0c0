"""Finding orders by a piece of their link, newest first, without reading
every link.

The match itself is what it always was: ``lower(link)`` contains the piece
lowered (``%`` and ``_`` literal), or, for a number, the order id is it. What
changes is which rows are read to find the ids of a page of matches (the
page itself is then read by id):

1. The newest ``SCAN_FIRST_ROWS`` rows the other filters allow, as before.
   A common piece (``facebook``) fills its page there, and a customer with
   fewer orders than that is done there.
2. Otherwise the trigram index names the candidates: SQLite's FTS5 table
   ``orders_link_search`` (case-insensitive trigrams: a superset, the LIKE
   decides), PostgreSQL's GIN index on ``lower(link)`` (migration 0009).

A piece of fewer than ``MIN_INDEXED_CHARS`` characters has no trigram: its
rows are found by reading the orders newest first, as before (such a piece
is in many links, so a page fills quickly).
"""

from __future__ import annotations

from .db import Conn
from .sql import Args, like_pattern

SCAN_FIRST_ROWS = 1000
MIN_INDEXED_CHARS = 3  # one trigram


def fts_phrase(piece: str) -> str:
    """An FTS5 query for ``piece`` as one phrase: with trigrams, the rows containing it."""
    return '"' + piece.replace('"', '""') + '"'


async def newest_matches(conn: Conn, from_where: str, args: Args, *, piece: str, order_id: int | None,
                         limit: int) -> list[int]:
    """The ids of the newest ``limit`` orders whose link contains ``piece``
    (or whose id is ``order_id``), newest first, among those ``from_where``
    (``FROM orders o … WHERE …``, its parameters in ``args``) allows.
    The page query then reads just these rows by id."""
    probe = Args(*args.values)
    rows = await conn.fetch(
        f"SELECT o.id, CASE WHEN {_found(probe, piece, order_id)[0]} THEN 1 ELSE 0 END AS hit {from_where} "
        f"ORDER BY o.id DESC LIMIT {SCAN_FIRST_ROWS}",
        *probe.values,
    )
    hits = [row[0] for row in rows if row[1]]
    if len(hits) >= limit or len(rows) < SCAN_FIRST_ROWS:  # the newest rows decided the page
        return hits[:limit]
    probe = Args(*args.values)
    found, _, id_arg = _found(probe, piece, order_id, conn.dialect if len(piece) < MIN_INDEXED_CHARS else "")
    order = "o.id DESC"
    if len(piece) < MIN_INDEXED_CHARS:
        pass  # no trigram: every row is read, newest first, as before
    elif conn.dialect == "postgresql":
        # The LIKE is served by the trigram index. The order is spelled so
        # that no index gives it: otherwise the planner may read every order
        # newest first, hoping to meet the few matches early.
        order = "o.id + 0 DESC"
    else:
        # FTS5 names a superset of the rows (its trigrams fold more than lower()): the LIKE decides.
        candidates = f"SELECT rowid FROM orders_link_search WHERE orders_link_search MATCH {probe.add(fts_phrase(piece))}"
        if id_arg is not None:
            candidates = f"SELECT {id_arg} UNION ALL {candidates}"
        found = f"{found} AND o.id IN ({candidates})"
    rows = await conn.fetch(f"SELECT o.id {from_where} AND {found} ORDER BY {order} LIMIT {int(limit)}",
                            *probe.values)
    return [row[0] for row in rows]


def _found(args: Args, piece: str, order_id: int | None, scan_on: str = "") -> tuple[str, str, str | None]:
    """The exact condition (and its LIKE and id parameters). ``scan_on``
    "postgresql": spelled so that no plan reads the trigram index for it
    (a piece too short for trigrams would read all of it); the same match."""
    if scan_on == "postgresql":
        like_arg = args.add(piece.lower())
        found = f"strpos(lower(o.link), {like_arg}) > 0"
    else:
        like_arg = args.add(like_pattern(piece.lower()))
        found = f"lower(o.link) LIKE {like_arg} ESCAPE '\\'"
    if order_id is None:
        return found, like_arg, None
    id_arg = args.add(order_id)
    return f"(o.id = {id_arg} OR {found})", like_arg, id_arg
