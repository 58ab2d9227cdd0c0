"""The simulator's hostile modes (issue 7) and its control endpoint, through the raw core and a real socket."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from smmpanel.simulator import (
    ControlClient,
    ControlError,
    Mode,
    RawNumber,
    Simulator,
    SimulatorServer,
    create_simulator,
)

KEY = "sim-key"
LINK = "https://facebook.com/post/1"


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def raw(sim: Simulator, action: str, **params: Any) -> tuple[int, bytes]:
    if sim.profile.encodings == {"json"}:
        body, ctype = json.dumps({"key": KEY, "action": action, **params}).encode(), "application/json"
    else:
        body = urlencode({"key": KEY, "action": action, **{k: str(v) for k, v in params.items()}}).encode()
        ctype = "application/x-www-form-urlencoded"
    return sim.handle("POST", "/api/v2", "", ctype, body)


def send(sim: Simulator, action: str, **params: Any) -> Any:
    status, body = raw(sim, action, **params)
    assert status == 200, body
    return json.loads(body, parse_float=Decimal)  # Decimal('1e99999999') is instant; int() of it is not


def place(sim: Simulator, quantity: int = 1000) -> int:
    service = sim.profile.services[0]
    return int(send(sim, "add", service=service.id, link=LINK, quantity=quantity)["order"])


def control(sim: Simulator, route: str = "", **fields: Any) -> tuple[int, Any]:
    status, body = sim.handle("POST", "/control" + route, "", "application/json",
                              json.dumps({"key": KEY, **fields}).encode())
    return status, json.loads(body)


# ================================================================ status lies


@pytest.mark.parametrize(
    "mode, status, remains, start_count",
    [
        ("huge_remains", "Pending", "1e99999999", "0"),
        ("huge_start_count", "Pending", "1000", "1e99999999"),
        ("overflow_remains", "Pending", "1e20", "0"),
        ("overflow_start_count", "Pending", "1000", "1e30"),
        ("completed_with_remains", "Completed", "1000", "0"),
        ("code_completed_with_remains", 2, "1000", "0"),
        ("partial_negative_remains", "Partial", "-50", "0"),
        ("partial_remains_above_quantity", "Partial", "5000", "0"),
        ("partial_huge_remains", "Partial", "1e9", "0"),
        ("over_delivery", "Completed", "-2", "0"),
    ],
)
def test_each_status_lie_shows_in_single_and_multi_replies(mode, status, remains, start_count) -> None:
    sim = create_simulator("68smm")
    order = place(sim)
    sim.enable(mode)
    single = send(sim, "status", order=order)
    assert (single["status"], single["remains"], single["start_count"]) == (status, remains, start_count)
    multi = send(sim, "status", orders=f"{order}")
    assert multi[str(order)]["remains"] == remains
    # The lie is in the replies only: the panel's own books are untouched.
    assert sim.order(order).status == "Pending" and sim.order(order).refunded == 0
    assert sim.disable(mode) is True
    assert send(sim, "status", order=order)["remains"] == "1000"


def test_numbers_profile_writes_the_absurd_number_as_a_bare_json_token() -> None:
    sim = create_simulator("like3s")
    service = sim.profile.services[0]
    order = int(send(sim, "add", service=service.id, link=LINK, quantity=100)["order"])
    sim.enable(Mode.HUGE_REMAINS)
    status, body = raw(sim, "status", order=order)
    assert b'"remains":1e99999999' in body


def test_a_status_lie_can_target_some_orders_and_last_some_requests() -> None:
    sim = create_simulator("standard")
    first, second = place(sim), place(sim)
    sim.enable("completed_with_remains", orders=[second], count=2)
    for _ in range(2):
        reply = send(sim, "status", orders=f"{first},{second}")
        assert reply[str(first)]["status"] == "Pending" and reply[str(second)]["status"] == "Completed"
    assert send(sim, "status", orders=f"{first},{second}")[str(second)]["status"] == "Pending"
    assert sim.modes == []


def test_set_order_reports_any_text_as_given() -> None:
    sim = create_simulator("68smm")
    order = place(sim)
    sim.set_order(order, status="In progress", remains="1e99999999", start_count=RawNumber("1e30"))
    status, body = raw(sim, "status", order=order)
    assert b'"remains":"1e99999999"' in body and b'"start_count":1e30' in body
    sim.set_order(order, status="Partial", remains=250)  # a whole number: reported and refunded
    assert send(sim, "status", order=order)["remains"] == "250"
    assert sim.order(order).refunded == Decimal("0.225")  # 0.9 per 1000, 250 of 1000 undelivered


def test_empty_multi_status_once_then_recovery() -> None:
    sim = create_simulator("standard")
    order = place(sim)
    sim.enable(Mode.EMPTY_MULTI_STATUS)
    assert send(sim, "status", order=order)["status"] == "Pending"  # a single status is not a multi one
    assert send(sim, "status", orders=str(order)) == {}
    assert send(sim, "status", orders=str(order))[str(order)]["status"] == "Pending"


# ================================================================ add lies


def test_huge_order_id_creates_the_order_and_answers_an_absurd_id() -> None:
    sim = create_simulator("68smm")
    sim.enable("huge_order_id")
    status, body = raw(sim, "add", service=1, link=LINK, quantity=100)
    assert body == b'{"order":1e99999999}'
    assert len(sim.created_orders) == 1


def test_created_then_429_creates_an_order_for_every_retry() -> None:
    sim = create_simulator("68smm")
    sim.enable("created_then_429")
    for expected in (1, 2, 3):
        status, body = raw(sim, "add", service=1, link=LINK, quantity=100)
        assert status == 429 and b"Too many requests" in body
        assert len(sim.created_orders) == expected


# ================================================================ catalog lies


def test_bad_catalog_entries_join_the_good_ones() -> None:
    sim = create_simulator("68smm")
    for mode in ("catalog_negative_rate", "catalog_duplicate_id", "catalog_huge_rate", "catalog_huge_max",
                 "catalog_tiny_rate", "catalog_absurd_numbers"):
        sim.enable(mode)
    entries = send(sim, "services")
    good = [e for e in entries if e["service"] in (2, 3)]
    assert len(good) == 2
    rates = [e["rate"] for e in entries]
    assert {"-1", "1e30", "0.0000001", "1e99999999"} <= set(rates)
    assert [e["service"] for e in entries].count(1) == 2
    assert "100000000000000000000" in [e["max"] for e in entries]
    assert "1e99999999" in [e["min"] for e in entries] and "1e99999999" in [e["max"] for e in entries]


# ================================================================ timing


def test_slow_mode_per_action_and_drip_over_a_real_socket() -> None:
    sim = create_simulator("standard")
    sim.enable("slow", action="add", delay_s=0.6)
    sim.enable("drip", action="balance", delay_s=0.6)
    with SimulatorServer(sim) as server:
        with httpx.Client(timeout=5) as http:
            started = time.monotonic()
            http.post(server.url, data={"key": KEY, "action": "services"})
            assert time.monotonic() - started < 0.5  # other actions are not slowed
            started = time.monotonic()
            http.post(server.url, data={"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 50})
            assert time.monotonic() - started >= 0.6
            # A dripping body: every read gets a byte well within a 0.2 s read timeout, yet it takes 0.6 s.
            started = time.monotonic()
            reply = httpx.post(server.url, data={"key": KEY, "action": "balance"},
                               timeout=httpx.Timeout(5, read=0.2))
            assert time.monotonic() - started >= 0.6
            assert reply.json()["currency"] == "USD"


def test_timing_options_are_refused_where_they_mean_nothing() -> None:
    sim = create_simulator("standard")
    with pytest.raises(ValueError, match="timing modes"):
        sim.enable("huge_remains", action="add")
    with pytest.raises(ValueError, match="unknown mode"):
        sim.enable("lie_a_lot")


# ================================================================ auto-progress


def test_auto_progress_moves_orders_one_step_per_interval() -> None:
    clock = FakeClock()
    sim = create_simulator("68smm", clock=clock)
    order = place(sim)
    sim.auto_progress(30)
    seen = []
    for _ in range(4):
        entry = send(sim, "status", order=order)
        seen.append((entry["status"], entry["remains"], entry["start_count"]))
        clock.now_s += 30
    assert seen == [("Pending", "1000", "0"), ("In progress", "1000", "1000"), ("In progress", "500", "1000"),
                    ("Completed", "0", "1000")]
    # An operator's Partial is final: auto-progress never moves it again.
    later = place(sim)
    sim.set_order(later, status="Partial", remains=250)
    clock.now_s += 300
    assert sim.order(later).status == "Partial"


# ================================================================ control endpoint


def test_control_endpoint_drives_orders_modes_and_progress() -> None:
    sim = create_simulator("68smm")
    order = place(sim)
    status, state = control(sim, "/order", order=order, status="Partial", remains=250)
    assert status == 200 and state["orders"][0]["status"] == "Partial" and state["orders"][0]["refunded"] == "0.22500"
    status, state = control(sim, "/mode", mode="slow", action="add", delay_s=1.5)
    assert status == 200 and state["modes"] == [
        {"mode": "slow", "count": None, "action": "add", "delay_s": 1.5, "orders": None}]
    assert control(sim, "/mode", mode="slow", on=False)[1]["modes"] == []
    assert control(sim, "/auto-progress", interval_s=30)[1]["auto_progress_s"] == 30
    control(sim, "/mode", mode="huge_remains")
    assert control(sim, "/reset")[1]["modes"] == []
    assert sim.request_count("status") == 0  # control requests are not API requests


@pytest.mark.parametrize(
    "route, fields, status, words",
    [
        ("/order", {"order": 424242, "status": "Partial"}, 404, "no order"),
        ("/order", {"order": "abc"}, 400, "order must be"),
        ("/mode", {"mode": "nonsense"}, 400, "unknown mode"),
        ("/mode", {"mode": "slow", "delay_s": "long"}, 400, "delay_s"),
        ("/auto-progress", {"interval_s": -1}, 400, "positive"),
        ("/nowhere", {}, 404, "unknown control request"),
    ],
)
def test_control_endpoint_refuses_bad_requests_with_a_reason(route, fields, status, words) -> None:
    sim = create_simulator("68smm")
    got, data = control(sim, route, **fields)
    assert got == status and words in data["error"]


def test_control_endpoint_needs_the_key_and_reads_the_state_by_get() -> None:
    sim = create_simulator("68smm")
    status, body = sim.handle("POST", "/control/reset", "", "application/json", b'{"key": "wrong"}')
    assert status == 403
    order = place(sim)
    sim.enable("over_delivery", orders=[order])
    status, body = sim.handle("GET", "/control", f"key={KEY}", "", b"")
    state = json.loads(body)
    assert status == 200 and state["profile"] == "68smm" and state["balance"] == "99.94292"
    assert [o["order"] for o in state["orders"]] == [order] and state["modes"][0]["orders"] == [order]
    assert state["available_modes"]["over_delivery"] == "status: Completed with remains -2"


def test_control_client_over_a_real_socket() -> None:
    sim = create_simulator("shopvn")
    with SimulatorServer(sim) as server:
        order = place(sim, quantity=500)
        client = ControlClient(server.url, KEY)
        state = client.set_order(order, status="In progress", remains="1e99999999")
        assert state["orders"][0]["reported"] == {"remains": "1e99999999"}
        client.mode("over_delivery", orders=[order])
        assert sim.modes[0].orders == frozenset({order})
        with pytest.raises(ControlError, match="no order"):
            client.set_order(1, status="Partial")
        with pytest.raises(ControlError, match="wrong or missing key"):
            ControlClient(server.url, "nope").state()
