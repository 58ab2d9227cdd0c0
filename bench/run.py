#!/usr/bin/env python3
"""The panel's HTTP benchmark (run it with ``scripts/bench``).

For each database (SQLite, then PostgreSQL):

1. Build the fixture, untimed: a fresh database migrated by ``smmpanel
   migrate``; one customer with a big balance and one Default service made
   through the CLI; ``--orders`` (100,000) existing orders for that customer,
   inserted in bulk by SQL, each with its 'charge' ledger entry and the
   balance moved to match, checked with ``smmpanel audit``.
2. In each of ``--rounds`` rounds (3): serve a minimal Starlette app
   (``bench/hello.py``: the ceiling), the panel (``smmpanel serve``, one
   worker) and the same panel "hardened" (a per-account rate limit on, never
   reached, and each ``add`` with its own ``Idempotency-Key``; issue 10:
   within 10% of plain; ``--no-hardened`` skips it), all at once, each pinned
   to CPU 0 and idle but for the one measured. Measure the ceiling with wrk
   pinned to CPU 1, then each action (``balance``, ``status`` of one random
   existing order, ``status`` with 100 random ids, ``add``) on the panel and
   the hardened panel in turn, seconds apart, with ``wrk -t1 -c64 --latency``
   (``bench/wrk/api.lua``: urlencoded form bodies). The two swap places every
   other action and round, so neither always runs second, and both meet the
   same drift of the machine. Each server has its own copy of the fixture,
   grown by its own adds only: a database grown by two servers' adds made
   every read of the panel sharing it cost 3-18% more CPU than the baseline
   beside it (2026-12-07).
   Each timed run is preceded by a short untimed warm-up run, and each kind
   of request is first sent once and its reply checked.
3. The figure of each action is the median of its rounds, the ceiling's
   too; how much the ceiling varied between rounds shows other load on the
   machine. A comparison (hardened against plain, current against the
   baseline) is the median of its rounds' changes, each between two runs
   seconds apart (``paired_changes``). ``--pairs N`` measures each action
   N times per round on every server, turn about: N pairs per round, and
   the medians are over all of them. ``smmpanel audit`` again (the ``add``
   runs must keep the ledger whole).

Every timed run also gives the server's CPU time per request: user + system
time of the server process from ``/proc/PID/stat`` before and after the run,
divided by the requests wrk counted (the panel's process only: PostgreSQL's
own backends are not in it). Other load on the machine moves it less than
req/s.

``--baseline REV`` (a git revision, e.g. ``bc9254e``) compares with older
code in the same minutes, since the ceiling alone does not remove this
machine's drift: every round also serves that revision's panel, measured
beside the current one action by action and swapping places with it (plain
actions only). Its
code is checked out in a temporary ``git worktree --detach`` (removed at the
end, also on error) and run as ``python -m smmpanel.cli serve`` with
``PYTHONPATH`` on its ``src/``, on its own fixture (SQLite
``bench/results/baseline.db``; PostgreSQL the ``--pg-url`` database's name
+ ``_baseline``) built by that revision's own ``bench/run.py``: its CLI, and
bulk SQL that fits its schema. A table then shows, per action, the
baseline's and the current req/s and server CPU per request, and the change.

Prints the table (median req/s, p99 and the ratio to the median
hello-world req/s of the same database's rounds), the targets and whether
each is met, and writes ``bench/results/latest.json``. Every server binds 127.0.0.1 and is stopped at
the end, also on error, Ctrl-C or SIGTERM; the whole run has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the project's .venv/bin (scripts/bench runs us with it)
SMMPANEL = BIN / "smmpanel"
LUA = ROOT / "bench" / "wrk" / "api.lua"
RESULTS = ROOT / "bench" / "results"
SQLITE_PATH = RESULTS / "bench.db"
HARDENED_SQLITE_PATH = RESULTS / "hardened.db"
BASELINE_SQLITE_PATH = RESULTS / "baseline.db"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1/smmpanel_bench"

SERVER_CPU = "0"
WRK_CPU = "1"
CONNECTIONS = 64

# action -> (label, target ratio on SQLite, target ratio on PostgreSQL)
ACTIONS: dict[str, tuple[str, float, float]] = {
    "balance": ("balance", 0.55, 0.30),
    "status": ("status", 0.40, 0.20),
    "status100": ("status, 100 ids", 0.12, 0.08),
    "add": ("add", 0.25, 0.15),
}
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# The hardened run (issue 10): the panel again with a per-account rate limit
# on (high enough never to refuse: the limiter's bookkeeping is what is
# measured) and every add sent with its own Idempotency-Key; each action's
# req/s must stay within HARDENED_TOLERANCE of the plain run's.
HARDENED_ENV = {"SMMPANEL_RATE_LIMIT": "100000000/minute"}
HARDENED_MODES = {"balance": "balance", "status": "status", "status100": "status100", "add": "addkey"}
HARDENED_TOLERANCE = 0.10

# The fixture: rate 1.00 per 1000, orders of 100 units: 0.10 each.
OPENING_BALANCE = "1000000000"  # a billion: ~10^4 s of add at 10^5/s would not drain it
SERVICE_RATE = "1"
ORDER_QUANTITY = 100
ORDER_CHARGE_MICROS = 100_000


class BenchError(Exception):
    pass


class Deadline(BaseException):
    pass


# ------------------------------------------------------------------ processes


class Servers:
    """Every server this run started, so all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "wb")
        try:
            # Its own session: the server and anything it forks form one
            # process group, stopped by the id of the process started here.
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=ROOT)
        finally:
            out.close()
        self.running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            try:
                self.stop(proc)
            except Exception as exc:  # keep stopping the others
                print(f"warning: could not stop server pid {proc.pid}: {exc}", file=sys.stderr)


