"""The README's run command: ``smmpanel demo`` serves a working panel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from conftest import free_port

pytestmark = pytest.mark.e2e


def test_demo_serves_services_balance_add_status(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smmpanel.cli", "demo", "--port", str(port), "--db", str(tmp_path / "demo.db"), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = []
        while not lines or lines[-1] not in ("}\n", ""):  # "" is EOF: the command died
            lines.append(proc.stdout.readline())
        assert lines[-1] == "}\n", f"demo exited early: {''.join(lines)!r}"
        info = json.loads("".join(lines))
        url, key = info["api_url"], info["api_key"]
        deadline = time.monotonic() + 20
        while True:
            try:
                services = httpx.post(url, data={"key": key, "action": "services"}).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "demo panel did not come up"
                time.sleep(0.2)
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
        proc.terminate()
        proc.wait(timeout=10)
