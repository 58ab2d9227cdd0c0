"""The context every use case runs in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from ..store.db import Database


def wall_clock_s() -> int:
    return int(time.time())


@dataclass
class Panel:
    db: Database
    currency: str = "USD"
    clock: Callable[[], int] = field(default=wall_clock_s)

