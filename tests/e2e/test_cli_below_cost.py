"""``services set`` and ``users rate`` below the upstream cost: done, with a
warning (on standard error; in the JSON document under ``warning``)."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from conftest import run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path):
    db = tmp_path / "panel.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    env.update(SMMPANEL_DATABASE_URL=f"sqlite:///{db}", SMMPANEL_SECRET="e2e secret")
    run_cli(env, "services", "add", "--name", "Resold likes", "--category", "FB", "--type", "Default",
            "--rate", "1.2", "--min", "10", "--max", "1000", check=True)
    run_cli(env, "users", "add", "alice", check=True)
    with sqlite3.connect(db) as con:  # the upstream cost an import records
        con.execute("UPDATE services SET cost_micros = 1000000 WHERE id = 1")
    return env


def test_services_set_below_cost_warns_and_json_carries_it(env):
    above = run_cli(env, "services", "set", "1", "rate=1.1", check=True)
    assert "warning" not in above.stderr
    below = run_cli(env, "services", "set", "1", "rate=0.9", check=True)
    assert "warning: rate 0.9 is below the upstream cost 1: every order loses money" in below.stderr
    as_json = json.loads(run_cli(env, "services", "set", "1", "rate=0.8", "--json", check=True).stdout)
    assert as_json["rate"] == "0.8" and "below the upstream cost 1" in as_json["warning"]
    assert json.loads(run_cli(env, "services", "set", "1", "rate=1.5", "--json", check=True).stdout)["warning"] is None
    # Another field on a service already under cost: no warning about a rate nobody changed.
    assert "warning" not in run_cli(env, "services", "set", "1", "rate=0.7", check=True).stdout
    assert "warning" not in run_cli(env, "services", "set", "1", "min=20", check=True).stderr


def test_users_rate_below_cost_warns_and_json_carries_it(env):
    below = run_cli(env, "users", "rate", "alice", "1", "0.5", check=True)
    assert "warning: rate 0.5 is below the upstream cost 1" in below.stderr
    as_json = json.loads(run_cli(env, "users", "rate", "alice", "1", "0.5", "--json", check=True).stdout)
    assert "below the upstream cost" in as_json["warning"]
    assert json.loads(run_cli(env, "users", "rate", "alice", "1", "2", "--json", check=True).stdout)["warning"] is None
    cleared = json.loads(run_cli(env, "users", "rate", "alice", "1", "--clear", "--json", check=True).stdout)
    assert cleared["warning"] is None
