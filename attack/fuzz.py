#!/usr/bin/env python3
"""Fuzz a real panel (run it with ``scripts/fuzz``).

1. A fresh database (SQLite file, or a new PostgreSQL database with
   ``--engine postgresql``), a customer with money, a second customer,
   services of several types, and orders in several states, all through the
   panel's own use cases; then ``smmpanel serve`` on 127.0.0.1 with JSON logs
   and metrics on.
2. schemathesis against the served ``/api/v2/openapi.json`` (the customers'
   keys put into the description, so requests get past the key check), with
   its checks for server errors and for replies that break the description.
3. Hypothesis-generated requests the description does not foresee: every
   HTTP method, every body encoding (form, JSON, multipart, query string,
   bytes that are none of them), wrong types, huge and negative numbers,
   unicode and control characters, missing and repeated fields, every action.
4. Then: how many requests the server counted (its own ``/metrics``), how
   many HTTP 500s, how many unhandled exceptions in its log, ``smmpanel
   audit``, and whether each customer's balance is exactly what its orders
   explain (opening deposit - charges + refunds).

Prints the figures and exits 1 if any is wrong. Bounded: every phase has a
request count and the whole run a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from common import drop_pg_database, free_port, scratch_pg_database, stop
from smmpanel.api.actions import ACTIONS
from smmpanel.services import accounts, catalog, orders
from smmpanel.services.panel import Panel
from smmpanel.services.principal import Customer
from smmpanel.store.db import open_database
from smmpanel.store.migrate import upgrade

BIN = Path(sys.executable).parent
METRICS_TOKEN = "fuzz-metrics-" + uuid.uuid4().hex
OPENING_BALANCE = Decimal("100000")
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 30
RUN_DEADLINE_S = 3600
FAULT_LOG_PATTERNS = ("unexpected fault", "Traceback", "Exception in ASGI application")


# ---------------------------------------------------------------- the panel


async def build_world(url: str) -> dict[str, Any]:
    db = await open_database(url, pg_pool_max=2)
    try:
        panel = Panel(db=db)
        _, key = await accounts.add_user(panel, "fuzz", OPENING_BALANCE, actor="fuzz")
        _, other = await accounts.add_user(panel, "other", OPENING_BALANCE, actor="fuzz")
        services = [
            await catalog.add_service(panel, name="Likes", category="FB", type="Default", rate="0.27819", min=10,
                                      max=100000, refill=True, cancel=True, dripfeed=True),
            await catalog.add_service(panel, name="Comments", category="FB", type="Custom Comments", rate="8",
                                      min=1, max=1000, cancel=True),
            await catalog.add_service(panel, name="Package", category="FB", type="Package", rate="3", min=1, max=1),
            await catalog.add_service(panel, name="Subs", category="IG", type="Subscriptions", rate="1.5", min=10,
                                      max=5000),
            await catalog.add_service(panel, name="Guarded", category="TT", type="Default", rate="2", min=10,
                                      max=1000, deny_duplicate_link=True),
        ]
        customer = Customer.from_api_key(key)
        placed = [await orders.place_order(panel, customer, {"service": services[0], "link": f"https://x.com/{n}",
                                                             "quantity": 1000}) for n in range(6)]
        await orders.operator_set_status(panel, placed[0], "Completed", actor="fuzz")
        await orders.operator_set_status(panel, placed[1], "Partial", remains=300, actor="fuzz")
        await orders.operator_set_status(panel, placed[2], "In progress", actor="fuzz")
        return {"key": key, "other": other, "services": services, "orders": placed}
    finally:
        await db.close()


class Server:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [str(BIN / "smmpanel"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"),
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited at start:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server did not become ready in time")

    def metrics(self) -> dict[tuple[str, str], float]:
        text = httpx.get(self.base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        counts: dict[tuple[str, str], float] = {}
        for action, outcome, value in re.findall(
                r'^smmpanel_api_requests_total\{action="([^"]*)",outcome="([^"]*)"\} (\S+)$', text, re.M):
            counts[(action, outcome)] = float(value)
        return counts

    def stop(self) -> None:
        stop(self.proc)


# -------------------------------------------------------------- schemathesis


def run_schemathesis(server: Server, world: dict[str, Any], workdir: Path, examples: int, seed_value: int) -> int:
    """Returns schemathesis's exit code (0: every check passed)."""
    document = httpx.get(server.base + "/api/v2/openapi.json").json()
    request = document["components"]["schemas"]["Request"]
    request["properties"]["key"] = {"type": "string", "enum": [world["key"], world["other"], "not-a-key"]}
    path = workdir / "openapi.json"
    path.write_text(json.dumps(document))
    command = [
        str(BIN / "schemathesis"), "run", str(path), "--url", server.base,
        "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--max-examples", str(examples), "--seed", str(seed_value), "--workers", "2",
        "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
        "--request-timeout", str(REQUEST_TIMEOUT_S), "--no-color", "--suppress-health-check", "all",
    ]
    print("$", " ".join(command[:3]), "...", flush=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_DEADLINE_S)
    tail = done.stdout[-4000:]
    print(tail)
    (workdir / "schemathesis.log").write_text(done.stdout + done.stderr)
    return done.returncode


