"""Issue 7, defect 1: an absurd number from an upstream is a protocol error of its one item, found at once.

Each call runs in a daemon thread that must finish within ``PROMPT_S``: before the
fix, ``int(Decimal("1e99999999"))`` ran for minutes (the test fails instead of hanging).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

import pytest

from smmpanel.client import ErrorKind, ProviderClient, UpstreamError, UpstreamStatus, call
from smmpanel.domain.status import Status
from smmpanel.simulator import RawNumber, Simulator, SimulatorServer, create_simulator

PROMPT_S = 5.0
LINK = "https://facebook.com/post/1"
ENCODING = {"68smm": "form", "like3s": "json"}  # a panel of number strings, and one of bare JSON numbers


def promptly(make: Callable[[], Awaitable[Any]]) -> Any:
    """``await make()`` on its own event loop, failing the test if it takes longer than PROMPT_S."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(PROMPT_S)
    assert not worker.is_alive(), f"the client did not return within {PROMPT_S}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def with_client(sim: Simulator, use: Callable[[ProviderClient], Awaitable[Any]]) -> Any:
    with SimulatorServer(sim) as server:
        async def main() -> Any:
            async with ProviderClient(server.url, sim.key, encoding=ENCODING[sim.profile.name],
                                      timeout_s=2) as client:
                return await use(client)

        return promptly(main)


def place(sim: Simulator, quantity: int) -> str:
    service = sim.profile.services[0]
    params: dict[str, object] = {"service": service.id, "link": LINK, "quantity": quantity}
    return with_client(sim, lambda client: client.add(params))  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ["68smm", "like3s"])
@pytest.mark.parametrize("field, value", [("remains", "1e99999999"), ("start_count", "1e99999999"),
                                          ("remains", "1e20"), ("start_count", "1e30")])
def test_an_absurd_number_in_a_status_spoils_only_that_order(profile: str, field: str, value: str) -> None:
    sim = create_simulator(profile)
    bad, good = place(sim, 1000), place(sim, 1000)
    sim.set_order(bad, status="In progress", **{field: value})
    sim.set_order(good, status="Partial", remains=250)
    result = with_client(sim, lambda client: client.statuses([bad, good]))
    error = result[bad]
    assert isinstance(error, UpstreamError) and error.kind is ErrorKind.UNKNOWN_OUTCOME
    assert f"protocol error: {field}" in error.detail and "past the bound" in error.detail
    assert result[good] == UpstreamStatus(Status.PARTIAL, "Partial", result[good].charge, 0, 250)


def test_an_absurd_number_as_a_json_token_in_a_single_status() -> None:
    sim = create_simulator("like3s")
    order = place(sim, 1000)
    sim.set_order(order, remains=RawNumber("1e99999999"))
    sim.enable("huge_start_count")
    result = with_client(sim, lambda client: client.statuses([order]))
    assert isinstance(result[order], UpstreamError) and "past the bound" in result[order].detail


@pytest.mark.parametrize("profile", ["68smm", "like3s"])
def test_an_absurd_order_id_in_an_add_reply_is_an_unknown_outcome(profile: str) -> None:
    sim = create_simulator(profile)
    sim.enable("huge_order_id")
    with pytest.raises(UpstreamError) as caught:
        place(sim, 1000)
    assert caught.value.kind is ErrorKind.UNKNOWN_OUTCOME  # the order exists upstream: never resend blindly
    assert "protocol error: order id" in caught.value.detail
    assert len(sim.created_orders) == 1


@pytest.mark.parametrize("profile", ["68smm", "like3s"])
def test_absurd_numbers_in_a_services_list_reject_only_their_entries(profile: str) -> None:
    sim = create_simulator(profile)
    sim.enable("catalog_absurd_numbers")
    sim.enable("catalog_huge_rate")
    catalog = with_client(sim, lambda client: client.catalog())
    assert [s.service for s in catalog.services] == [str(s.id) for s in sim.profile.services]
    reasons = {r.service: r.reason for r in catalog.rejected}
    assert set(reasons) == {"9001", "9002", "9003", "9004"}
    assert reasons["9001"].startswith("protocol error: rate 1E+30 is past the bound")
    assert reasons["9002"].startswith("protocol error: rate") and reasons["9003"].startswith("protocol error: min")
    assert reasons["9004"].startswith("protocol error: max")


def test_a_huge_balance_is_a_protocol_error() -> None:
    sim = create_simulator("68smm", balance="1e99999999")
    with pytest.raises(UpstreamError, match="protocol error: balance"):
        with_client(sim, lambda client: client.balance())


def test_an_integer_token_of_a_hundred_thousand_digits_is_read_promptly() -> None:
    """A long JSON integer is past Python's int() digit limit: not a crash, the item's protocol error."""
    sim = create_simulator("like3s")
    order = place(sim, 1000)
    sim.set_order(order, remains=RawNumber("9" * 100_000))
    result = with_client(sim, lambda client: client.statuses([order]))
    assert isinstance(result[order], UpstreamError) and "protocol error: remains" in result[order].detail
    # The raw call (what ``smmpanel call`` prints) never converts it: it shows its start and length.
    with SimulatorServer(sim) as server:
        reply = promptly(lambda: call(server.url, sim.key, "status", {"order": order}, encoding="json"))
    assert reply["remains"] == "9" * 24 + "…(100000 characters)"
    assert reply["status"] == "Pending"  # the rest of the reply reads as usual


def test_smmpanel_call_prints_a_reply_with_numbers_past_64_bits(tmp_path) -> None:
    """The raw call keeps such a number exact, and the CLI prints it instead of a traceback."""
    import json
    import os
    import subprocess
    import sys

    sim = create_simulator("like3s")
    order = place(sim, 1000)
    sim.set_order(order, start_count=RawNumber("123456789012345678901234567890"), remains=RawNumber("1e99999999"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    with SimulatorServer(sim) as server:
        done = subprocess.run([sys.executable, "-m", "smmpanel.cli", "call", server.url, sim.key, "status",
                               f"order={order}", "--encoding", "json"], env=env, capture_output=True, text=True,
                              timeout=30)
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert (reply["start_count"], reply["remains"]) == ("123456789012345678901234567890", "1E+99999999")
