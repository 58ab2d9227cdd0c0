#!/usr/bin/env python3
"""Instructions per API request, counted by callgrind (run it with ``scripts/bench-instructions``).

Why: on this shared machine req/s moves by 10-20% between runs, so a 5% change
cannot be seen in ``scripts/bench``. The number of instructions one request
executes does not depend on the machine's mood: it is the same from run to run
to within a fraction of a percent, and it tells an older revision from the
current one in the same terms.

How: for each revision (the current tree, and ``--baseline REV`` checked out in a
temporary git worktree) a fresh database is made by that revision's own CLI
(``migrate``, ``users add``, ``services add``). The panel's ASGI app is then
driven in-process (its lifespan, then requests as uvicorn would hand them over,
no socket) under ``valgrind --tool=callgrind`` twice, with N1 and N2 timed
requests after the same warm-up; (instructions(N2) - instructions(N1)) /
(N2 - N1) is the cost of one request, start-up and warm-up cancelled out.
Requests go one at a time unless ``--concurrency C`` sends them C at once:
then orders share group commits as they do under load (one at a time, each
order pays a whole commit: the pages it dirtied, written to the WAL). This
counts the panel's own process: its Python and, on SQLite, the SQLite library;
not uvicorn, the kernel or the network (constant between revisions), nor the
PostgreSQL server's work (``--database postgresql`` counts the panel's side of
it: asyncpg, the protocol, the event loop's wake-ups).

Prints one table: action, instructions per request for each revision, change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, BenchError, cli, git_worktree, recreate_pg_database  # noqa: E402  (bench/ is scripts, not a package)

PYTHON = Path(sys.executable)
ACTIONS = ("balance", "status", "status100", "add", "addkey")
WARMUP_REQUESTS = 300  # also places the orders the status actions read (ids 1..300)
SERVICE_RATE = "1"
DATABASES = ("sqlite", "postgresql")
PG_DATABASE_PREFIX = "smmpanel_instructions"  # + the run's size; dropped and made anew each run

# The driver, run under valgrind with the revision's src on PYTHONPATH: it
# serves the app's lifespan and sends `n` requests of one kind in-process.
DRIVER = r'''
import asyncio, os, sys
from smmpanel.app import create_app
if os.environ.get("BENCH_CHECKPOINTS") == "inline":  # SQLite checkpoints in the committing call, as before 12-07
    import smmpanel.store.db as db
    if hasattr(db, "Checkpointer"):
        sqlite_init = db.SqliteDatabase.__init__
        def inline_checkpoints(self, path, *args, background_checkpoints=False, **kwargs):
            sqlite_init(self, path, *args, **kwargs)
        db.SqliteDatabase.__init__ = inline_checkpoints
key, action, n, warmup, at_once = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ADD = f"key={key}&action=add&service=1&quantity=100&link=https%3A%2F%2Fexample.com%2Fpost%2F1"
QUERY = {"balance": f"key={key}&action=balance", "status": f"key={key}&action=status&order=7",
         "status100": f"key={key}&action=status&orders=" + "%2C".join(str(i) for i in range(1, 201, 2)),
         "add": ADD, "addkey": ADD}

async def main():
    app = create_app()
    events = asyncio.Queue()
    await events.put({"type": "lifespan.startup"})
    started = asyncio.Event()
    async def lifespan_send(message):
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise SystemExit(message.get("message"))
    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, events.get, lifespan_send))
    await started.wait()
    replies = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        if message["type"] == "http.response.body":
            replies.append(message["body"])
    sent = 0
    async def request(query):
        nonlocal sent
        sent += 1
        headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")]
        if query is None:
            query, headers = QUERY[action], headers + [(b"idempotency-key", b"k-%d-%d" % (os.getpid(), sent))]
        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                   "scheme": "http", "path": "/api/v2", "raw_path": b"/api/v2", "query_string": query.encode(),
                   "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
                   "server": ("127.0.0.1", 8000)}, receive, send)
    for _ in range(warmup):
        await request(ADD)
    for done in range(0, n, at_once):  # `at_once` requests in flight: adds share group commits as under load
        await asyncio.gather(*(request(None if action == "addkey" else QUERY[action])
                               for _ in range(min(at_once, n - done))))
    if b"error" in replies[-1]:
        raise SystemExit(f"{action}: {replies[-1][:200]!r}")
    await events.put({"type": "lifespan.shutdown"})
    await lifespan

asyncio.run(main())
'''


def fixture(src: Path, url: str) -> str:
    """The database at ``url`` (empty) made ready by the revision's own CLI; its API key."""
    env = {**os.environ, "PYTHONPATH": str(src), "SMMPANEL_DATABASE_URL": url}
    cli(env, "migrate")
    user = cli(env, "users", "add", "bench", "--balance", "1000000000")
    cli(env, "services", "add", "--name", "Bench Likes", "--category", "Bench", "--type", "Default",
        "--rate", SERVICE_RATE, "--min", "10", "--max", "1000000")
    return user["api_key"]


