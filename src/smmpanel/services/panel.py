"""The context every use case runs in, and API-key handling."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from ..store.db import Database

API_KEY_BYTES = 32  # 256 bits: long enough that a plain sha256 is a safe hash


def wall_clock_s() -> int:
    return int(time.time())


@dataclass
class Panel:
    db: Database
    currency: str = "USD"
    clock: Callable[[], int] = field(default=wall_clock_s)


def new_api_key() -> str:
    """URL-safe, so clients can paste it into a query string unencoded."""
    return secrets.token_urlsafe(API_KEY_BYTES)


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()
