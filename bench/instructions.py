#!/usr/bin/env python3
"""Instructions per API request, counted by callgrind (run it with ``scripts/bench-instructions``).

Why: on this shared machine req/s moves by 10-20% between runs, so a 5% change
cannot be seen in ``scripts/bench``. The number of instructions one request
executes does not depend on the machine's mood: it is the same from run to run
to within a fraction of a percent, and it tells an older revision from the
current one in the same terms.

How: for each revision (the current tree, and ``--baseline REV`` checked out in a
temporary git worktree) a fresh SQLite database is made by that revision's own
CLI (``migrate``, ``users add``, ``services add``). The panel's ASGI app is then
driven in-process (its lifespan, then requests as uvicorn would hand them over,
no socket) under ``valgrind --tool=callgrind`` twice, with N1 and N2 timed
requests after the same warm-up; (instructions(N2) - instructions(N1)) /
(N2 - N1) is the cost of one request, start-up and warm-up cancelled out. This
counts the panel's Python and the SQLite library, not uvicorn, the kernel or
the network (constant between revisions).

Prints one table: action, instructions per request for each revision, change.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, BenchError, cli, git_worktree  # noqa: E402  (bench/ is scripts, not a package)

PYTHON = Path(sys.executable)
ACTIONS = ("balance", "status", "status100", "add", "addkey")
WARMUP_REQUESTS = 300  # also places the orders the status actions read (ids 1..300)
SERVICE_RATE = "1"

# The driver, run under valgrind with the revision's src on PYTHONPATH: it
# serves the app's lifespan and sends `n` requests of one kind in-process.
DRIVER = r'''
import asyncio, os, sys
from smmpanel.app import create_app
key, action, n, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
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
    for _ in range(n):
        await request(None if action == "addkey" else QUERY[action])
    if b"error" in replies[-1]:
        raise SystemExit(f"{action}: {replies[-1][:200]!r}")
    await events.put({"type": "lifespan.shutdown"})
    await lifespan

asyncio.run(main())
'''


def fixture(src: Path, workdir: Path) -> str:
    """A fresh SQLite database made by the revision's own CLI (``workdir/panel.db``); its API key."""
    url = f"sqlite:///{workdir / 'panel.db'}"
    env = {**os.environ, "PYTHONPATH": str(src), "SMMPANEL_DATABASE_URL": url}
    cli(env, "migrate")
    user = cli(env, "users", "add", "bench", "--balance", "1000000000")
    cli(env, "services", "add", "--name", "Bench Likes", "--category", "Bench", "--type", "Default",
        "--rate", SERVICE_RATE, "--min", "10", "--max", "1000000")
    return user["api_key"]


def instructions(src: Path, key: str, action: str, n: int, workdir: Path) -> int:
    """Instructions of one driver run of ``n`` timed requests, on a copy of the fixture."""
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    shutil.copy(workdir / "panel.db", run_dir / "panel.db")
    out = run_dir / "callgrind.out"
    env = dict(os.environ, PYTHONPATH=str(src), SMMPANEL_DATABASE_URL=f"sqlite:///{run_dir / 'panel.db'}",
               SMMPANEL_LOG_LEVEL="warning")
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(PYTHON), "-c",
                             DRIVER, key, action, str(n), str(WARMUP_REQUESTS)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{action} ({src}): the driver failed:\n{result.stderr[-2000:]}")
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {out}")


def per_request(src: Path, key: str, action: str, n1: int, n2: int, workdir: Path) -> float:
    with ThreadPoolExecutor(2) as pool:  # the two runs at once: one per core
        a, b = pool.map(lambda n: instructions(src, key, action, n, workdir), (n1, n2))
    return (b - a) / (n2 - n1)


def measure(label: str, src: Path, actions: list[str], n1: int, n2: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="smmpanel-instr-") as tmp:
        workdir = Path(tmp)
        key = fixture(src, workdir)
        figures = {}
        for action in actions:
            figures[action] = per_request(src, key, action, n1, n2, workdir)
            print(f"   {label:10s} {action:10s} {figures[action]:>12,.0f} instructions per request", flush=True)
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench-instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also count this git revision (e.g. bc9254e)")
    parser.add_argument("--actions", default="balance,status,status100,add",
                        help=f"comma-separated, of {', '.join(ACTIONS)} (default: balance,status,status100,add)")
    parser.add_argument("--requests", type=int, nargs=2, default=(200, 800), metavar=("N1", "N2"),
                        help="timed requests of the two runs (default 200 800)")
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
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is missing (scripts/bench-instructions installs it)")
    print(f"callgrind, SQLite, in-process; ({n2} - {n1}) requests per action after {WARMUP_REQUESTS} adds", flush=True)
    current = measure("current", ROOT / "src", actions, n1, n2)
    baseline = None
    if args.baseline:
        if "addkey" in actions:
            print("   (the baseline may not know idempotency keys: its addkey is a plain add)")
        with git_worktree(args.baseline) as (_commit, tree):
            baseline = measure(args.baseline, tree / "src", actions, n1, n2)
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