class Databases:
    """Where each run's fresh fixture lives. SQLite: a copy of one made per
    revision (``workdir/panel.db``); PostgreSQL: a database per run size,
    made anew for every run (the two runs of an action go at once)."""

    def __init__(self, kind: str, pg_url: str, src: Path, workdir: Path) -> None:
        self.kind, self.pg_url, self.src, self.workdir = kind, pg_url.rstrip("/"), src, workdir
        if kind == "sqlite":
            self.sqlite_key = fixture(src, f"sqlite:///{workdir / 'panel.db'}")

    def fresh(self, n: int, run_dir: Path) -> tuple[str, str]:
        """The URL of a fresh fixture for a run of ``n`` requests, and its API key."""
        if self.kind == "sqlite":
            shutil.copy(self.workdir / "panel.db", run_dir / "panel.db")
            return f"sqlite:///{run_dir / 'panel.db'}", self.sqlite_key
        url = f"{self.pg_url}/{PG_DATABASE_PREFIX}_{n}"
        asyncio.run(recreate_pg_database(url))
        return url, fixture(self.src, url)


@dataclass(frozen=True)
class Options:
    """How each revision's driver runs: ``at_once`` requests in flight, SQLite
    checkpoints by the ``thread`` or ``inline``, callgrind files kept in ``keep``."""
    label: str
    at_once: int
    checkpoints: str
    keep: Path | None


def instructions(src: Path, databases: Databases, action: str, n: int, options: Options) -> int:
    """Instructions of one driver run of ``n`` timed requests, on a fresh fixture."""
    run_dir = Path(tempfile.mkdtemp(dir=databases.workdir))
    url, key = databases.fresh(n, run_dir)
    out = run_dir / "callgrind.out"
    if options.keep is not None:
        out = options.keep / f"{options.label.replace('/', '_')}-{action}-{n}.callgrind"  # REV may be a branch/name
    env = dict(os.environ, PYTHONPATH=str(src), SMMPANEL_DATABASE_URL=url, SMMPANEL_LOG_LEVEL="warning",
               BENCH_CHECKPOINTS=options.checkpoints)
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(PYTHON), "-c",
                             DRIVER, key, action, str(n), str(WARMUP_REQUESTS), str(options.at_once)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{action} ({src}): the driver failed:\n{result.stderr[-2000:]}")
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {out}")


def per_request(src: Path, databases: Databases, action: str, n1: int, n2: int, options: Options) -> float:
    with ThreadPoolExecutor(2) as pool:  # the two runs at once: one per core
        a, b = pool.map(lambda n: instructions(src, databases, action, n, options), (n1, n2))
    return (b - a) / (n2 - n1)