# --------------------------------------------------------------- hypothesis

METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
ENCODINGS = ["form", "json", "multipart", "query", "raw", "json-not-object", "wrong-type"]
FIELDS = ["service", "link", "quantity", "runs", "interval", "comments", "usernames", "username", "hashtags",
          "hashtag", "media", "keywords", "answer_number", "groups", "min", "max", "posts", "old_posts", "delay",
          "expiry", "links", "order", "orders", "refill", "refills", "minutes", "list", "idempotency_key"]

huge = st.sampled_from([10**6, 10**9, 2**31, 2**63, 10**19, 10**30, -(2**63) - 1, -1, 0])
weird_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),  # control characters
    st.sampled_from(["", " ", "1e309", "NaN", "-0", " 12 ", "0x10", "1,2,3", "1,,2", "١٢٣", "１２", "1.5", "12abc",
                     "true", "null", "[]", "{}", "\u202e", "\ud7ff", "https://x.com/a", "@handle", "a" * 5000]),
)
scalar = st.one_of(weird_text, st.integers(-10**6, 10**6), huge, st.booleans(), st.none(),
                   st.floats(allow_nan=True, allow_infinity=True))
value = st.one_of(scalar, st.lists(scalar, max_size=120), st.dictionaries(st.text(max_size=5), scalar, max_size=3))


