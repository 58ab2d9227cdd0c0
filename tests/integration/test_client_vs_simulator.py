"""The API v2 client against the simulator over a real socket: every profile, every fault.

Timeouts are real here: a hang outlasts the client's timeout, a drop closes the
TCP connection without a reply, a stopped server refuses connections.
"""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from typing import AsyncIterator, Iterator

import pytest

from smmpanel.client import ErrorKind, ProviderClient, UpstreamError, UpstreamStatus, call
from smmpanel.domain.status import RefillStatus, Status
from smmpanel.simulator import Fault, Simulator, SimulatorServer, create_simulator

pytestmark = pytest.mark.anyio

CLIENT_TIMEOUT_S = 0.3
HANG_S = 1.5  # past the client's timeout (and its total deadline of 2 x timeout)
LINK = "https://facebook.com/post/1"

EXPECTED_ENCODING = {"like3s": "json", "shopvn": "form", "baostar": "json", "subpro": "form", "68smm": "form",
                     "standard": "form"}
HAS_REFILL = {"shopvn", "baostar", "subpro", "68smm", "standard"}
HAS_CANCEL = {"68smm", "standard"}


class Served:
    def __init__(self, profile: str) -> None:
        self.sim: Simulator = create_simulator(profile, hang_s=HANG_S, slow_s=0.05)
        self.server = SimulatorServer(self.sim)
        self.url = self.server.start()

    def client(self, **options: object) -> ProviderClient:
        options.setdefault("encoding", EXPECTED_ENCODING[self.sim.profile.name])
        options.setdefault("timeout_s", CLIENT_TIMEOUT_S)
        return ProviderClient(self.url, self.sim.key, allow_private=True, **options)  # type: ignore[arg-type]

    def order_params(self, quantity: int | None = None) -> dict[str, str | int]:
        service = self.sim.profile.services[0]
        return {"service": service.id, "link": LINK, "quantity": quantity or service.min}


@pytest.fixture(params=sorted(EXPECTED_ENCODING))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    panel = Served(request.param)
    yield panel
    panel.server.stop()


@pytest.fixture
def served_68smm() -> Iterator[Served]:
    panel = Served("68smm")
    yield panel
    panel.server.stop()


@pytest.fixture
async def client_68smm(served_68smm: Served) -> AsyncIterator[ProviderClient]:
    async with served_68smm.client() as client:
        yield client


# ================================================================ each profile, the whole conversation

async def test_conversation(served: Served) -> None:
    sim, name = served.sim, served.sim.profile.name
    async with served.client(encoding="json" if EXPECTED_ENCODING[name] == "form" else "form") as client:
        assert await client.detect_encoding() == EXPECTED_ENCODING[name]
        balance = await client.balance()
        assert balance.amount == sim.balance and balance.currency == sim.profile.currency
        services = await client.services()
        assert [s.service for s in services] == [str(s.id) for s in sim.profile.services]
        assert [s.rate for s in services] == [s.rate for s in sim.profile.services]

        first = await client.add(served.order_params())
        second = await client.add(served.order_params())
        assert [c.order_id for c in sim.created_orders] == [int(first), int(second)]

        sim.set_order(first, status="Completed", start_count=40, remains=0)
        sim.set_order(second, status="Partial", remains=3)
        result = await client.statuses([first, second, "424242"])
        if name == "baostar":  # thin multi entries; only a Partial is completed by a single call
            assert result[first] == UpstreamStatus(Status.COMPLETED, "Completed", None, None, None)
        else:
            assert result[first] == UpstreamStatus(Status.COMPLETED, "Completed", sim.order(first).charge, 40, 0)
        assert isinstance(result[second], UpstreamStatus)
        assert result[second].status is Status.PARTIAL and result[second].remains == 3
        assert isinstance(result["424242"], UpstreamError) and result["424242"].kind is ErrorKind.UNKNOWN_ORDER
        assert client.multi_status_action == ("orders" if name == "like3s" else "status")

        refillable = next((s for s in sim.profile.services if s.refill), None)
        if name in HAS_REFILL and refillable is not None:
            refill_order = await client.add({"service": refillable.id, "link": LINK, "quantity": refillable.min})
            sim.set_order(refill_order, status="Completed")
            refill = await client.refill(refill_order)
            sim.set_refill(refill, "In progress")
            states = await client.refill_statuses([refill, "999"])
            assert states[refill] is RefillStatus.IN_PROGRESS
            assert isinstance(states["999"], UpstreamError) and states["999"].kind is ErrorKind.UNKNOWN_ORDER
        else:
            with pytest.raises(UpstreamError) as refused:
                await client.refill(first)
            assert refused.value.kind is ErrorKind.UNSUPPORTED

        cancels = await client.cancel([second])
        if name in HAS_CANCEL:
            assert isinstance(cancels[second], UpstreamError)  # Partial is final: refused
            assert cancels[second].kind is ErrorKind.REJECTED
        else:
            assert isinstance(cancels[second], UpstreamError) and cancels[second].kind is ErrorKind.UNSUPPORTED