def measure(src: Path, actions: list[str], n1: int, n2: int, database: str, pg_url: str,
            options: Options) -> dict[str, float]:
    label = options.label
    with tempfile.TemporaryDirectory(prefix="smmpanel-instr-") as tmp:
        databases = Databases(database, pg_url, src, Path(tmp))
        figures = {}
        for action in actions:
            figures[action] = per_request(src, databases, action, n1, n2, options)
            print(f"   {label:10s} {action:10s} {figures[action]:>12,.0f} instructions per request", flush=True)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench-instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also count this git revision (e.g. bc9254e)")
    parser.add_argument("--actions", default="balance,status,status100,add",
                        help=f"comma-separated, of {', '.join(ACTIONS)} (default: balance,status,status100,add)")
    parser.add_argument("--requests", type=int, nargs=2, default=(200, 800), metavar=("N1", "N2"),
                        help="timed requests of the two runs (default 200 800)")
    parser.add_argument("--concurrency", type=int, default=1, metavar="C",
                        help="requests in flight at once (default 1); e.g. 32: adds share group commits, as "
                             "under scripts/bench's 64 connections")
    parser.add_argument("--checkpoints", choices=("thread", "inline"), default="thread",
                        help="SQLite: WAL checkpoints by the panel's thread (default, as served) or inline in the "
                             "commit that fills the WAL: steadier counts for add, whose checkpoint thread's pace "
                             "under valgrind moves the WAL's size and so the cost of each page lookup")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the callgrind files in DIR (REV-ACTION-N.callgrind), for callgrind_annotate")
    parser.add_argument("--database", choices=DATABASES, default="sqlite",
                        help="the panel's database (default sqlite); postgresql counts the panel process's side")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1",
                        help=f"PostgreSQL server for --database postgresql (databases {PG_DATABASE_PREFIX}_N1 and "
                             "_N2 are dropped and made anew)")
    args = parser.parse_args()
    try:
        count_all(args, parser)
    except BenchError as exc:
        raise SystemExit(f"scripts/bench-instructions: {exc}") from None


def count_all(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    actions = [a for a in args.actions.split(",") if a]
    if bad := [a for a in actions if a not in ACTIONS]:
        parser.error(f"--actions: unknown {', '.join(bad)}")
    n1, n2 = args.requests
    if not 0 < n1 < n2:
        parser.error("--requests: N1 must be above 0 and below N2")
    if not 0 < args.concurrency <= n1 or n1 % args.concurrency or n2 % args.concurrency:
        parser.error("--concurrency: between 1 and N1, and N1 and N2 multiples of it")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is missing (scripts/bench-instructions installs it)")
    db_name = "SQLite" if args.database == "sqlite" else "PostgreSQL (the panel's process only)"
    print(f"callgrind, {db_name}, in-process; ({n2} - {n1}) requests per action after {WARMUP_REQUESTS} adds, "
          f"{args.concurrency} at once, checkpoints: {args.checkpoints}", flush=True)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        args.keep = args.keep.resolve()
    options = Options("current", args.concurrency, args.checkpoints, args.keep)
    current = measure(ROOT / "src", actions, n1, n2, args.database, args.pg_url, options)
    baseline = None
    if args.baseline:
        if "addkey" in actions:
            print("   (the baseline may not know idempotency keys: its addkey is a plain add)")
        with git_worktree(args.baseline) as (_commit, tree):
            baseline = measure(tree / "src", actions, n1, n2, args.database, args.pg_url,
                               replace(options, label=args.baseline))
    print()
    print(f"| action | {args.baseline + ' | ' if baseline else ''}current |{' change |' if baseline else ''}")
    print(f"|---|{'--:|' if baseline else ''}--:|{'--:|' if baseline else ''}")
    for action in actions:
        if baseline:
            change = current[action] / baseline[action] - 1
            print(f"| {action} | {baseline[action]:,.0f} | {current[action]:,.0f} | {change:+.1%} |")
        else:
            print(f"| {action} | {current[action]:,.0f} |")


if __name__ == "__main__":
    main()
