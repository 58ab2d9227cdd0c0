"""No secret the run creates shows up where it must not: a panel with an
upstream, customers, the website and metrics is driven through its CLI
(``--json``), API, website and worker with debug logs in JSON, and every
output, log, reply and page, and the database file itself, is scanned for
every secret: the upstream's API key (sealed at rest), passwords, session
ids, the metrics token, the panel secret. A customer's API key is shown
once, where it is made (``users add``, ``rotate-key``, the website's
Generate new key), and nowhere else, also while an old key is in its grace."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from conftest import LOOPBACK_UPSTREAMS, free_port, run_cli
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = pytest.mark.e2e


def test_no_secret_in_any_output_log_reply_or_the_database(tmp_path: Path):
    upstream_key = "upstream-" + uuid.uuid4().hex
    password = "pw-" + uuid.uuid4().hex
    metrics_token = "metrics-" + uuid.uuid4().hex
    panel_secret = "panel-secret-" + uuid.uuid4().hex
    sepay_key = "sepay-" + uuid.uuid4().hex
    db_path = tmp_path / "panel.db"
    env = {"SMMPANEL_DATABASE_URL": f"sqlite:///{db_path}", "SMMPANEL_SECRET": panel_secret,
           "SMMPANEL_LOG_FORMAT": "json", "SMMPANEL_LOG_LEVEL": "debug", "SMMPANEL_METRICS_TOKEN": metrics_token,
           "PATH": "/usr/bin:/bin", **LOOPBACK_UPSTREAMS,
           "SMMPANEL_VIETQR_BIN": "970415", "SMMPANEL_VIETQR_ACCOUNT": "0011001932418",
           "SMMPANEL_VIETQR_NAME": "CONG TY SMM", "SMMPANEL_VND_RATE": "0.00004", "SMMPANEL_SEPAY_API_KEY": sepay_key}
    outputs: list[str] = []  # everything that must be clean
    shown_once: list[str] = []  # outputs that show a customer key on purpose

    def cli(*args: str, shows_key: bool = False) -> subprocess.CompletedProcess:
        done = run_cli(env, *args, check=True)
        (shown_once if shows_key else outputs).append(done.stdout)
        outputs.append(done.stderr)
        return done

    sim = create_simulator("standard", key=upstream_key)
    with SimulatorServer(sim) as upstream:
        cli("providers", "add", "up", "--url", upstream.url, "--key", upstream_key, "--json")
        cli("providers", "list", "--json")
        imported = json.loads(cli("providers", "import", "up", "--markup", "10", "--json").stdout)["imported"]
        service = next(i["service"] for i in imported if i["type"] == "Default" and int(i["min"]) <= 100)
        first_key = json.loads(cli("users", "add", "alice", "--balance", "100", "--email", "a@example.com",
                                   "--password", password, "--json", shows_key=True).stdout)["api_key"]
        rotated = cli("users", "rotate-key", "alice", "--grace", "1h", "--json", shows_key=True)
        key = json.loads(rotated.stdout)["api_key"]
        refused = run_cli(env, "users", "rotate-key", "alice", "--grace", "1w", "--json")
        assert refused.returncode == 1
        outputs.extend([refused.stdout, refused.stderr])  # a refusal shows no key either
        cli("users", "list", "--json")

        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "serve", "--port", str(port)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                subprocess.run(["sleep", "0.1"])
            api = base + "/api/v2"
            for params in ({"action": "balance"}, {"action": "services"},
                           {"action": "add", "service": service, "link": "https://x.com/p", "quantity": 100},
                           {"action": "status", "order": 1}, {"action": "nonsense"}):
                outputs.append(httpx.post(api, data={"key": key, **params}).text)
            outputs.append(httpx.post(api, data={"key": first_key, "action": "balance"}).text)  # the old key, in grace
            outputs.append(httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}).text)
            outputs.append(httpx.get(base + "/metrics", headers={"Authorization": "Bearer wrong-token"}).text)

            browser = httpx.Client(base_url=base)
            login = browser.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
            signed_in = browser.post("/login", data={"csrf": csrf, "login": "alice", "password": password})
            assert signed_in.status_code == 303
            session_id = browser.cookies.get("smm_session")
            assert session_id
            for page in ("/", "/orders", "/funds", "/api-docs"):
                outputs.append(browser.get(page).text)
            account = browser.get("/account").text
            outputs.append(account)
            account_csrf = re.search(r'name="csrf" value="([^"]+)"', account).group(1)
            made = browser.post("/account/key", data={"csrf": account_csrf})
            shown_once.append(made.text)  # the website's new key, shown this once
            web_key = re.search(r'id="new-key" class="key" type="text" readonly value="([^"]+)"', made.text).group(1)
            outputs.append(browser.get("/account").text)
            for each, works in ((web_key, True), (key, False), (first_key, False)):  # no grace from the website
                reply = httpx.post(api, data={"key": each, "action": "balance"}).text
                assert ("balance" in reply) is works, reply
                outputs.append(reply)
            wrong = browser.post("/login", data={"csrf": csrf, "login": "alice", "password": password + "x"})
            outputs.append(wrong.text)

            # SePay's notifications: one credited through `payments simulate`, one with a key one character
            # short, one malformed with the right key; the key is in none of the replies, logs or outputs.
            code = json.loads(cli("users", "show", "alice", "--json").stdout)["deposit_code"]
            before = httpx.post(api, data={"key": web_key, "action": "balance"}).json()["balance"]
            simulated = json.loads(cli("payments", "simulate", "--code", code, "--amount", "50000", "--url", base,
                                       "--json").stdout)
            assert simulated["reply"] == {"success": True}
            after = httpx.post(api, data={"key": web_key, "action": "balance"}).json()["balance"]
            assert Decimal(after) - Decimal(before) == 2, "the notification was really authenticated and credited"
            for header, body in ((f"Apikey {sepay_key[:-1]}", b"{}"), (f"Apikey {sepay_key}", b"{not json")):
                refused = httpx.post(base + "/hooks/sepay", content=body, headers={"Authorization": header})
                assert refused.status_code in (400, 401), refused.text
                outputs.append(refused.text)

            worker = subprocess.run([sys.executable, "-m", "smmpanel.cli", "worker", "--once", "--json"],
                                    env={**env}, capture_output=True, text=True, timeout=60)
            outputs.extend([worker.stdout, worker.stderr])
        finally:
            server.terminate()
            server_out, server_err = server.communicate(timeout=20)
        outputs.extend([server_out, server_err])
    cli("orders", "list", "--json")
    cli("audit", "--json")

    assert sim.created_orders, "the worker reached the upstream: its key was really used"
    secrets = {"upstream key": upstream_key, "password": password, "session id": session_id,
               "metrics token": metrics_token, "panel secret": panel_secret, "API key": key,
               "old API key": first_key, "key made on the website": web_key, "SePay key": sepay_key,
               "SePay key, one character short": sepay_key[:-1]}
    everything = "\n".join(outputs)
    assert any('"level": "debug"' in line or '"level":"debug"' in line for line in everything.splitlines()) or \
        "request_id" in everything  # the logs were really captured
    assert everything.count("/hooks/sepay") >= 3  # the webhook's requests were logged, each of them
    leaks = {name for name, secret in secrets.items() if secret in everything}
    assert not leaks, f"secrets found in outputs: {sorted(leaks)}"
    database = b"".join(p.read_bytes() for p in tmp_path.glob("panel.db*"))
    at_rest = {name for name, secret in secrets.items() if secret.encode() in database}
    assert not at_rest, f"secrets stored in the clear: {sorted(at_rest)}"
    assert all(k in "".join(shown_once) for k in (first_key, key, web_key))  # shown where they were made