SERVERS = Servers()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14, 15


def postgres_cpu_seconds() -> float:
    """User + system CPU time of every PostgreSQL process on this machine so
    far: the backends serving the panel, and the WAL writer, checkpointer and
    autovacuum doing the rest of its writes' work. (The other servers' backends
    are idle while one is measured.)"""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                head, _, rest = f.read().rpartition(")")
        except OSError:  # gone meanwhile
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_form(url: str, fields: dict[str, Any], timeout: float = 10) -> Any:
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    """Until the server answers a POST (any HTTP answer will do)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise BenchError(f"server exited with code {proc.returncode}; see {log}:\n{tail(log)}")
        try:
            post_form(url, {"action": "ping"}, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError, json.JSONDecodeError):
            time.sleep(0.2)
    raise BenchError(f"server not ready after {timeout:.0f} s; see {log}:\n{tail(log)}")


def load_average() -> list[float]:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except (OSError, ValueError):
        return []


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------- CLI


def cli(env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run([str(SMMPANEL), *args, "--json"], env=env, capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise BenchError(f"smmpanel {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BenchError(f"smmpanel {' '.join(args)}: not JSON:\n{proc.stdout}{proc.stderr}") from None


def audit(env: dict[str, str], what: str) -> dict[str, Any]:
    """``smmpanel audit`` of ``env``'s database; a BenchError naming ``what`` unless it is clean."""
    proc = subprocess.run([str(SMMPANEL), "audit", "--json"], env=env, capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BenchError(f"smmpanel audit: not JSON ({proc.returncode}):\n{proc.stdout}{proc.stderr}") from None
    if not report.get("ok"):
        raise BenchError(f"smmpanel audit fails {what}: {json.dumps(report)[:2000]}")
    return report


# ------------------------------------------------------------------ fixture


@dataclass
class Fixture:
    url: str
    key: str
    service: int
    lo: int  # the bulk orders' ids are lo..hi
    hi: int
    seconds: float = 0.0
    audit_before: dict[str, Any] = field(default_factory=dict)


_STATUS_CASE = ("CASE n % 4 WHEN 0 THEN 'Completed' WHEN 1 THEN 'In progress' ELSE 'Pending' END",
                "CASE n % 4 WHEN 0 THEN 1000 WHEN 1 THEN 1000 ELSE NULL END",
                f"CASE n % 4 WHEN 0 THEN 0 WHEN 1 THEN 40 ELSE {ORDER_QUANTITY} END")


def _orders_select(p: str) -> str:
    """The bulk orders' rows from a series ``n``; ``p`` makes a placeholder ($1 / ?1)."""
    status, start, remains = _STATUS_CASE
    return (
        "INSERT INTO orders (user_id, service_id, type, link, quantity, units, params, charge_micros, status, "
        "start_count, remains, created_at_s, updated_at_s) "
        f"SELECT {p}1, {p}2, 'Default', 'https://example.com/post/' || n, {ORDER_QUANTITY}, {ORDER_QUANTITY}, '{{}}', "
        f"{ORDER_CHARGE_MICROS}, {status}, {start}, {remains}, {p}3 - n, {p}3 - n FROM seq"
    )


def _charges_select(p: str) -> str:
    """One charge entry per bulk order, in order id order: running balances follow."""
    return (
        "INSERT INTO ledger (user_id, kind, amount_micros, balance_after_micros, order_id, created_at_s) "
        f"SELECT user_id, 'charge', -charge_micros, {p}2 - charge_micros * (id - {p}3 + 1), id, created_at_s "
        f"FROM orders WHERE user_id = {p}1 AND id >= {p}3 ORDER BY id"
    )


def bulk_orders_sqlite(path: Path, user_id: int, service_id: int, count: int) -> tuple[int, int]:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        now = int(time.time())
        con.execute("BEGIN IMMEDIATE")
        first = con.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders").fetchone()[0]
        balance = con.execute("SELECT balance_micros FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        con.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?4) "
            + _orders_select("?"),
            (user_id, service_id, now, count),
        )
        con.execute(_charges_select("?"), (user_id, balance, first))
        con.execute("UPDATE users SET balance_micros = balance_micros - ?2, spent_micros = spent_micros + ?2 "
                    "WHERE id = ?1", (user_id, count * ORDER_CHARGE_MICROS))
        con.execute("COMMIT")
        last = con.execute("SELECT MAX(id) FROM orders").fetchone()[0]
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return first, last


async def bulk_orders_pg(url: str, user_id: int, service_id: int, count: int) -> tuple[int, int]:
    import asyncpg

    con = await asyncpg.connect(url)
    try:
        now = int(time.time())
        async with con.transaction():
            await con.execute("LOCK TABLE orders IN EXCLUSIVE MODE")
            first = await con.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM orders")
            balance = await con.fetchval("SELECT balance_micros FROM users WHERE id = $1", user_id)
            await con.execute("WITH seq AS (SELECT generate_series(1, $4::int) AS n) " + _orders_select("$"),
                              user_id, service_id, now, count)
            await con.execute(_charges_select("$"), user_id, balance, first)
            await con.execute("UPDATE users SET balance_micros = balance_micros - $2, "
                              "spent_micros = spent_micros + $2 WHERE id = $1", user_id, count * ORDER_CHARGE_MICROS)
        last = await con.fetchval("SELECT MAX(id) FROM orders")
        await con.execute("VACUUM ANALYZE")
    finally:
        await con.close()
    return first, last


def copy_fixture(fx: Fixture, backend: str, pg_url: str) -> Fixture:
    """The same fixture in a database of its own (the hardened server's):
    SQLite through the backup API, PostgreSQL as a copy of its database."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(HARDENED_SQLITE_PATH) + suffix).unlink(missing_ok=True)
        source, target = sqlite3.connect(SQLITE_PATH), sqlite3.connect(HARDENED_SQLITE_PATH)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        url = f"sqlite:///{HARDENED_SQLITE_PATH}"
    else:
        url = _pg_url_named(pg_url, "_hardened")
        asyncio.run(recreate_pg_database(url, template=pg_url))
    return replace(fx, url=url)


def _pg_url_named(url: str, suffix: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


async def recreate_pg_database(url: str, template: str | None = None) -> None:
    """Drop and create the database of ``url``; a copy of ``template``'s (a URL) if given."""
    import asyncpg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise BenchError(f"--pg-url: database name {name!r} must be a plain identifier")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    try:
        con = await asyncpg.connect(admin, timeout=10)
    except Exception as exc:
        raise BenchError(f"PostgreSQL not reachable at {admin}: {exc} (scripts/ensure-postgres starts it)") from None
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template is None:
            await con.execute(f'CREATE DATABASE "{name}"')
        else:
            source = urllib.parse.urlsplit(template).path.lstrip("/")
            await con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    finally:
        await con.close()


def build_fixture(backend: str, env: dict[str, str], pg_url: str, orders: int) -> Fixture:
    started = time.monotonic()
    if backend == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    else:
        asyncio.run(recreate_pg_database(pg_url))
        url = pg_url
    env["SMMPANEL_DATABASE_URL"] = url
    cli(env, "migrate")
    user = cli(env, "users", "add", "bench", "--balance", OPENING_BALANCE)
    service = cli(env, "services", "add", "--name", "Bench Likes", "--category", "Bench", "--type", "Default",
                  "--rate", SERVICE_RATE, "--min", "10", "--max", "1000000")
    if backend == "sqlite":
        lo, hi = bulk_orders_sqlite(SQLITE_PATH, user["id"], service["service"], orders)
    else:
        lo, hi = asyncio.run(bulk_orders_pg(url, user["id"], service["service"], orders))
    if hi - lo + 1 != orders:
        raise BenchError(f"expected {orders} orders with ids {lo}.., got ids {lo}..{hi}")
    report = audit(env, "on the fixture")
    return Fixture(url, user["api_key"], service["service"], lo, hi, time.monotonic() - started, report)


# ----------------------------------------------------------------- baseline


@dataclass
class Baseline:
    """An older revision's panel (``--baseline REV``), checked out in a temporary worktree."""

    revision: str
    commit: str
    tree: Path
    bench: Any  # that tree's bench/run.py, loaded as a module

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.tree / "src")}

    def serve_cmd(self) -> list[str]:
        return [str(BIN / "python"), "-m", "smmpanel.cli", "serve", "--workers", "1"]

    def build_fixture(self, backend: str, env: dict[str, str], pg_url: str, orders: int) -> Fixture:
        """Its fixture, built by its own bench/run.py: its CLI (through ``env``'s PYTHONPATH), its schema's SQL."""
        pg_url = _pg_url_named(pg_url, "_baseline")
        self.bench.SQLITE_PATH = BASELINE_SQLITE_PATH
        try:
            fx = self.bench.build_fixture(backend, env, pg_url, orders)
        except self.bench.BenchError as exc:
            raise BenchError(f"baseline {self.revision}: {exc}") from None
        return Fixture(fx.url, fx.key, fx.service, fx.lo, fx.hi, fx.seconds, fx.audit_before)


