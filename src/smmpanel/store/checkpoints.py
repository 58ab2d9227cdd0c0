"""SQLite's WAL copied back into the database file by a thread of its own.

Why: by default the commit that takes the WAL past 1,000 pages runs the
checkpoint itself: it reads those pages back, writes them into the database
file and waits for ``fdatasync``. The serving connection commits on the
event loop, so every request of the process waited with it. Sampled under
load (``add``, 64 connections), those reads, writes and syncs were about a
quarter of the loop's time per order (docs/benchmark-log.md, 2026-12-07).

So a connection that serves (``SqliteDatabase``) turns its automatic
checkpoints off, and this thread, on its own connection, checkpoints
instead. The sqlite3 module lets go of the GIL while SQLite works, so the
loop goes on serving meanwhile. Every ``POLL_S`` it copies what it can
without blocking anyone (``PASSIVE``). Once the WAL holds ``RESTART_PAGES``
or more, it copies the rest and has the next write start the WAL from its
beginning (``RESTART``: it waits for the writer of the moment, and writers
wait for it; the loop's ``BEGIN IMMEDIATE`` waits by ``asyncio.sleep``, so
reads are never held up). Without that, under constant writes the WAL would
only grow.

What it must never do: hold a transaction open (a reader's snapshot would
keep the WAL from restarting), or wait on the event loop.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

POLL_S = 0.05
RESTART_PAGES = 1_000  # SQLite's own automatic checkpoint threshold
BUSY_TIMEOUT_MS = 1_000  # RESTART waits this long for the writer of the moment, then tries again later

log = logging.getLogger("smmpanel.store")


class Checkpointer:
    def __init__(self, path: str, *, restart_pages: int = RESTART_PAGES, poll_s: float = POLL_S) -> None:
        self.path, self.restart_pages, self.poll_s = path, restart_pages, poll_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            while not self._stopping.wait(self.poll_s):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error:  # the file gone, a lock held too long: try again next time
                    log.warning("background checkpoint failed; trying again", exc_info=True)
        finally:
            conn.close()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        _busy, wal_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if wal_pages >= self.restart_pages:
            conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