async def test_out_of_funds_and_bad_input_are_classified(served: Served) -> None:
    sim = served.sim
    async with served.client() as client:
        with pytest.raises(UpstreamError) as bad_link:
            await client.add({**served.order_params(), "link": "not a link"})
        with pytest.raises(UpstreamError) as bad_service:
            await client.add({**served.order_params(), "service": 777})
        with pytest.raises(UpstreamError) as bad_quantity:
            await client.add(served.order_params(quantity=1))
        sim.set_balance(0)
        with pytest.raises(UpstreamError) as no_funds:
            await client.add(served.order_params())
    assert bad_link.value.kind is ErrorKind.BAD_LINK
    assert bad_service.value.kind is ErrorKind.BAD_SERVICE
    assert bad_quantity.value.kind is ErrorKind.BAD_QUANTITY
    assert no_funds.value.kind is ErrorKind.OUT_OF_FUNDS
    assert sim.created_orders == []


# ================================================================ faults over the wire

FAULT_OUTCOMES = [
    (Fault.TIMEOUT_BEFORE_CREATE, 0),
    (Fault.TIMEOUT_AFTER_CREATE, 1),
    (Fault.DROP_BEFORE_CREATE, 0),
    (Fault.DROP_AFTER_CREATE, 1),
    (Fault.HTTP_500, 0),
    (Fault.HTTP_500_AFTER_CREATE, 1),
    (Fault.GARBLED, 1),
]


@pytest.mark.parametrize("fault, created", FAULT_OUTCOMES)
async def test_add_faults_are_unknown_outcomes_never_resent(served: Served, fault: Fault, created: int) -> None:
    sim = served.sim
    sim.inject("add", fault)
    async with served.client() as client:
        started = time.monotonic()
        with pytest.raises(UpstreamError) as failed:
            await client.add(served.order_params())
        elapsed = time.monotonic() - started
        assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME
        assert not failed.value.safe_to_retry
        assert sim.add_requests == 1  # the client never re-sent it
        assert len(sim.created_orders) == created
        assert elapsed < HANG_S  # the client gave up on its own timeout
        # the same client goes on working (a fresh connection after a dropped one)
        assert await client.add(served.order_params())
    assert sim.add_requests == 2


@pytest.mark.parametrize("fault, created", FAULT_OUTCOMES)
async def test_status_faults_give_each_id_the_error(served_68smm: Served, fault: Fault, created: int) -> None:
    sim = served_68smm.sim
    async with served_68smm.client() as client:
        order = await client.add(served_68smm.order_params())
        sim.inject("status", fault)
        result = await client.statuses([order, "5"])
        assert {type(v) for v in result.values()} == {UpstreamError}
        assert {v.kind for v in result.values() if isinstance(v, UpstreamError)} == {ErrorKind.UNKNOWN_OUTCOME}
        assert sim.request_count("status") == 1
        again = await client.statuses([order])
    assert isinstance(again[order], UpstreamStatus)


async def test_slow_reply_within_the_timeout_succeeds(client_68smm: ProviderClient, served_68smm: Served) -> None:
    served_68smm.sim.inject("add", "slow", delay_s=0.1)
    assert await client_68smm.add(served_68smm.order_params())
    assert len(served_68smm.sim.created_orders) == 1


async def test_slow_reply_past_the_timeout_is_unknown_outcome(client_68smm: ProviderClient,
                                                              served_68smm: Served) -> None:
    served_68smm.sim.inject("add", "slow", delay_s=1.0)
    with pytest.raises(UpstreamError) as failed:
        await client_68smm.add(served_68smm.order_params())
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME
    assert len(served_68smm.sim.created_orders) == 1  # it was created: the reply just came too late


async def test_connection_refused_is_unreachable() -> None:
    sim = create_simulator("standard")
    server = SimulatorServer(sim)
    url = server.start()
    server.stop()
    async with ProviderClient(url, sim.key, timeout_s=CLIENT_TIMEOUT_S, allow_private=True) as client:
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": LINK, "quantity": 100})
    assert failed.value.kind is ErrorKind.UNREACHABLE and failed.value.safe_to_retry
    assert sim.add_requests == 0


async def test_connect_timeout_is_unreachable() -> None:
    # A listening socket whose backlog is full never completes the handshake.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            async with ProviderClient(f"http://127.0.0.1:{port}/api/v2", "k", timeout_s=0.2, allow_private=True) as client:
                with pytest.raises(UpstreamError) as failed:
                    await client.balance()
        finally:
            for filler in fillers:
                filler.close()
    # Linux drops the SYN of a full backlog: the handshake never completes, nothing was sent.
    assert failed.value.kind is ErrorKind.UNREACHABLE and "ConnectTimeout" in failed.value.detail


async def test_raw_call_over_the_wire() -> None:
    sim = create_simulator("like3s")
    with SimulatorServer(sim) as server:
        assert await call(server.url, sim.key, "balance", {}, encoding="json", allow_private=True) == {"balance": 100000,
                                                                                     "currency": "VND"}
        assert await call(server.url, sim.key, "refill", {"order": 1}, encoding="json", allow_private=True) == {
            "error": "Action không hợp lệ"}
        reply = await call(server.url, sim.key, "services", {}, encoding="json", allow_private=True)
    assert reply[1]["rate"] == Decimal("1234.5")


async def test_server_stop_closes_hanging_connections_quickly() -> None:
    sim = create_simulator("standard", hang_s=30)
    server = SimulatorServer(sim)
    server.start()
    sim.inject("balance", "timeout_before_create")
    async with ProviderClient(server.url, sim.key, timeout_s=0.2, allow_private=True) as client:
        with pytest.raises(UpstreamError):
            await client.balance()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
