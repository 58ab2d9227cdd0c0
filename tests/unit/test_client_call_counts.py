"""Each request the client sends is counted once, by action and by how it
ended (what ``/metrics`` shows as ``smmpanel_upstream_calls_total``), and the
outcome travels on the ``UpstreamError`` the caller gets."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any, Callable

import httpx
import pytest

from smmpanel.client import CallOutcome, ErrorKind, ProviderClient, UpstreamError
from smmpanel.client.calls import CallCounts

pytestmark = pytest.mark.anyio

KEY = "k3y-call-counts-0123456789"
URL = "https://upstream.example/api/v2"


def peer(answer: Callable[[httpx.Request], httpx.Response]) -> ProviderClient:
    return ProviderClient(URL, KEY, transport=httpx.MockTransport(answer), timeout_s=1)


def raising(exc: type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc("peer fault", request=request)

    return answer


def replying(status: int, text: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, text=text)


FAULTS: dict[str, tuple[Callable[[httpx.Request], httpx.Response], CallOutcome]] = {
    "read timeout": (raising(httpx.ReadTimeout), CallOutcome.TIMEOUT),
    "connect timeout": (raising(httpx.ConnectTimeout), CallOutcome.TIMEOUT),
    "connection refused": (raising(httpx.ConnectError), CallOutcome.CONNECTION),
    "dropped mid-reply": (raising(httpx.RemoteProtocolError), CallOutcome.CONNECTION),
    "HTTP 503": (replying(503, "<html>busy</html>"), CallOutcome.HTTP_STATUS),
    "HTTP 429": (replying(429, "slow down"), CallOutcome.HTTP_STATUS),
    "HTTP 403 without words": (replying(403, "forbidden"), CallOutcome.HTTP_STATUS),
    "HTTP 400 with the panel's words": (replying(400, '{"error": "Incorrect service"}'), CallOutcome.ERROR_REPLY),
    "error reply": (replying(200, '{"error": "Not enough funds on balance"}'), CallOutcome.ERROR_REPLY),
    "garbage": (replying(200, "<html>oops</html>"), CallOutcome.UNPARSABLE),
    "empty body": (replying(200, ""), CallOutcome.UNPARSABLE),
    "JSON of the wrong shape": (replying(200, '{"status": "fine"}'), CallOutcome.UNPARSABLE),
}


@pytest.mark.parametrize("fault", FAULTS)
async def test_each_fault_is_counted_under_its_outcome(fault):
    answer, outcome = FAULTS[fault]
    async with peer(answer) as client:
        with pytest.raises(UpstreamError) as raised:
            await client.add({"service": 1, "link": "https://x.com/a", "quantity": 100})
        assert raised.value.outcome is outcome
        assert client.calls.take() == {("add", outcome.value): 1}
        assert client.calls.take() == {}  # taken means gone


async def test_successes_and_refusals_per_action():
    def answer(request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        if "action=balance" in body:
            return httpx.Response(200, json={"balance": "12.5", "currency": "USD"})
        if "action=orders" in body:  # Like3s's spelling of a multi-status is counted as a status
            return httpx.Response(200, json={"7": {"status": "Completed", "remains": "0"},
                                             "8": {"error": "Incorrect order ID"}})
        return httpx.Response(200, json={"error": "Invalid action"})

    async with peer(answer) as client:
        await client.balance()
        await client.balance()
        client.multi_status_action = "orders"
        found = await client.statuses(["7", "8"])
        assert isinstance(found["8"], UpstreamError)  # one id refused: still one readable reply
        with pytest.raises(UpstreamError):
            await client.refill("7")
        assert client.calls.take() == {("balance", "ok"): 2, ("status", "ok"): 1, ("refill", "error_reply"): 1}


async def test_the_outbound_guard_refusal_is_its_own_outcome():
    async with ProviderClient("http://127.0.0.1:9/api/v2", KEY, timeout_s=1) as client:
        with pytest.raises(UpstreamError) as raised:
            await client.balance()
        assert raised.value.outcome is CallOutcome.REFUSED
        assert client.calls.take() == {("balance", "refused_by_guard"): 1}


async def test_a_call_abandoned_by_the_caller_counts_as_a_timeout():
    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={"balance": "1"})

    async with peer(stall) as client:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.balance(), 0.05)
        assert client.calls.take() == {("balance", "timeout"): 1}


def test_counts_given_back_add_to_the_new_ones_and_unknown_actions_share_a_label():
    counts = CallCounts()
    counts.note("add", CallOutcome.OK)
    taken = counts.take()
    counts.note("add", CallOutcome.OK)
    counts.note("frobnicate", CallOutcome.ERROR_REPLY)
    counts.give_back(taken)
    assert counts.take() == {("add", "ok"): 2, ("other", "error_reply"): 1}


def test_the_outcome_survives_pickling():
    error = UpstreamError(ErrorKind.UNKNOWN_OUTCOME, "x", http_status=502, outcome=CallOutcome.HTTP_STATUS)
    again: Any = pickle.loads(pickle.dumps(error))
    assert again.outcome is CallOutcome.HTTP_STATUS and again.http_status == 502
