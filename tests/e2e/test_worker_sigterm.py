"""``smmpanel worker`` (a real process) against a slow upstream: SIGTERM
ends it within the running call's deadline; the call under way is recorded
and nothing more is sent (issue 7, defect 1, the worker side)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from conftest import LOOPBACK_UPSTREAMS
from smmpanel.client.limits import TOTAL_DEADLINE_FACTOR
from smmpanel.services import accounts, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

TIMEOUT_S = 3
SLOW_ADD_S = 1.5  # within the timeout: a slow but good reply
SECRET = "worker-sigterm-test-secret"


async def test_sigterm_ends_the_worker_within_the_running_call(sqlite_url, panel_factory, clock, monkeypatch,
                                                              tmp_path):
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    clock.now_s = int(time.time()) - 1  # the worker process runs on the real clock
    sim = create_simulator("68smm")
    server = SimulatorServer(sim)
    server.start()
    try:
        async with panel_factory(sqlite_url) as panel:
            await providers.add_provider(panel, "slow", server.url, sim.key, timeout_s=TIMEOUT_S, concurrency=1)
            imported, _ = await providers.import_services(panel, "slow", markup_percent=Decimal(10))
            _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="ops")
            buyer = Customer.from_api_key(key)
            ours = [await orders.place_order(panel, buyer, {"service": imported[0].service, "quantity": 1000,
                                                            "link": f"https://x.com/p/{n}"}) for n in range(3)]
            sim.enable("slow", action="add", delay_s=SLOW_ADD_S)
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
            env.update(LOOPBACK_UPSTREAMS, SMMPANEL_DATABASE_URL=sqlite_url, SMMPANEL_SECRET=SECRET)
            log_file = (tmp_path / "worker.log").open("w")
            worker = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=log_file)
            try:
                deadline = time.monotonic() + 30
                while sim.request_count("add") < 1:
                    assert time.monotonic() < deadline and worker.poll() is None, \
                        (tmp_path / "worker.log").read_text()[-3000:]
                    time.sleep(0.02)
                worker.send_signal(signal.SIGTERM)
                sent_at = time.monotonic()
                assert worker.wait(timeout=TIMEOUT_S * TOTAL_DEADLINE_FACTOR + 5) == 0
                assert time.monotonic() - sent_at < TIMEOUT_S * TOTAL_DEADLINE_FACTOR
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
                log_file.close()
            states = [(await orders.order(panel, oid))["upstream_state"] for oid in ours]
            assert states == ["placed", "queued", "queued"]
            assert sim.request_count("add") == 1
    finally:
        server.stop()
