"""Faults a test can inject into the next requests of an action.

================================ ================ =======================================================
fault                            request executed what the client sees
================================ ================ =======================================================
timeout_before_create            no               nothing for ``hang_s`` seconds, then the connection closes
timeout_after_create             yes              the same (the order exists upstream)
drop_before_create               no               the connection closes without a reply
drop_after_create                yes              the same (the order exists upstream)
http_500                         no               HTTP 500 with an HTML error page
http_500_after_create            yes              the same (a crash after the commit)
garbled                          yes              HTTP 200 with a body that is not JSON
slow                             yes              the correct reply, after ``delay_s`` (default ``slow_s``)
================================ ================ =======================================================

"create" reads "execute" for actions other than ``add``. Faults are queued per
action (``"*"`` matches any action) and used first in, first out, one per
request.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum

ANY_ACTION = "*"


class Fault(str, Enum):
    TIMEOUT_BEFORE_CREATE = "timeout_before_create"
    TIMEOUT_AFTER_CREATE = "timeout_after_create"
    DROP_BEFORE_CREATE = "drop_before_create"
    DROP_AFTER_CREATE = "drop_after_create"
    HTTP_500 = "http_500"
    HTTP_500_AFTER_CREATE = "http_500_after_create"
    GARBLED = "garbled"
    SLOW = "slow"


# Faults whose request is not executed at all.
BEFORE_EXECUTION = frozenset({Fault.TIMEOUT_BEFORE_CREATE, Fault.DROP_BEFORE_CREATE, Fault.HTTP_500})


@dataclass(frozen=True)
class PlannedFault:
    fault: Fault
    delay_s: float | None = None


class FaultQueue:
    """Thread-safe FIFO of planned faults per action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[PlannedFault]] = {}

    def add(self, action: str, fault: Fault | str, count: int = 1, delay_s: float | None = None) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        planned = PlannedFault(Fault(fault), delay_s)
        with self._lock:
            self._queues.setdefault(action, deque()).extend([planned] * count)

    def take(self, action: str) -> PlannedFault | None:
        with self._lock:
            for name in (action, ANY_ACTION):
                queue = self._queues.get(name)
                if queue:
                    return queue.popleft()
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
