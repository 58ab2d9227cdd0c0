"""Group commit: callers arriving together share one batch; a failed batch
fails exactly its own callers."""

import asyncio

import pytest

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
    calls = 0

    async def run(items):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("rolled back")
        return list(items)

    lane = GroupCommit(run)
    first = [asyncio.ensure_future(lane.submit(n)) for n in range(3)]
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        await first[0]
    assert all(isinstance(f.exception(), RuntimeError) for f in first)
    assert await lane.submit(9) == 9
