"""The garbage collector, set for a server that runs for months.

Python's cycle collector walks the objects it tracks. Most of what a serving
process holds is made at start and kept to the end: modules, the settings,
templates, compiled statements, pools. Once the app is up, what exists is
frozen (``gc.freeze``: later passes skip it), and the youngest generation is
collected less often: a request's objects die by reference counting, so
with the default threshold (700) the passes only ever met the objects of
the requests still in flight (64 at once), found nothing to free, and moved
them to older generations, whose full passes then walked the whole heap.

Measured under load (SQLite, ``add`` with 64 connections, the collector's
own time from ``gc.callbacks``): 15-20 µs of every ``add`` request went to
collections with the defaults, 20-25 µs of a keyed ``add`` (roughly 10% of
the request), 0.2 µs with these settings; the reads allocate almost no
tracked objects and ran no collections either way.
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
