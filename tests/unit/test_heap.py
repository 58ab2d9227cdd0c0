"""The serving app's garbage-collector settings (ops/heap.py)."""

import gc
import weakref

from smmpanel.ops import heap


class _Node:
    pass


def test_while_serving_the_start_up_heap_is_frozen_and_cycles_are_still_collected():
    before = gc.get_threshold()
    with heap.settled():
        assert gc.get_freeze_count() > 0  # what existed at start is skipped by every pass
        assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, *before[1:])
        cycle = _Node()
        cycle.self = cycle
        gone = weakref.ref(cycle)
        del cycle
        # Garbage in a cycle is freed without an explicit gc.collect() once
        # enough new objects are tracked: the raised threshold only delays it.
        # (Enough for a pass over the next generation too, should one over
        # the youngest have moved the cycle there before it became garbage.)
        kept = [[] for _ in range(12 * heap.YOUNG_GENERATION_THRESHOLD)]
        assert gone() is None
        del kept
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