@st.composite
def fuzz_request(draw: Any, world: dict[str, Any]) -> tuple[str, str, list[tuple[str, Any]]]:
    method = draw(st.sampled_from(METHODS) if draw(st.integers(0, 4)) == 0 else st.sampled_from(["POST", "GET"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    pairs: list[tuple[str, Any]] = []
    key = draw(st.sampled_from([world["key"], world["key"], world["other"], "bad", None]) | scalar)
    if key is not None:
        pairs.append(("key", key))
    action = draw(st.sampled_from(sorted(ACTIONS)) | scalar)
    if action is not None:
        pairs.append(("action", action))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=6)):  # repeats allowed: duplicated fields
        pairs.append((name, draw(st.sampled_from(world["services"]) if name == "service" and draw(st.booleans())
                                 else st.sampled_from(world["orders"]) if name == "order" and draw(st.booleans())
                                 else value)))
    return method, encoding, pairs


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def send(client: httpx.Client, method: str, encoding: str, pairs: list[tuple[str, Any]]) -> httpx.Response:
    flat = [(k, _text(v)) for k, v in pairs]
    if encoding == "query":
        return client.request(method, "/api/v2", params=flat)
    if encoding == "form":  # built by hand: repeated fields stay repeated
        return client.request(method, "/api/v2", content=urlencode(flat),
                              headers={"content-type": "application/x-www-form-urlencoded"})
    if encoding == "multipart":
        return client.request(method, "/api/v2", files=[(k, (None, v.encode("utf-8", "surrogatepass")))
                                                        for k, v in flat])
    if encoding == "json":
        body = json.dumps(dict((k, v) for k, v in pairs), default=str, allow_nan=True)
        return client.request(method, "/api/v2", content=body, headers={"content-type": "application/json"})
    if encoding == "json-not-object":
        return client.request(method, "/api/v2", content=json.dumps([v for _, v in pairs], default=str),
                              headers={"content-type": "application/json"})
    if encoding == "wrong-type":
        return client.request(method, "/api/v2", content=json.dumps(dict(flat)),
                              headers={"content-type": "text/xml; charset=ebcdic"})
    raw = os.urandom(len(flat) * 7 + 1)
    return client.request(method, "/api/v2", content=raw, headers={"content-type": "application/x-www-form-urlencoded"})


def run_hypothesis(server: Server, world: dict[str, Any], count: int, seed_value: int) -> dict[str, int]:
    seen = {"requests": 0, "500": 0, "transport_errors": 0}
    statuses: dict[int, int] = {}
    client = httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S)

    @settings(max_examples=count, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(fuzz_request(world))
    def one(request: tuple[str, str, list[tuple[str, Any]]]) -> None:
        method, encoding, pairs = request
        try:
            reply = send(client, method, encoding, pairs)
        except (httpx.TransportError, UnicodeEncodeError) as exc:
            if isinstance(exc, httpx.TransportError):
                seen["transport_errors"] += 1
            return
        seen["requests"] += 1
        statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
        if reply.status_code >= 500:
            seen["500"] += 1
            print("HTTP", reply.status_code, method, encoding, repr(pairs)[:300], flush=True)
        elif method != "HEAD" and reply.headers.get("content-type", "").startswith("application/json"):
            body = reply.json()
            if isinstance(body, dict) and "error" in body:
                assert isinstance(body["error"], str) and body["error"], body

    seed(seed_value)(one)()
    client.close()
    print("hypothesis replies by HTTP status:", dict(sorted(statuses.items())), flush=True)
    return seen


# ------------------------------------------------------------------ checks


async def balances_explained(url: str) -> list[str]:
    """Each customer's balance, recomputed from its orders alone."""
    db = await open_database(url, pg_pool_max=1)
    try:
        rows = await db.fetch(
            "SELECT u.name, u.balance_micros, "
            "(SELECT COALESCE(SUM(o.charge_micros), 0) FROM orders o WHERE o.user_id = u.id) AS charged, "
            "(SELECT COALESCE(SUM(l.amount_micros), 0) FROM ledger l WHERE l.user_id = u.id AND l.kind = 'refund') "
            "AS refunded FROM users u ORDER BY u.id")
    finally:
        await db.close()
    opening = int(OPENING_BALANCE * 1_000_000)
    wrong = []
    for row in rows:
        expected = opening - int(row["charged"]) + int(row["refunded"])
        if int(row["balance_micros"]) != expected:
            wrong.append(f"{row['name']}: balance {row['balance_micros']} but orders explain {expected}")
    return wrong


def fault_lines(log_path: Path) -> list[str]:
    return [line for line in log_path.read_text(errors="replace").splitlines()
            if any(pattern in line for pattern in FAULT_LOG_PATTERNS)]


def bare_lines(log_path: Path) -> list[str]:
    """Log lines that are no JSON object (the server logs with SMMPANEL_LOG_FORMAT=json)."""
    bare = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            if isinstance(json.loads(line), dict):
                continue
        except ValueError:
            pass
        bare.append(line)
    return bare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--dialect", choices=["standard", "like3s"], default="standard")
    parser.add_argument("--schemathesis-examples", type=int, default=2500, help="per operation (POST and GET)")
    parser.add_argument("--hypothesis-requests", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pg-admin-url", default=os.environ.get("SMMPANEL_FUZZ_PG_URL", DEFAULT_PG_ADMIN_URL))
    parser.add_argument("--min-requests", type=int, default=10_000, help="fail if fewer requests were made")
    args = parser.parse_args()
    seed_value = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"fuzz: engine {args.engine}, dialect {args.dialect}, seed {seed_value}", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="smmpanel-fuzz-"))
    pg_name = None
    if args.engine == "sqlite":
        url = f"sqlite:///{workdir / 'panel.db'}"
    else:
        pg_name, url = scratch_pg_database(args.pg_admin_url, "smmpanel_fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update({"SMMPANEL_DATABASE_URL": url, "SMMPANEL_DIALECT": args.dialect, "SMMPANEL_LOG_FORMAT": "json",
                "SMMPANEL_LOG_LEVEL": "warning", "SMMPANEL_METRICS_TOKEN": METRICS_TOKEN,
                "SMMPANEL_SECRET": "fuzz", "SMMPANEL_RATE_LIMIT": "0"})
    server = None
    try:
        upgrade(url)
        world = asyncio.run(build_world(url))
        server = Server(env, workdir / "server.log")
        st_code = run_schemathesis(server, world, workdir, args.schemathesis_examples, seed_value)
        after_st = server.metrics()
        hyp = run_hypothesis(server, world, args.hypothesis_requests, seed_value)
        counts = server.metrics()
        server.stop()
        audit = subprocess.run([str(BIN / "smmpanel"), "audit", "--json"], env=env, capture_output=True, text=True)
        unexplained = asyncio.run(balances_explained(url))
    finally:
        if server is not None:
            server.stop()
        if pg_name is not None:
            drop_pg_database(args.pg_admin_url, pg_name)

    total = int(sum(counts.values()))
    via_st = int(sum(after_st.values()))
    faults = int(sum(v for (_, outcome), v in counts.items() if outcome == "fault"))
    logged = fault_lines(workdir / "server.log")
    bare = bare_lines(workdir / "server.log")
    audit_ok = audit.returncode == 0 and json.loads(audit.stdout).get("ok") is True
    rows = [
        ("requests (server's count)", total),
        ("  by schemathesis", via_st),
        ("  by hypothesis", total - via_st),
        ("HTTP 500 (server's count)", faults),
        ("HTTP 5xx seen by hypothesis", hyp["500"]),
        ("unhandled exceptions in the log", len(logged)),
        ("log lines that are not JSON", len(bare)),
        ("schemathesis checks", "passed" if st_code == 0 else f"FAILED (exit {st_code})"),
        ("smmpanel audit", "clean" if audit_ok else "BROKEN"),
        ("balances explained by orders", "yes" if not unexplained else "NO"),
    ]
    print()
    print(f"fuzz results ({args.engine}, {args.dialect}, seed {seed_value})")
    for name, figure in rows:
        print(f"  {name:<34} {figure}")
    for line in logged[:5] + bare[:5] + unexplained[:5]:
        print("   ", line[:300])
    if not audit_ok:
        print(audit.stdout[-2000:])
    ok = (faults == 0 and hyp["500"] == 0 and not logged and not bare and st_code == 0 and audit_ok and not unexplained
          and total >= args.min_requests)
    if total < args.min_requests:
        print(f"  fewer requests than --min-requests {args.min_requests}")
    print("  verdict:", "PASS" if ok else "FAIL", f"(logs and reports in {workdir})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
