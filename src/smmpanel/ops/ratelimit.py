"""Request rate limits of a server process (``SMMPANEL_RATE_LIMIT`` per API
account, ``SMMPANEL_LOGIN_RATE_LIMIT`` per address on sign-in and sign-up).

The decision is taken in memory (``domain.ratelimit.Windows``), so the API's
hot path pays a dict lookup, never a database round trip. On PostgreSQL,
where several server processes share the load, each process adds its counts
to the ``rate_limit_hits`` table every ``SHARE_INTERVAL_S`` and learns the
others' totals in the same statement; the limit then holds across processes
to within one interval's worth of requests per process. On SQLite (one
server process) the counts stay in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from ..domain.ratelimit import RateLimit, Windows
from ..store import ratelimit as store
from ..store.db import Database

SHARE_INTERVAL_S = 0.25
FORGET_AFTER_WINDOWS = 2  # older windows are no longer read: delete their rows

log = logging.getLogger("smmpanel.ratelimit")


class Limiter:
    def __init__(self, limit: RateLimit, *, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.prefix = prefix  # one table holds every limiter's buckets
        self.windows = Windows(limit)
        self.clock = clock
        self._task: asyncio.Task | None = None
        self._shared_window = -1

    def hit(self, bucket: str) -> float | None:
        """None: go ahead; else refused, retry after that many seconds."""
        return self.windows.hit(bucket, self.clock())

    def start_sharing(self, db: Database) -> None:
        if db.dialect == "postgresql" and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._share_forever(db))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def share(self, db: Database) -> None:
        window, pending = self.windows.pending()
        if not pending:
            return
        window_start_s = window * self.limit.period_s
        rows = {self.prefix + bucket: n for bucket, n in pending.items()}
        async with db.transaction() as tx:
            totals = await store.add_hits(tx, window_start_s, rows)
        self.windows.shared(window, pending, {b[len(self.prefix):]: n for b, n in totals.items()})
        if window != self._shared_window:
            self._shared_window = window
            await store.forget_before(db, self.prefix, window_start_s - FORGET_AFTER_WINDOWS * self.limit.period_s)

    async def _share_forever(self, db: Database) -> None:
        while True:
            await asyncio.sleep(SHARE_INTERVAL_S)
            try:
                await self.share(db)
            except Exception:  # database away: keep counting in memory, share when it is back
                log.warning("could not share rate-limit counts; limiting per process meanwhile", exc_info=True)
