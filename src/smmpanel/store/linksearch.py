"""Finding orders by a piece of their link, newest first, without reading
every link.

The match itself is what it always was: ``lower(link)`` contains the piece
lowered (``%`` and ``_`` literal), or, for a number, the order id is it. What
changes is which rows are read to find the ids of a page of matches (the
page itself is then read by id):

1. The newest ``SCAN_FIRST_ROWS`` rows the other filters allow, as before.
   A common piece (``facebook``) fills its page there, and a customer with
   fewer orders than that is done there.
2. Otherwise a trigram index names the candidates. PostgreSQL: a GIN index
   on ``lower(link)`` (``pg_trgm``), kept by the database. SQLite: the FTS5
   table ``orders_link_search`` (migration 0009). FTS5 costs about as much
   per link as placing the order, so it is filled after the fact
   (``index_new_links``: by the worker, and a little by each search); the
   orders past ``link_search_progress.through_id`` are read directly. Its
   trigrams fold case beyond ASCII, so it names a superset: the LIKE decides.

A piece of fewer than ``MIN_INDEXED_CHARS`` characters has no trigram: its
rows are found by reading the orders newest first, as before (such a piece
is in many links, so a page fills soon).
"""

from __future__ import annotations

from typing import Any

from .db import Conn
from .sql import Args, like_pattern

SCAN_FIRST_ROWS = 1000
MIN_INDEXED_CHARS = 3  # one trigram
MAX_FTS_TRIGRAMS = 8  # enough to narrow to a few rows; each more is one more list to intersect
INDEX_CHUNK_ROWS = 500  # links indexed in one transaction: SQLite's write lock is held for ~30 ms


def fts_query(piece: str) -> str:
    """An FTS5 query for the rows holding every trigram of ``piece`` taken
    end to end from its end, where links differ (at most MAX_FTS_TRIGRAMS):
    each row containing the piece is among them."""
    starts = list(range(len(piece) - 3, -1, -3))[:MAX_FTS_TRIGRAMS]
    trigrams = dict.fromkeys(piece[i:i + 3] for i in starts)
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in trigrams)


async def index_new_links(db: Any, max_rows: int | None = None) -> int:
    """SQLite: add the links of up to ``max_rows`` (INDEX_CHUNK_ROWS) orders
    not yet in ``orders_link_search``, in one transaction; how many.
    PostgreSQL: 0 (its index is kept by the database)."""
    if db.dialect != "sqlite":
        return 0
    max_rows = INDEX_CHUNK_ROWS if max_rows is None else max_rows
    through = await db.fetchval("SELECT through_id FROM link_search_progress")
    newest = await db.fetchval("SELECT MAX(id) FROM orders")
    if newest is None or newest <= through:
        return 0
    async with db.transaction() as tx:
        # Read again under the write lock: no other writer, so every order up to the newest is committed.
        through = await tx.fetchval("SELECT through_id FROM link_search_progress")
        upto, count = await tx.fetchrow(
            "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM orders WHERE id > $1 ORDER BY id LIMIT $2) t",
            through, max_rows)
        if not count:
            return 0
        await tx.execute("INSERT INTO orders_link_search (rowid, link) SELECT id, link FROM orders "
                         "WHERE id > $1 AND id <= $2", through, upto)
        await tx.execute("UPDATE link_search_progress SET through_id = $1", upto)
    return count


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
    order = "o.id DESC"
    if len(piece) < MIN_INDEXED_CHARS:  # no trigram: every row is read, newest first, as before
        found, _ = _found(probe, piece, order_id, unindexed=conn.dialect == "postgresql")
    elif conn.dialect == "postgresql":
        found, _ = _found(probe, piece, order_id)  # the LIKE is served by the trigram index
        # The order spelled so that no index gives it: otherwise the planner
        # may read every order newest first, hoping to meet the few matches early.
        order = "o.id + 0 DESC"
    else:
        # FTS5 names a superset of the rows (its trigrams fold more than lower()): the LIKE decides.
        found, id_arg = _found(probe, piece, order_id)
        terms = probe.add(fts_query(piece))
        candidates = ("SELECT x.id FROM orders x WHERE x.id > (SELECT through_id FROM link_search_progress) "
                      f"UNION ALL SELECT rowid FROM orders_link_search WHERE orders_link_search MATCH {terms}")
        if id_arg is not None:
            candidates = f"SELECT {id_arg} UNION ALL {candidates}"
        found = f"{found} AND o.id IN ({candidates})"
    rows = await conn.fetch(f"SELECT o.id {from_where} AND {found} ORDER BY {order} LIMIT {int(limit)}",
                            *probe.values)
    return [row[0] for row in rows]


def _found(args: Args, piece: str, order_id: int | None, *, unindexed: bool = False) -> tuple[str, str | None]:
    """The exact condition, and the parameter of its id if any. ``unindexed``
    (PostgreSQL): spelled so that no plan reads the trigram index for it (a
    piece too short for trigrams would read all of it); the same match."""
    if unindexed:
        found = f"strpos(lower(o.link), {args.add(piece.lower())}) > 0"
    else:
        found = f"lower(o.link) LIKE {args.add(like_pattern(piece.lower()))} ESCAPE '\\'"
    if order_id is None:
        return found, None
    id_arg = args.add(order_id)
    return f"(o.id = {id_arg} OR {found})", id_arg
