"""Group commit: callers arriving together share one batch; a failed batch
fails exactly its own callers."""

import asyncio

import pytest

from smmpanel.domain.errors import DatabaseBusy
from smmpanel.store.groupcommit import MAX_BATCH, GroupCommit

pytestmark = pytest.mark.anyio


async def test_callers_of_one_loop_turn_share_a_batch_and_get_their_own_result():
    batches = []

    async def run(items):
        batches.append(list(items))
        await asyncio.sleep(0)  # a commit takes time; later callers queue meanwhile
        return [item * 10 for item in items]

    lane = GroupCommit(run)
    results = await asyncio.gather(*(lane.submit(n) for n in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]
    assert await lane.submit(7) == 70  # the lane drains again after going idle
    assert batches[-1] == [7]


async def test_batches_are_bounded():
    sizes = []

    async def run(items):
        sizes.append(len(items))
        return list(items)

    lane = GroupCommit(run)
    await asyncio.gather(*(lane.submit(n) for n in range(MAX_BATCH * 2 + 3)))
    assert sizes == [MAX_BATCH, MAX_BATCH, 3]


async def test_a_failed_batch_fails_its_callers_only():
    async def run(items):
        raise RuntimeError("rolled back")

    lane = GroupCommit(run)
    first = [asyncio.ensure_future(lane.submit(n)) for n in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await first[0]
    assert all(isinstance(f.exception(), RuntimeError) for f in first)


async def test_one_bad_item_never_fails_the_others_of_its_batch():
    """The database rolls a failed batch back whole: the lane reruns each item
    alone, and only the item that fails alone gets the error."""
    committed = []

    async def run(items):
        await asyncio.sleep(0)
        if "bad" in items:
            raise OverflowError("int too big to convert")
        committed.extend(items)
        return [f"ok {item}" for item in items]

    lane = GroupCommit(run)
    items = [f"order {n}" for n in range(25)] + ["bad"] + [f"order {n}" for n in range(25, 50)]
    results = await asyncio.gather(*(lane.submit(item) for item in items), return_exceptions=True)
    assert isinstance(results[25], OverflowError)
    assert results[:25] + results[26:] == [f"ok order {n}" for n in range(50)]
    assert sorted(committed) == sorted(item for item in items if item != "bad")  # each committed once
    assert await lane.submit("later") == "ok later"


async def test_an_expected_rejection_of_the_batch_goes_to_every_caller_without_retries():
    calls = 0

    async def run(items):
        nonlocal calls
        calls += 1
        raise DatabaseBusy(wait_s=1)

    lane = GroupCommit(run)
    results = await asyncio.gather(*(lane.submit(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(r, DatabaseBusy) for r in results)
    assert calls == 1  # a busy database is not retried item by item
