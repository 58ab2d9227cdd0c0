"""The README's run command: ``smmpanel demo`` serves a working panel, and
never harms a panel or data already there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from conftest import free_port

pytestmark = pytest.mark.e2e


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}


def start_demo(*args: str, cwd=None) -> tuple[subprocess.Popen, dict]:
    """``smmpanel demo ARGS --json``, serving; returns the process and its JSON once its panel answers."""
    proc = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "demo", *args, "--json"], env=_env(), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or lines[-1] not in ("}\n", ""):  # "" is EOF: the command died
        lines.append(proc.stdout.readline())
    if lines[-1] != "}\n":
        proc.kill()
        raise AssertionError(f"demo exited early: {''.join(lines)!r} {proc.stderr.read()!r}")
    info = json.loads("".join(lines))
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(info["api_url"], data={"key": info["api_key"], "action": "balance"}).raise_for_status()
            return proc, info
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "demo panel did not come up"
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> str:
    """Stop a demo; returns what it said on stderr."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_demo_serves_services_balance_add_status(tmp_path):
    port = free_port()
    proc, info = start_demo("--port", str(port), "--db", str(tmp_path / "demo.db"))
    try:
        url, key = info["api_url"], info["api_key"]
        services = httpx.post(url, data={"key": key, "action": "services"}).json()
        # A realistic catalog: several categories, every order type of the spec.
        assert len({s["category"] for s in services}) >= 3
        assert len({s["type"] for s in services}) == 16
        assert httpx.post(url, data={"key": key, "action": "balance"}).json() == {"balance": "100.00000",
                                                                                 "currency": "USD"}
        likes = next(s for s in services if s["type"] == "Default")
        order = httpx.post(url, data={"key": key, "action": "add", "service": likes["service"],
                                      "link": "https://facebook.com/post/1", "quantity": likes["min"]}).json()["order"]
        status = httpx.get(url, params={"key": key, "action": "status", "order": order}).json()
        assert status["status"] == "Pending" and status["remains"] == likes["min"]
        # The printed username and password sign in on the website.
        with httpx.Client(base_url=info["site_url"]) as browser:
            form = browser.get("/login").text
            csrf = form.split('name="csrf" value="')[1].split('"')[0]
            signed_in = browser.post("/login", data={"csrf": csrf, "login": info["username"],
                                                     "password": info["password"]})
            assert signed_in.status_code == 303
            assert browser.get("/").status_code == 200
    finally:
        stop(proc)


def test_a_second_demo_leaves_the_running_one_alone_and_takes_a_free_port(tmp_path):
    port, db = free_port(), tmp_path / "demo.db"
    first, info = start_demo("--port", str(port), "--db", str(db))
    try:
        url, key = info["api_url"], info["api_key"]
        order = httpx.post(url, data={"key": key, "action": "add", "service": 1, "link": "https://facebook.com/p/1",
                                      "quantity": 50}).json()["order"]
        second, other = start_demo("--port", str(port), "--db", str(db))
        try:
            assert other["database"] == f"sqlite:///{tmp_path / 'demo-2.db'}"
            assert other["api_url"] != url
            assert httpx.post(other["api_url"], data={"key": other["api_key"], "action": "balance"}).json()[
                "balance"] == "100.00000"
        finally:
            said = stop(second)
        assert f"{db} is in use by a running panel (left alone): this demo uses {tmp_path / 'demo-2.db'}" in said
        assert f"port {port} is busy" in said
        # the first demo still serves its own data, from its own file
        assert db.exists()
        status = httpx.post(url, data={"key": key, "action": "status", "order": order}).json()
        assert status["status"] == "Pending"
        # and --fresh is refused while it runs
        refused = subprocess.run([sys.executable, "-m", "smmpanel.cli", "demo", "--db", str(db), "--fresh",
                                  "--no-serve"], env=_env(), capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "in use by a running panel" in refused.stderr
    finally:
        stop(first)


def test_an_existing_demo_database_is_kept_unless_fresh_is_asked(tmp_path):
    db = tmp_path / "demo.db"

    def demo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "smmpanel.cli", "demo", "--db", str(db), "--no-serve", *args],
                              env=_env(), capture_output=True, text=True, timeout=60)

    first = demo("--json")
    before = db.read_bytes()
    again = demo()
    assert again.returncode == 0
    assert f"{db} exists and is kept (--fresh recreates it): this demo uses {tmp_path / 'demo-2.db'}" in again.stderr
    assert db.read_bytes() == before
    fresh = demo("--fresh", "--json")
    assert fresh.returncode == 0 and json.loads(fresh.stdout)["api_key"] != json.loads(first.stdout)["api_key"]
    assert json.loads(fresh.stdout)["database"] == f"sqlite:///{db}"


def test_the_demo_prints_the_environment_line_that_finds_its_database(tmp_path):
    db = tmp_path / "demo.db"
    made = subprocess.run([sys.executable, "-m", "smmpanel.cli", "demo", "--db", str(db), "--no-serve"],
                          env=_env(), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    # The demo customer's username and password are printed next to the API key, for the website.
    customer = next(l for l in made.stdout.splitlines() if l.startswith("demo customer:"))
    assert re.fullmatch(r"demo customer: username demo, password demo-password, API key: [A-Za-z0-9_-]{20,}",
                        customer), customer
    line = next(l for l in made.stdout.splitlines() if "export SMMPANEL_DATABASE_URL=" in l)
    assigned = line.split("export ", 1)[1]
    assert assigned == f"SMMPANEL_DATABASE_URL=sqlite:///{db}"
    name, value = assigned.split("=", 1)
    users = subprocess.run([sys.executable, "-m", "smmpanel.cli", "users", "list"], env=_env() | {name: value},
                           capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "demo" in users.stdout and "note:" not in users.stderr
    # without it, the CLI says it made a new database, and where
    bare = subprocess.run([sys.executable, "-m", "smmpanel.cli", "orders", "list"], env=_env(),
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bare.stdout.strip() == "no orders"
    assert f"note: created a new, empty panel database at sqlite:///{tmp_path / 'smmpanel.db'}" in bare.stderr
