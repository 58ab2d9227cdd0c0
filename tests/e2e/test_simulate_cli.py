"""``smmpanel simulate`` serves a fake upstream an operator can drive with
``smmpanel call`` (and register with ``providers add``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import free_port, run_cli

pytestmark = pytest.mark.e2e


def test_simulated_like3s_answers_in_its_own_dialect(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'panel.db'}"
    env["SMMPANEL_SECRET"] = "simulate-test"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "simulate", "--profile", "like3s", "--port",
                             str(port), "--key", "sim-secret-key", "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{port}/api/v2" and info["profile"] == "like3s"
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
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_an_operator_drives_a_running_simulator_from_the_cli(tmp_path):
    """issue 9: `simulate set`, `simulate mode`, `simulate show` and --auto-progress, without code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env["SMMPANEL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'panel.db'}"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "simulate", "--profile", "68smm", "--port",
                             str(port), "--auto-progress", "1s", "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        base, key = f"http://127.0.0.1:{port}", info["key"]
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
        unknown = run_cli(env, "simulate", "set", "1", "--status", "Partial", "--url", base)
        assert unknown.returncode == 1 and "no order 1" in unknown.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
