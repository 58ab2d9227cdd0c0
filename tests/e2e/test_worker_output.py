"""What ``smmpanel worker`` tells the operator: a start line (database,
providers, cadence), one line per pass that did something, and no line per
HTTP request unless ``--verbose``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from conftest import LOOPBACK_UPSTREAMS
from smmpanel.services import accounts, orders, providers
from smmpanel.services.principal import Customer
from smmpanel.simulator import SimulatorServer, create_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

SECRET = "worker-output-test-secret"
HTTPX_REQUEST_LINE = "HTTP Request:"  # httpx's own per-request log line


def _run_worker(env: dict[str, str], tmp_path, *args: str) -> tuple[list[str], str]:
    """Start the worker, wait for its first pass line, stop it; its stdout lines and stderr."""
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        worker = subprocess.Popen([sys.executable, "-m", "smmpanel.cli", "worker", *args], env=env, stdout=out,
                                  stderr=err)
        try:
            deadline = time.monotonic() + 30
            while "pass: " not in out_path.read_text():
                said = out_path.read_text() + err_path.read_text()
                assert time.monotonic() < deadline and worker.poll() is None, said
                time.sleep(0.05)
            time.sleep(1.5)  # idle passes meanwhile: they print nothing
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return out_path.read_text().splitlines(), err_path.read_text()


async def test_worker_prints_a_start_line_and_one_line_per_busy_pass(sqlite_url, panel_factory, clock, monkeypatch,
                                                                    tmp_path):
    monkeypatch.setenv("SMMPANEL_SECRET", SECRET)
    clock.now_s = int(time.time()) - 1  # the worker process runs on the real clock
    sim = create_simulator("68smm")
    server = SimulatorServer(sim)
    server.start()
    try:
        async with panel_factory(sqlite_url) as panel:
            await providers.add_provider(panel, "up1", server.url, sim.key)
            imported, _ = await providers.import_services(panel, "up1", markup_percent=Decimal(10))
            _, key = await accounts.add_user(panel, "buyer", Decimal(100), actor="cli")
            buyer = Customer.from_api_key(key)

            buyer = Customer.from_api_key(key)

            async def order(n: int) -> int:
                return await orders.place_order(panel, buyer, {"service": imported[0].service, "quantity": 1000,
                                                               "link": f"https://x.com/p/{n}"})

            await order(1)
            env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
            env.update(LOOPBACK_UPSTREAMS, SMMPANEL_DATABASE_URL=sqlite_url, SMMPANEL_SECRET=SECRET)
            lines, err = _run_worker(env, tmp_path)
            path = sqlite_url[len("sqlite:///"):]
            assert lines[0].startswith(f"worker: database sqlite:///{os.path.abspath(path)}; providers up1; ")
            assert "a pass every 1 s when idle" in lines[0] and "out-of-funds upstreams probed every" in lines[0]
            assert lines[1] == "pass: placed 1"
            assert len(lines) == 2  # idle passes say nothing
            assert HTTPX_REQUEST_LINE not in err

            await order(2)
            lines, err = _run_worker(env, tmp_path, "--verbose")
            assert "pass: placed 1" in lines[1]
            assert HTTPX_REQUEST_LINE in err
    finally:
        server.stop()
