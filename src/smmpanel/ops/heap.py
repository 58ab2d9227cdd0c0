"""The garbage collector, set for a server that runs for months.

Python's cycle collector walks the objects it tracks. Most of what a serving
process holds is made at start and kept to the end: modules, the settings,
templates, compiled statements, pools. Once the app is up, what exists is
frozen (``gc.freeze``: later passes skip it), and the youngest generation is
collected less often: a request's objects mostly die by reference counting
before any pass sees them, and the passes over the young objects still in
flight (64 requests at once) found nothing to free either. Measured by
``scripts/bench-instructions --concurrency 32`` on SQLite: ``add`` 2% and
keyed ``add`` 3.6% fewer instructions (the threshold's doing: freezing alone
changed nothing measurable there, it keeps the rare full passes short).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

# Objects tracked (net of those freed) before a pass over the youngest ones;
# Python's default is 700. Ten times that is still a few MiB at most.
YOUNG_GENERATION_THRESHOLD = 7000


@contextmanager
def settled() -> Iterator[None]:
    """While the app serves: what exists at start is frozen, and young objects
    are collected less often. Undone on exit, so that a process which starts
    and stops apps (the tests) frees their cycles as before."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
