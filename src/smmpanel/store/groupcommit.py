"""Group commit: orders that arrive together are charged in one transaction.

Why: a commit is the expensive part of placing an order. On PostgreSQL every
order of one customer debits the same ``users`` row, whose lock is held
until the commit's WAL flush, so a busy reseller's orders queue on flushes;
on SQLite each commit writes the pages it touched to the WAL again and feeds
the checkpoints that stall the event loop. Orders that arrive while a batch
is being committed wait for the next batch and share its commit.

What does not change: each order is still its own conditional debit and its
own rows (a batch is a sequence of the same statements, so an order sees the
debits of the orders before it); a caller hears "placed" only after the
commit that holds its order. On PostgreSQL a batch's statements are sent
all at once (``store.orders``): one order after another waiting for its
reply kept the batch, and the customer's row lock, open for the sum of the
database's work and this process's, where now they overlap.

One bad order never fails another: when a batch fails unexpectedly (the
database rolled it back whole, so nothing of it was kept), each of its orders
is run again in a transaction of its own, and only the one that fails alone
gets the error. An expected rejection (a ``PanelError``, e.g. the database
being busy) concerns the batch as a whole and goes to every caller in it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Generic, Sequence, TypeVar

from ..domain.errors import PanelError

MAX_BATCH = 64  # bounds one transaction's length, and the lock time it holds

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(self, run_batch: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]) -> None:
        self._run_batch = run_batch
        self._queue: list[tuple[Item, asyncio.Future]] = []
        self._draining = False

    async def submit(self, item: Item) -> Result:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._draining:
            self._draining = True
            # Scheduled, not awaited: requests already parsed in this loop
            # turn get to join the batch before it starts.
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    await self._run(batch)
                except BaseException:  # cancelled (shutdown): nobody is left waiting
                    batch, self._queue = batch + self._queue, []
                    for _, future in batch:
                        if not future.done():
                            future.cancel()
                    raise
        finally:
            self._draining = False

    async def _run(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or isinstance(exc, PanelError):
                _fail(batch, exc)
                return
            for one in batch:  # find the order that failed it; the others go through
                await self._run([one])
            return
        for (_, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)


def _fail(batch: list[tuple[Any, asyncio.Future]], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


class _Direct:
    def __init__(self, run_batch: Callable[[Sequence[Any]], Awaitable[Sequence[Any]]]) -> None:
        self._run_batch = run_batch

    async def submit(self, item: Any) -> Any:
        return (await self._run_batch([item]))[0]


def lane(db: Any, name: str, run_batch: Callable[[Sequence[Any]], Awaitable[Sequence[Any]]]) -> GroupCommit:
    """The database's group-commit lane ``name``: one per database object, so
    one per process and connection pool."""
    lanes: dict[str, GroupCommit] = db.group_commit_lanes
    if getattr(db, "in_transaction", False):
        # Inside a caller's transaction (db.InTransaction) there is nothing to
        # share: the item runs at once, and commits with that transaction.
        return _Direct(run_batch)  # type: ignore[return-value]
    if name not in lanes:
        lanes[name] = GroupCommit(run_batch)
    return lanes[name]
