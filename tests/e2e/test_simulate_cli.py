"""``smmpanel simulate`` serves a fake upstream an operator can drive with
``smmpanel call`` (and register with ``providers add``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
