"""``smmpanel simulate`` serves a fake upstream an operator can drive with
``smmpanel call`` (and register with ``providers add``)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from conftest import free_port, run_cli

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def running_simulator(tmp_path, *options: str) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """``smmpanel simulate OPTIONS --json`` on a free port: (the CLI's environment, its start line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'panel.db'}"
    env["SMMPANEL_SECRET"] = "simulate-test"
    proc = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "simulate", "--port", str(free_port()),
                             *options, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        yield env, json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_simulated_like3s_answers_in_its_own_dialect(tmp_path):
    with running_simulator(tmp_path, "--profile", "like3s", "--key", "sim-secret-key") as (env, info):
        assert info["url"].startswith("http://127.0.0.1:") and info["profile"] == "like3s"
        # Like3s takes JSON bodies and answers with numbers, in VND.
        reply = run_cli(env, "call", info["url"], "sim-secret-key", "balance", "--encoding", "json", check=True)
        assert json.loads(reply.stdout) == {"balance": 100000, "currency": "VND"}
        refused = run_cli(env, "call", info["url"], "wrong", "balance", "--encoding", "json")
        assert refused.returncode == 1 and json.loads(refused.stdout) == {"error": "API key không hợp lệ"}
        # Registering it detects the JSON encoding with a harmless balance call.
        added = run_cli(env, "providers", "add", "l3s", "--url", info["url"], "--key", "sim-secret-key", "--json",
                        check=True)
        provider = json.loads(added.stdout)
        assert (provider["encoding"], provider["currency"], provider["balance"]) == ("json", "VND", "100000")
        assert "sim-secret-key" not in added.stdout


def test_an_operator_drives_a_running_simulator_from_the_cli(tmp_path):
    """issue 9: `simulate set`, `simulate mode`, `simulate show` and --auto-progress, without code."""
    with running_simulator(tmp_path, "--profile", "68smm", "--auto-progress", "1s") as (env, info):
        base, key = info["url"].removesuffix("/api/v2"), info["key"]
        assert info["control"] == f"{base}/control" and info["auto_progress_s"] == 1
        placed = run_cli(env, "call", info["url"], key, "add", "service=1", "link=https://x.com/a", "quantity=1000",
                         check=True)
        order = str(json.loads(placed.stdout)["order"])
        set_ = run_cli(env, "simulate", "set", order, "--status", "Partial", "--remains", "250", "--url", base,
                       check=True)
        assert f"order {order}: Partial, remains 250 of 1000" in set_.stdout and "refunded 0.225" in set_.stdout
        status = json.loads(run_cli(env, "call", info["url"], key, "status", f"order={order}", check=True).stdout)
        assert (status["status"], status["remains"]) == ("Partial", "250")
        # A hostile mode from the shell, visible in `show`, and in the replies.
        run_cli(env, "simulate", "mode", "huge_remains", "--orders", order, "--url", base, check=True)
        shown = run_cli(env, "simulate", "show", "--url", base, check=True).stdout
        assert "huge_remains" in shown and "auto-progress every 1s" in shown
        status = json.loads(run_cli(env, "call", info["url"], key, "status", f"order={order}", check=True).stdout)
        assert status["remains"] == "1e99999999"
        off = run_cli(env, "simulate", "reset", "--url", base, "--json", check=True)
        assert json.loads(off.stdout)["modes"] == []
        # Auto-progress: a new order moves along by itself.
        second = json.loads(run_cli(env, "call", info["url"], key, "add", "service=1", "link=https://x.com/b",
                                    "quantity=100", check=True).stdout)["order"]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            reply = json.loads(run_cli(env, "call", info["url"], key, "status", f"order={second}").stdout)
            if reply["status"] == "Completed":
                break
            time.sleep(0.5)
        assert reply["status"] == "Completed" and reply["remains"] == "0"
        # A numeric code goes out as a JSON number, as a panel of codes sends it.
        run_cli(env, "simulate", "set", str(second), "--status", "2", "--remains", "40", "--url", base, check=True)
        reply = json.loads(run_cli(env, "call", info["url"], key, "status", f"order={second}", check=True).stdout)
        assert (reply["status"], reply["remains"]) == (2, "40")
        unknown = run_cli(env, "simulate", "set", "1", "--status", "Partial", "--url", base)
        assert unknown.returncode == 1 and "no order 1" in unknown.stderr


def test_providers_import_and_sync_list_what_a_hostile_catalog_spoiled(tmp_path):
    """issue 7, defect 6: bad entries skipped with their reason, the rest imported, exit code 3, no traceback."""
    with running_simulator(tmp_path, "--profile", "68smm", "--mode", "catalog_negative_rate", "--mode",
                           "catalog_absurd_numbers") as (env, info):
        run_cli(env, "providers", "add", "up", "--url", info["url"], "--key", info["key"], check=True)
        done = run_cli(env, "providers", "import", "up", "--markup", "10", "--json")
        assert done.returncode == 3 and "Traceback" not in done.stderr
        report = json.loads(done.stdout)
        assert [i["provider_service"] for i in report["imported"]] == ["1", "2", "3"]
        assert [s["provider_service"] for s in report["skipped"]] == ["9002", "9003", "9004", "9001"]
        assert report["skipped"][3]["reason"] == "negative rate -1"
        text = run_cli(env, "providers", "import", "up", "--markup", "10")
        assert text.returncode == 3 and "Traceback" not in text.stderr
        assert "skipped up:9002: protocol error: rate 1E+99999999 is past the bound" in text.stdout
        assert text.stdout.strip().endswith("3 imported, 4 skipped")
        # Sync lists what it could not read; the negative rate is no service of ours, so it is not its concern.
        synced = run_cli(env, "providers", "sync", "up", "--json")
        assert synced.returncode == 3
        assert [s["provider_service"] for s in json.loads(synced.stdout)["skipped"]] == ["9002", "9003", "9004"]
        run_cli(env, "simulate", "reset", "--url", info["url"], check=True)
        clean = run_cli(env, "providers", "sync", "up", "--json", check=True)
        assert json.loads(clean.stdout)["skipped"] == [] and len(json.loads(clean.stdout)["updated"]) == 3


def test_the_refund_path_driven_from_the_shell(tmp_path, server_factory):
    """issue 9: an operator watches a Partial and its refund with the CLI alone (README, "A simulated upstream")."""
    with running_simulator(tmp_path, "--profile", "68smm") as (env, info):
        panel = server_factory({k: env[k] for k in ("SMMPANEL_DATABASE_URL", "SMMPANEL_SECRET")})
        run_cli(env, "providers", "add", "sim", "--url", info["url"], "--key", info["key"], check=True)
        imported = json.loads(run_cli(env, "providers", "import", "sim", "--markup", "20", "--json",
                                      check=True).stdout)["imported"]
        service = next(i["service"] for i in imported if i["provider_service"] == "1")  # 0.90 upstream, 1.08 ours
        key = json.loads(run_cli(env, "users", "add", "alice", "--balance", "50", "--json",
                                 check=True).stdout)["api_key"]
        order = json.loads(run_cli(env, "call", panel.url, key, "add", f"service={service}", "link=https://x.com/a",
                                   "quantity=1000", check=True).stdout)["order"]
        worker = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "worker", "--poll-interval", "1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def shown() -> dict[str, Any]:
                return json.loads(run_cli(env, "orders", "show", str(order), "--json", check=True).stdout)

            deadline = time.monotonic() + 30
            while not shown().get("provider_order") and time.monotonic() < deadline:
                time.sleep(0.5)
            upstream_order = shown()["provider_order"]
            run_cli(env, "simulate", "set", str(upstream_order), "--status", "Partial", "--remains", "250", "--url",
                    info["url"], check=True)
            while shown()["status"] != "Partial" and time.monotonic() < deadline + 30:
                time.sleep(0.5)
            reply = json.loads(run_cli(env, "call", panel.url, key, "status", f"order={order}", check=True).stdout)
            assert (reply["status"], reply["remains"]) == ("Partial", "250")
            balance = json.loads(run_cli(env, "call", panel.url, key, "balance", check=True).stdout)
            assert balance["balance"] == "49.19000"  # 50 - 1.08 + 1.08 x 250/1000
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert json.loads(run_cli(env, "audit", "--json", check=True).stdout)["ok"] is True
