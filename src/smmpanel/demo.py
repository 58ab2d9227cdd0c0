"""The demo panel: a customer with money and a catalog with every order type,
and where to put it without harming anything already there.

A demo never deletes data it was not asked to (``fresh``), and never touches
a database that a running panel has open: it picks a new file instead. A busy
port is answered the same way: the next free one.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .services import auth, catalog
from .services.panel import Panel
from .services.principal import ACTOR_CLI
from .settings import Settings
from .store.db import open_database

DEMO_BALANCE = Decimal("100")
DEMO_USER = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"  # a demo on 127.0.0.1, printed at start: not a secret

# (category, name, type, rate per 1000 or per package, min, max, flags)
DEMO_CATALOG: list[tuple[str, str, str, str, int, int, dict]] = [
    ("Facebook", "Facebook Post Likes", "Default", "0.90", 50, 50_000, {"refill": True, "cancel": True, "dripfeed": True}),
    ("Facebook", "Facebook Page Followers", "Default", "2.50", 100, 100_000, {"refill": True, "refill_days": 30}),
    ("Facebook", "Facebook Custom Comments", "Custom Comments", "8", 1, 1_000, {"cancel": True}),
    ("Facebook", "Facebook Poll Votes", "Poll", "3.20", 100, 10_000, {}),
    ("Facebook", "Facebook Group Invites", "Invites from Groups", "6", 100, 5_000, {}),
    ("TikTok", "TikTok Views", "Default", "0.05", 100, 1_000_000, {"cancel": True, "dripfeed": True}),
    ("TikTok", "TikTok Comment Likes", "Comment Likes", "1.80", 20, 5_000, {}),
    ("TikTok", "TikTok Comment Replies", "Comment Replies", "12", 1, 500, {}),
    ("Instagram", "Instagram Followers Package 1K", "Package", "4.99", 1, 1, {"refill": True}),
    ("Instagram", "Instagram Comments Package (10)", "Custom Comments Package", "2.50", 1, 1, {}),
    ("Instagram", "Instagram Mentions", "Mentions", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions with Hashtags", "Mentions with Hashtags", "5.5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions Custom List", "Mentions Custom List", "6", 1, 1_000, {}),
    ("Instagram", "Instagram Mentions Hashtag", "Mentions Hashtag", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions User Followers", "Mentions User Followers", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Mentions Media Likers", "Mentions Media Likers", "5", 100, 10_000, {}),
    ("Instagram", "Instagram Auto Likes (subscription)", "Subscriptions", "1.20", 50, 5_000, {}),
    ("YouTube", "YouTube Views (SEO keywords)", "SEO", "1.50", 500, 100_000, {"refill": True}),
]


async def build_demo(settings: Settings) -> tuple[str, list[int]]:
    db = await open_database(settings.database_url)
    try:
        panel = Panel(db=db, currency=settings.currency)
        _, key = await auth.register(panel, DEMO_USER, email=DEMO_EMAIL, password=DEMO_PASSWORD, balance=DEMO_BALANCE,
                                     actor=ACTOR_CLI)
        ids = []
        for category, name, type_, rate, lo, hi, flags in DEMO_CATALOG:
            ids.append(await catalog.add_service(
                panel, name=name, category=category, type=type_, rate=rate, min=lo, max=hi, **flags
            ))
        return key, ids
    finally:
        await db.close()


PORT_TRIES = 20  # ports tried after a busy one before giving up
SQLITE_FILES = ("", "-wal", "-shm")


class DemoRefused(Exception):
    """The demo can't go ahead as asked; the message says why and what to do."""


def database_in_use(path: str) -> bool:
    """Whether another connection (a running panel, a worker) has the SQLite
    file open. In WAL mode every open connection keeps a shared lock on the
    file, so an exclusive lock is to be had only when nobody else has it
    open; taking it and letting go writes nothing."""
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        probe.execute("PRAGMA locking_mode = EXCLUSIVE")
        probe.execute("BEGIN EXCLUSIVE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def _next_free_path(path: str) -> str:
    base = Path(path)
    n = 2
    while any(Path(f"{base.with_name(f'{base.stem}-{n}{base.suffix}')}{s}").exists() for s in SQLITE_FILES):
        n += 1
    return str(base.with_name(f"{base.stem}-{n}{base.suffix}"))


@dataclass
class Placement:
    path: str  # the SQLite file the demo will create
    note: str | None  # what was decided instead of what was asked, if anything


def choose_database(path: str, *, fresh: bool) -> Placement:
    """Where the demo's database goes: ``path`` when it is free; with
    ``fresh``, an existing unused ``path`` is deleted and made again; an
    existing one is otherwise kept and a new file next to it is used."""
    if not os.path.exists(path):
        return Placement(path, None)
    if database_in_use(path):
        if fresh:
            raise DemoRefused(f"{path} is in use by a running panel: stop it first, or give --db ANOTHER.db")
        other = _next_free_path(path)
        return Placement(other, f"{path} is in use by a running panel (left alone): this demo uses {other}")
    if fresh:
        for suffix in SQLITE_FILES:
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return Placement(path, f"{path} recreated (--fresh)")
    other = _next_free_path(path)
    return Placement(other, f"{path} exists and is kept (--fresh recreates it): this demo uses {other}")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, port: int) -> tuple[int, str | None]:
    """``port`` when free, else the next free one (and a note saying so)."""
    for candidate in range(port, port + PORT_TRIES + 1):
        if port_free(host, candidate):
            note = None if candidate == port else f"port {port} is busy (another panel?): serving on {candidate}"
            return candidate, note
    raise DemoRefused(f"ports {port}-{port + PORT_TRIES} are all busy: give --port PORT")