@contextlib.contextmanager
def git_worktree(revision: str) -> Iterator[tuple[str, Path]]:
    """``revision`` checked out in a temporary worktree: (its commit, the tree), removed afterwards, also on error."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)

    found = git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if found.returncode != 0:
        raise BenchError(f"--baseline {revision}: not a commit of {ROOT}")
    commit = found.stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="smmpanel-baseline-"))
    tree = tmp / "tree"
    try:
        added = git("worktree", "add", "--detach", str(tree), commit)
        if added.returncode != 0:
            raise BenchError(f"git worktree add {tree} {commit} failed: {added.stderr.strip()}")
        yield commit, tree
    finally:
        removed = git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)
        if removed.returncode != 0 and "is not a working tree" not in removed.stderr:
            print(f"warning: git worktree remove {tree}: {removed.stderr.strip()} (`git worktree prune` forgets it)",
                  file=sys.stderr)


@contextlib.contextmanager
def checkout_baseline(revision: str) -> Iterator[Baseline]:
    name = "smmpanel_baseline_bench"
    with git_worktree(revision) as (commit, tree):
        script = tree / "bench" / "run.py"
        spec = importlib.util.spec_from_file_location(name, script)
        if not script.exists() or spec is None or spec.loader is None:
            raise BenchError(f"--baseline {revision}: no bench/run.py there to build its fixture with")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up while being made
        try:
            spec.loader.exec_module(module)
            if not callable(getattr(module, "build_fixture", None)):
                raise BenchError(f"--baseline {revision}: its bench/run.py has no build_fixture()")
            yield Baseline(revision, commit, tree, module)
        finally:
            sys.modules.pop(name, None)


# --------------------------------------------------------------------- runs


def check_reply(mode: str, reply: Any) -> None:
    """One request of each kind, sent before timing, must succeed."""
    ok = isinstance(reply, dict) and "error" not in reply
    if ok and mode == "balance":
        ok = "balance" in reply
    elif ok and mode == "status":
        ok = "status" in reply
    elif ok and mode == "status100":
        ok = len(reply) >= 90 and all(isinstance(v, dict) and "status" in v for v in reply.values())
    elif ok and mode in ("add", "addkey", "addkeyrandom"):
        ok = isinstance(reply.get("order"), int)
    if not ok:
        raise BenchError(f"{mode}: unexpected reply {json.dumps(reply)[:500]}")


def sample_request(mode: str, fx: Fixture) -> dict[str, Any]:
    import random

    if mode == "status":
        return {"key": fx.key, "action": "status", "order": random.randint(fx.lo, fx.hi)}
    if mode == "status100":
        return {"key": fx.key, "action": "status",
                "orders": ",".join(str(random.randint(fx.lo, fx.hi)) for _ in range(100))}
    if mode in ("add", "addkey", "addkeyrandom"):
        return {"key": fx.key, "action": "add", "service": fx.service, "quantity": ORDER_QUANTITY,
                "link": "https://example.com/post/check"}
    return {"key": fx.key, "action": "balance"}


def wrk(url: str, mode: str, seconds: int, fx: Fixture, log: Path) -> dict[str, Any]:
    cmd = ["taskset", "-c", WRK_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
           "--latency", "-s", str(LUA), url, "--", mode, fx.key, str(fx.lo), str(fx.hi), str(fx.service)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[:2000]}")
    line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise BenchError(f"wrk printed no BENCHJSON line:\n{proc.stdout}{proc.stderr}")
    data = json.loads(line[len("BENCHJSON "):])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    data["p99_ms"] = data["latency_us"]["p99"] / 1000
    data["socket_errors"] = sum(data["errors"].values())
    return data


class Served:
    """One server of a round, running until ``stop``: idle (pinned to the
    same CPU as the others) while another one is measured."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], fx: Fixture, logs: Path) -> None:
        self.name, self.fx = name, fx
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/api/v2"
        self.server_log = logs / f"{name}.server.log"
        self.wrk_log = logs / f"{name}.wrk.log"
        self.wrk_log.unlink(missing_ok=True)
        self.proc = SERVERS.start(["taskset", "-c", SERVER_CPU, *cmd, "--host", "127.0.0.1", "--port", str(port)],
                                  env, self.server_log)
        try:
            wait_ready(self.proc, self.url, self.server_log)
        except BaseException:
            self.stop()
            raise

    def measure(self, mode: str, args: argparse.Namespace) -> dict[str, Any]:
        """One timed wrk run of ``mode`` (after its check and warm-up), with the server's CPU per request."""
        if mode != "hello":
            check_reply(mode, post_form(self.url, sample_request(mode, self.fx)))
        if args.warmup:
            wrk(self.url, mode, args.warmup, self.fx, self.wrk_log)
        on_pg = self.fx.url.startswith("postgresql")
        pg_before = postgres_cpu_seconds() if on_pg else 0.0
        cpu_before = cpu_seconds(self.proc.pid)  # taskset exec'd the server: the same pid
        result = wrk(self.url, mode, args.duration, self.fx, self.wrk_log)
        if self.proc.poll() is not None:
            raise BenchError(f"{self.name} server died during {mode}; see {self.server_log}:\n{tail(self.server_log)}")
        result["server_cpu_s"] = round(cpu_seconds(self.proc.pid) - cpu_before, 3)
        result["cpu_us_per_req"] = (round(result["server_cpu_s"] / result["requests"] * 1e6, 2)
                                    if result["requests"] else None)
        result["pg_cpu_us_per_req"] = (round((postgres_cpu_seconds() - pg_before) / result["requests"] * 1e6, 2)
                                       if on_pg and result["requests"] else None)
        flag = ""
        if result["bad_replies"] or result["socket_errors"]:
            flag = f"  !! {result['bad_replies']} bad replies, {result['socket_errors']} socket errors"
        cpu = "" if result["cpu_us_per_req"] is None else f"   cpu {result['cpu_us_per_req']:6.1f} µs/req"
        if result["pg_cpu_us_per_req"] is not None:
            cpu += f" + PostgreSQL {result['pg_cpu_us_per_req']:6.1f}"
        print(f"    {self.name:<8} {mode:<10} {result['rps']:>9,.0f} req/s   p99 {result['p99_ms']:7.2f} ms{cpu}{flag}",
              flush=True)
        return result

    def stop(self) -> None:
        SERVERS.stop(self.proc)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from a mode's runs in every round: the medians (a round
    the machine was busy in moves a median least), the errors summed."""
    cpu = [r["cpu_us_per_req"] for r in runs if r.get("cpu_us_per_req") is not None]
    pg_cpu = [r["pg_cpu_us_per_req"] for r in runs if r.get("pg_cpu_us_per_req") is not None]
    return {"rps": median([r["rps"] for r in runs]), "p99_ms": median([r["p99_ms"] for r in runs]),
            "cpu_us_per_req": round(median(cpu), 2) if cpu else None,
            "pg_cpu_us_per_req": round(median(pg_cpu), 2) if pg_cpu else None,
            "bad_replies": sum(r["bad_replies"] for r in runs), "socket_errors": sum(r["socket_errors"] for r in runs),
            "rounds": [round(r["rps"], 1) for r in runs]}


def cpu_change(now: dict[str, Any], reference: dict[str, Any], figure: str = "cpu_us_per_req") -> float | None:
    """How much more CPU per request ``now`` took than ``reference`` (medians of their rounds)."""
    if not now.get(figure) or not reference.get(figure):
        return None
    return round(now[figure] / reference[figure] - 1, 4)


def paired_changes(runs: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[float]:
    """Each round's change of ``runs`` against ``reference``, measured seconds
    apart in that round. A comparison's figure is their median: pairing
    removes the drift between rounds (this machine's speed moves by 20% and
    more within minutes), which a ratio of the two medians keeps."""
    return [r["rps"] / ref["rps"] - 1 for r, ref in zip(runs, reference, strict=True)]


def run_backend(backend: str, args: argparse.Namespace, logs: Path, baseline: Baseline | None) -> dict[str, Any]:
    env = dict(os.environ)
    load_at_start = load_average()
    print(f"\n== {BACKENDS[backend]}: building the fixture ({args.orders:,} orders) ...", flush=True)
    fx = build_fixture(backend, env, args.pg_url, args.orders)
    print(f"   fixture ready in {fx.seconds:.1f} s (order ids {fx.lo}..{fx.hi}; audit ok)", flush=True)
    if baseline is not None:
        base_env = baseline.env()
        print(f"   the baseline's fixture ({baseline.revision}, by its own CLI and bench/run.py) ...", flush=True)
        base_fx = baseline.build_fixture(backend, base_env, args.pg_url, args.orders)
        print(f"   baseline fixture ready in {base_fx.seconds:.1f} s (order ids {base_fx.lo}..{base_fx.hi}; audit ok)",
              flush=True)
    hardened_fx = None if args.no_hardened else copy_fixture(fx, backend, args.pg_url)
    hello_cmd = [str(BIN / "python"), "-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "hello:app",
                 "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "info"]
    panel_cmd = [str(SMMPANEL), "serve", "--workers", "1"]
    # (name, server command, environment, the wrk mode of each action, fixture):
    # the plain panel, the baseline's beside it if asked for and, unless
    # skipped, the hardened one. In each round all of them (and the ceiling)
    # are started, idle but for the one being measured, and each action is
    # measured on every server in turn, seconds apart: this machine's speed
    # drifts within minutes, and what is compared must see the same drift.
    # The order of the servers is reversed every other action and round, so
    # none always goes first (or meets a database the others' adds have grown).
    chosen = {a: ACTIONS[a] for a in args.actions}
    variants = [("panel", panel_cmd, env, {a: a for a in chosen}, fx)]
    if baseline is not None:
        variants.append(("baseline", baseline.serve_cmd(), base_env, {a: a for a in chosen}, base_fx))
    if not args.no_hardened:
        hardened_env = {**env, **HARDENED_ENV, "SMMPANEL_DATABASE_URL": hardened_fx.url}
        modes = {a: HARDENED_MODES[a] for a in chosen}
        if args.random_keys and "add" in modes:
            modes["add"] = "addkeyrandom"
        variants.append(("hardened", panel_cmd, hardened_env, modes, hardened_fx))
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in ("hello", *(v[0] for v in variants))}
    for round_no in range(args.rounds):
        print(f"   round {round_no + 1} of {args.rounds}", flush=True)
        logs_now = logs / backend / f"round{round_no + 1}"
        served: dict[str, Served] = {}
        try:
            served["hello"] = Served("hello", hello_cmd, env, fx, logs_now)
            for name, cmd, variant_env, _, variant_fx in variants:
                served[name] = Served(name, cmd, variant_env, variant_fx, logs_now)
            runs["hello"].setdefault("hello", []).append(served["hello"].measure("hello", args))
            for action_no, action in enumerate(chosen):
                for pair in range(args.pairs):  # --pairs: the servers in turn again, the other way round
                    turn = variants if (round_no + action_no + pair) % 2 == 0 else variants[::-1]
                    for name, _, _, modes, _ in turn:
                        runs[name].setdefault(modes[action], []).append(served[name].measure(modes[action], args))
        finally:
            for server in served.values():
                server.stop()
    hello = combine(runs["hello"]["hello"])
    ceilings = hello["rounds"]
    spread = max(ceilings) / min(ceilings) - 1
    if spread > 0.10:
        print(f"   WARNING: the hello-world ceiling varied {spread:.0%} between rounds ({', '.join(f'{c:,.0f}' for c in ceilings)} "
              f"req/s): other load on the machine? (load average now {load_average()})", flush=True)
    report = audit(env, "after the run")
    if hardened_fx is not None:
        audit({**env, "SMMPANEL_DATABASE_URL": hardened_fx.url}, "on the hardened server's database after the run")
    print("   audit after the run: ok" + ("" if hardened_fx is None else " (both databases)"), flush=True)
    actions = {}
    for mode, (label, target_sqlite, target_pg) in chosen.items():
        r = combine(runs["panel"][mode])
        target = target_sqlite if backend == "sqlite" else target_pg
        ratio = r["rps"] / hello["rps"]
        actions[mode] = {
            "label": label,
            "rps": round(r["rps"], 1),
            "p99_ms": r["p99_ms"],
            "cpu_us_per_req": r["cpu_us_per_req"],
            "pg_cpu_us_per_req": r["pg_cpu_us_per_req"],
            "ratio": round(ratio, 4),
            "target_ratio": target,
            "met": ratio >= target,
            "valid": not r["bad_replies"] and not r["socket_errors"],
            "rounds": r["rounds"],
            "wrk": runs["panel"][mode],
        }
    side_by_side = {}
    for mode, wrk_mode in ({} if args.no_hardened else variants[-1][3]).items():
        r = combine(runs["hardened"][wrk_mode])
        pairs = paired_changes(runs["hardened"][wrk_mode], runs["panel"][mode])
        change = median(pairs)
        side_by_side[mode] = {"rps": round(r["rps"], 1), "p99_ms": r["p99_ms"], "cpu_us_per_req": r["cpu_us_per_req"],
                              "pg_cpu_us_per_req": r["pg_cpu_us_per_req"],
                              "change": round(change, 4), "round_changes": [round(c, 4) for c in pairs],
                              "cpu_change": cpu_change(r, actions[mode]),
                              "pg_cpu_change": cpu_change(r, actions[mode], "pg_cpu_us_per_req"),
                              "within": change >= -HARDENED_TOLERANCE,
                              "valid": not r["bad_replies"] and not r["socket_errors"], "rounds": r["rounds"],
                              "wrk": runs["hardened"][wrk_mode]}
    compared = None
    if baseline is not None:
        base_report = audit(base_env, f"on the baseline's ({baseline.revision}) database after the run")
        print("   baseline's audit after the run: ok", flush=True)
        compared = {"revision": baseline.revision, "commit": baseline.commit, "database_url": base_fx.url,
                    "fixture": {"order_ids": [base_fx.lo, base_fx.hi], "service": base_fx.service,
                                "seconds": round(base_fx.seconds, 1)},
                    "actions": {}, "audit_after": base_report}
        for mode in chosen:
            b, now = combine(runs["baseline"][mode]), actions[mode]
            pairs = paired_changes(runs["panel"][mode], runs["baseline"][mode])
            compared["actions"][mode] = {
                "rps": round(b["rps"], 1), "p99_ms": b["p99_ms"], "ratio": round(b["rps"] / hello["rps"], 4),
                "cpu_us_per_req": b["cpu_us_per_req"], "pg_cpu_us_per_req": b["pg_cpu_us_per_req"],
                "rps_change": round(median(pairs), 4),  # the current code's against the baseline's
                "round_changes": [round(c, 4) for c in pairs],
                "cpu_change": cpu_change(now, b),
                "pg_cpu_change": cpu_change(now, b, "pg_cpu_us_per_req"),
                "valid": not b["bad_replies"] and not b["socket_errors"], "rounds": b["rounds"],
                "wrk": runs["baseline"][mode]}
    return {
        "hardened": side_by_side,
        "baseline": compared,
        "database_url": fx.url,
        "fixture": {"orders": args.orders, "order_ids": [fx.lo, fx.hi], "service": fx.service,
                    "seconds": round(fx.seconds, 1)},
        "hello": {"rps": round(hello["rps"], 1), "p99_ms": hello["p99_ms"], "cpu_us_per_req": hello["cpu_us_per_req"],
                  "rounds": ceilings,
                  "spread": round(spread, 4), "wrk": runs["hello"]["hello"]},
        "load_average_at_start": load_at_start,
        "actions": actions,
        "audit_after": report,
    }


# -------------------------------------------------------------------- report


def fmt_cell(res: dict[str, Any] | None, mode: str | None) -> tuple[str, str, str]:
    if res is None or "error" in res:
        return ("n/a", "", "")
    if mode is None:
        return (f"{res['hello']['rps']:,.0f}", f"{res['hello']['p99_ms']:.2f} ms", "1.000")
    a = res["actions"][mode]
    mark = "" if a["valid"] else " !"
    return (f"{a['rps']:,.0f}{mark}", f"{a['p99_ms']:.2f} ms", f"{a['ratio']:.3f}")


def print_table(results: dict[str, Any], modes: list[str], random_keys: bool = False) -> None:
    head = ["action", "SQLite req/s", "p99", "ratio", "PostgreSQL req/s", "p99", "ratio"]
    rows = [["hello-world (ceiling)", *fmt_cell(results.get("sqlite"), None),
             *fmt_cell(results.get("postgresql"), None)]]
    for mode in modes:
        rows.append([ACTIONS[mode][0], *fmt_cell(results.get("sqlite"), mode),
                     *fmt_cell(results.get("postgresql"), mode)])
    print_grid(head, rows, right=range(1, 7))

    print("\nTargets (ratio to the hello-world req/s of the same run):")
    head = ["action", "SQLite target", "SQLite", "PostgreSQL target", "PostgreSQL"]
    rows = []
    for mode in modes:
        label, t_sqlite, t_pg = ACTIONS[mode]
        row = [label]
        for backend, target in (("sqlite", t_sqlite), ("postgresql", t_pg)):
            res = results.get(backend)
            if res is None or "error" in res:
                verdict = "not run" if res is None else "error"
            else:
                a = res["actions"][mode]
                verdict = ("met" if a["met"] else "MISSED") + f" ({a['ratio']:.3f})"
                if not a["valid"]:
                    verdict += " invalid: error replies"
            row += [f">= {target:.2f}", verdict]
        rows.append(row)
    print_grid(head, rows, right=())
    if any(res and res.get("hardened") for res in results.values()):
        keys = "random, as UUIDs" if random_keys else "counting up"
        print(f"\nHardened: rate limit on ({HARDENED_ENV['SMMPANEL_RATE_LIMIT']}, never reached), each add with "
              f"its own Idempotency-Key ({keys}); req/s beside the plain run's (within {HARDENED_TOLERANCE:.0%}?), "
              "and how much more server CPU time a request took (less moved by other load; on PostgreSQL the "
              "panel's / PostgreSQL's own):")
        head = ["action", "SQLite plain", "hardened", "change", "CPU/req", "PostgreSQL plain", "hardened", "change",
                "CPU/req"]
        rows = []
        for mode in modes:
            row = [ACTIONS[mode][0]]
            for backend in ("sqlite", "postgresql"):
                res = results.get(backend)
                h = (res or {}).get("hardened", {}).get(mode)
                if h is None or "error" in res:
                    row += ["n/a", "", "", ""]
                    continue
                flag = "" if h["within"] else " MISSED"
                flag += "" if h["valid"] else " invalid: error replies"
                cpu = pct(h.get("cpu_change"))
                if h.get("pg_cpu_change") is not None:
                    cpu += f" / {pct(h['pg_cpu_change'])}"
                row += [f"{res['actions'][mode]['rps']:,.0f}", f"{h['rps']:,.0f}", f"{h['change']:+.1%}{flag}", cpu]
            rows.append(row)
        print_grid(head, rows, right=(1, 2, 3, 4, 5, 6, 7, 8))
        print("change: the median of the rounds' changes (hardened against plain, seconds apart), which were:")
        for backend, res in results.items():
            for mode, h in ((res or {}).get("hardened") or {}).items():
                print(f"  {BACKENDS[backend]} {ACTIONS[mode][0]}: {round_changes(h['round_changes'])}")
    for backend, res in results.items():
        base = (res or {}).get("baseline")
        if base:
            print_baseline(BACKENDS[backend], base, res["actions"])
    for backend, res in results.items():
        if res and "hello" in res:
            rounds = ", ".join(f"{c:,.0f}" for c in res["hello"]["rounds"])
            print(f"\n{BACKENDS[backend]}: the hello-world ceiling in each round: {rounds} req/s "
                  f"(spread {res['hello']['spread']:.1%})", end="")
    print()
    for backend, res in results.items():
        if res and "error" in res:
            print(f"\n{BACKENDS[backend]} failed: {res['error']}")


def print_baseline(title: str, base: dict[str, Any], actions: dict[str, Any]) -> None:
    """The baseline revision beside the current code, measured in the same rounds."""
    rev = base["revision"]
    print(f"\n{title}: the baseline {rev} ({base['commit'][:10]}) beside the current code, same rounds; req/s and "
          "the server's CPU time per request (less moved by other load):")
    head = ["action", f"{rev} req/s", "current req/s", "change", "rounds' changes", f"{rev} CPU/req",
            "current CPU/req", "change"]
    on_pg = any(b.get("pg_cpu_change") is not None for b in base["actions"].values())
    if on_pg:
        head += [f"PostgreSQL's CPU/req {rev}", "current", "change"]

    def us(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.1f} µs"

    rows = []
    for mode, b in base["actions"].items():
        now = actions[mode]
        flag = "" if b["valid"] and now["valid"] else " invalid: error replies"
        row = [now["label"], f"{b['rps']:,.0f}", f"{now['rps']:,.0f}", f"{b['rps_change']:+.1%}{flag}",
               round_changes(b["round_changes"]), us(b["cpu_us_per_req"]), us(now["cpu_us_per_req"]),
               pct(b["cpu_change"])]
        if on_pg:
            row += [us(b.get("pg_cpu_us_per_req")), us(now.get("pg_cpu_us_per_req")), pct(b.get("pg_cpu_change"))]
        rows.append(row)
    print_grid(head, rows, right=(1, 2, 3, 5, 6, 7, 8, 9, 10))


def pct(change: float | None) -> str:
    return "n/a" if change is None else f"{change:+.1%}"


def round_changes(changes: list[float]) -> str:
    return ", ".join(f"{c:+.1%}" for c in changes)


def print_grid(head: list[str], rows: list[list[str]], right: Any) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = set(right)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print(line(head))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))


def environment() -> dict[str, Any]:
    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    cpu = ""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    except OSError:
        commit = ""
    where = subprocess.run([str(BIN / "python"), "-c", "import smmpanel; print(smmpanel.__file__)"],
                           capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True,
                           cwd=ROOT).stdout.strip()
    source = Path(where).parent.parent if where else None
    in_tree = source is not None and source.resolve() == (ROOT / "src").resolve()
    return {
        "smmpanel_source": str(source) if source else None,
        "smmpanel_from_this_work_tree": in_tree,
        "src_modified_since_commit": bool(dirty) if in_tree else None,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version[0] if wrk_version else None,
        "git_commit": commit or None,
        "packages": {p: version(p) for p in ("smmpanel", "starlette", "uvicorn", "uvloop", "httptools", "orjson",
                                               "asyncpg")},
    }


# ---------------------------------------------------------------------- main


def preflight(backends: list[str]) -> None:
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found (scripts/bench installs wrk; taskset is in util-linux)")
    if not SMMPANEL.exists():
        raise BenchError(f"{SMMPANEL} not found: run scripts/bootstrap (or use scripts/bench)")
    cpus = os.sched_getaffinity(0)
    if not {int(SERVER_CPU), int(WRK_CPU)} <= cpus:
        raise BenchError(f"needs CPUs {SERVER_CPU} and {WRK_CPU} (this process may use {sorted(cpus)})")


def actions_arg(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ACTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"actions are some of {','.join(ACTIONS)}, not {text!r}")
    return [name for name in ACTIONS if name in names]  # in the usual order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per timed wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of every run, figures are their medians "
                        "(default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="3 s runs and 1 s warm-ups, for trying it out")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of untimed wrk before each run "
                        "(default 2; 1 with --quick; 0 for none)")
    parser.add_argument("--orders", type=int, default=100_000, help="existing orders in the fixture (default 100000)")
    parser.add_argument("--only", choices=list(BACKENDS), help="one database only")
    parser.add_argument("--pg-url", default=os.environ.get("SMMPANEL_BENCH_PG_URL", DEFAULT_PG_URL),
                        help=f"PostgreSQL database to (re)create and use (default {DEFAULT_PG_URL}; it is dropped "
                        "and created anew)")
    parser.add_argument("--actions", type=actions_arg, default=list(ACTIONS), metavar="A,B",
                        help=f"the actions to measure, of {','.join(ACTIONS)} (default: all)")
    parser.add_argument("--pairs", type=int, default=1, help="in each round, measure each action on every server "
                        "this many times, in turn and the other way round (default 1): comparisons get more pairs "
                        "of runs seconds apart, and a figure is the median of all of them")
    parser.add_argument("--random-keys", action="store_true",
                        help="the hardened add sends random keys (as UUIDs), not a run's keys counting up")
    parser.add_argument("--no-hardened", action="store_true",
                        help="skip the run with a rate limit on and Idempotency-Keys sent")
    parser.add_argument("--baseline", metavar="REV", help="also serve this git revision's panel (e.g. bc9254e) "
                        "beside the current one in every round, each on its own fixture, and compare them (plain "
                        "actions; req/s and server CPU per request)")
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup must be 0..60 seconds")
    if not 1 <= args.rounds <= 9:
        parser.error("--rounds must be 1..9")
    if not 1 <= args.pairs <= 9:
        parser.error("--pairs must be 1..9")
    if not 100 <= args.orders <= 10_000_000:
        parser.error("--orders must be 100..10000000")
    backends = [args.only] if args.only else list(BACKENDS)

    # A bound on the whole run: fixtures, server start-ups, the timed runs
    # (ceiling, plain, hardened, baseline) and their warm-ups per round and
    # database, with room to spare.
    fixtures = 2 if args.baseline else 1
    timed_runs = 1 + args.pairs * len(args.actions) * (1 + (not args.no_hardened) + bool(args.baseline))
    deadline_s = (len(backends) * (300 * fixtures + args.rounds * timed_runs * (args.duration + args.warmup + 30))
                  + fixtures * args.orders // 1000)

    def on_signal(signum: int, frame: Any) -> None:
        if signum == signal.SIGALRM:
            raise Deadline(f"the run passed its deadline of {deadline_s} s")
        raise KeyboardInterrupt(f"signal {signum}")

    # Explicitly, SIGINT too: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and would never stop.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(deadline_s)

    started = dt.datetime.now(dt.timezone.utc)
    logs = RESULTS / "logs"
    results: dict[str, Any] = {}
    code = 0
    info: dict[str, Any] = {}
    try:
        preflight(backends)
        info = environment()
        if info["smmpanel_from_this_work_tree"]:
            print(f"panel code: {info['smmpanel_source']} (commit {str(info['git_commit'])[:10]}"
                  f"{', src/ modified since' if info['src_modified_since_commit'] else ''})", flush=True)
        else:
            print(f"panel code: {info['smmpanel_source']} (not this work tree's src/: from PYTHONPATH)", flush=True)
        load = load_average()
        if load and load[0] > 0.5:
            print(f"WARNING: load average {load[0]:.2f} before the run: other work on this machine lowers and "
                  "scatters the numbers", flush=True)
        print(f"smmpanel benchmark: servers on CPU {SERVER_CPU}, wrk -t1 -c{CONNECTIONS} -d{args.duration}s on CPU "
              f"{WRK_CPU} (warm-up {args.warmup} s); logs in {logs.relative_to(ROOT)}/", flush=True)
        with (checkout_baseline(args.baseline) if args.baseline else contextlib.nullcontext()) as baseline:
            if baseline is not None:
                print(f"baseline: {baseline.revision} (commit {baseline.commit[:10]}), checked out in "
                      f"{baseline.tree} for this run", flush=True)
            for backend in backends:
                try:
                    results[backend] = run_backend(backend, args, logs, baseline)
                except BenchError as exc:
                    print(f"   {BACKENDS[backend]}: {exc}", file=sys.stderr, flush=True)
                    results[backend] = {"error": str(exc)}
                    code = 1
    except (KeyboardInterrupt, Deadline) as exc:
        print(f"\nstopped: {exc or 'interrupted'}; stopping servers", file=sys.stderr, flush=True)
        SERVERS.stop_all()
        return 130 if isinstance(exc, KeyboardInterrupt) else 124
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        SERVERS.stop_all()

    print()
    print_table(results, args.actions, args.random_keys)
    doc = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds, "connections": CONNECTIONS,
                     "random_keys": args.random_keys,
                     "wrk_threads": 1, "server_cpu": SERVER_CPU, "wrk_cpu": WRK_CPU, "panel_workers": 1,
                     "orders": args.orders, "baseline": args.baseline},
        "targets": {mode: {"sqlite": ACTIONS[mode][1], "postgresql": ACTIONS[mode][2]} for mode in args.actions},
        "environment": info,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nresults: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    missed = any(not a["met"] for r in results.values() if "actions" in r for a in r["actions"].values())
    if code == 0 and args.strict and missed:
        code = 2
    return code


if __name__ == "__main__":
    sys.exit(main())
