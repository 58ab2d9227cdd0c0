"""The upstream panel simulator, through its raw core (``handle``/``respond``) and ``mock_transport``."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from smmpanel.client import ErrorKind, ProviderClient, UpstreamError, UpstreamStatus
from smmpanel.domain.status import Status
from smmpanel.simulator import PROFILES, Fault, SimulatedDisconnect, Simulator, create_simulator

KEY = "sim-key"
LINK = "https://facebook.com/post/1"


def send(sim: Simulator, action: str, encoding: str = "form", *, key: str = KEY, **params: Any) -> Any:
    """One request through the raw core; returns the decoded JSON (or raw bytes when not JSON)."""
    fields = {"key": key, "action": action, **params}
    if encoding == "json":
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        body = urlencode({k: str(v) for k, v in fields.items()}).encode()
        content_type = "application/x-www-form-urlencoded"
    status, raw = sim.handle("POST", "/api/v2", "", content_type, body)
    assert status == 200
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        return raw


def encoding_of(sim: Simulator) -> str:
    return "json" if sim.profile.encodings == {"json"} else "form"


def place(sim: Simulator, service: int | None = None, quantity: int | None = None, **extra: Any) -> int:
    svc = sim.profile.services[0] if service is None else next(s for s in sim.profile.services if s.id == service)
    reply = send(sim, "add", encoding_of(sim), service=svc.id, link=LINK, quantity=quantity or svc.min, **extra)
    assert "order" in reply, reply
    return int(reply["order"])


# ================================================================ profiles and requests

def test_profiles_and_factory() -> None:
    assert set(PROFILES) == {"like3s", "shopvn", "baostar", "subpro", "68smm", "standard"}
    with pytest.raises(ValueError, match="unknown simulator profile"):
        create_simulator("smmking")
    sim = create_simulator("68smm", key="other", balance="5.5")
    assert sim.key == "other" and sim.balance == Decimal("5.5")


@pytest.mark.parametrize(
    "profile, form_ok, json_ok",
    [("like3s", False, True), ("shopvn", True, False), ("baostar", False, True), ("subpro", True, False),
     ("68smm", True, False), ("standard", True, True)],
)
def test_request_encodings(profile: str, form_ok: bool, json_ok: bool) -> None:
    sim = create_simulator(profile)
    for encoding, ok in (("form", form_ok), ("json", json_ok)):
        reply = send(sim, "balance", encoding)
        assert (isinstance(reply, dict) and "balance" in reply) is ok, (encoding, reply)


def test_unreadable_bodies_per_profile() -> None:
    assert send(create_simulator("like3s"), "balance", "form") == {"error": "Yêu cầu không hợp lệ"}
    assert send(create_simulator("shopvn"), "balance", "json") == {"error": "Incorrect request"}
    garbage = send(create_simulator("baostar"), "balance", "form")
    assert isinstance(garbage, bytes) and b"Notice" in garbage


def test_query_string_parameters_on_form_panels_only() -> None:
    query = urlencode({"key": KEY, "action": "balance"})
    status, body = create_simulator("shopvn").handle("GET", "/api/v2", query, "", b"")
    assert status == 200 and b'"balance"' in body
    status, body = create_simulator("like3s").handle("GET", "/api/v2/", query, "", b"")
    assert json.loads(body) == {"error": "Yêu cầu không hợp lệ"}


def test_key_action_and_path_checks() -> None:
    sim = create_simulator("standard")
    assert send(sim, "balance", key="nope") == {"error": "Invalid API key"}
    assert send(sim, "balance", key="") == {"error": "Incorrect request"}
    assert send(sim, "explode") == {"error": "Invalid action"}
    assert send(create_simulator("like3s"), "balance", "json", key="x") == {"error": "API key không hợp lệ"}
    status, _ = sim.handle("POST", "/api/v3", "", "", b"")
    assert status == 404


@pytest.mark.parametrize(
    "profile, missing",
    [("like3s", {"refill", "refill_status", "cancel"}), ("shopvn", {"cancel", "orders", "addBulk"}),
     ("baostar", {"cancel", "orders"}), ("subpro", {"cancel", "orders"}), ("68smm", {"orders", "addBulk"}),
     ("standard", set())],
)
def test_missing_actions_answer_invalid_action(profile: str, missing: set[str]) -> None:
    sim = create_simulator(profile)
    expected = "Action không hợp lệ" if profile == "like3s" else "Invalid action"
    for action in missing:
        assert send(sim, action, encoding_of(sim), orders="1") == {"error": expected}


# ================================================================ value styles

def test_like3s_speaks_numbers_and_vietnamese() -> None:
    sim = create_simulator("like3s")
    assert send(sim, "balance", "json") == {"balance": 100000, "currency": "VND"}
    services = send(sim, "services", "json")
    assert services[0] == {"service": 101, "name": "Like Post Facebook", "rate": 25000, "min": 50, "max": 50000,
                           "refill": False}
    assert services[1]["rate"] == Decimal("1234.5")
    order = place(sim, 101, 100)
    assert order == 987654
    assert send(sim, "status", "json", order=order) == {"charge": 2500, "start_count": 0, "status": "Pending",
                                                        "remains": 100, "currency": "VND"}
    assert send(sim, "status", "json", orders=str(order)) == {"error": "Không tìm thấy đơn hàng"}
    assert send(sim, "orders", "json", orders=f"{order},5") == {
        str(order): {"charge": 2500, "start_count": 0, "status": "Pending", "remains": 100, "currency": "VND"},
        "5": {"error": "Không tìm thấy đơn hàng"},
    }
    assert send(sim, "add", "json", service=101, link="not a link", quantity=100) == {"error": "Link không hợp lệ"}


def test_string_panels_speak_strings() -> None:
    sim = create_simulator("shopvn")
    assert send(sim, "balance") == {"balance": "343423", "currency": "VND"}
    assert send(sim, "services")[0] == {"service": 1, "name": "Facebook views", "type": "Default",
                                        "category": "Facebook", "rate": "2.5", "min": "200", "max": "10000",
                                        "refill": True}
    order = place(sim, 1, 1000)
    assert send(sim, "status", order=order) == {"charge": "2.5", "start_count": "0", "status": "Pending",
                                                "remains": "1000"}


def test_baostar_multi_status_entries_are_thin() -> None:
    sim = create_simulator("baostar")
    order = place(sim)
    assert send(sim, "status", "json", orders=f"{order},7") == {
        str(order): {"status": "Pending"}, "7": {"error": "Incorrect order ID"}}
    assert send(sim, "status", "json", order=order)["remains"] == "200"


def test_68smm_and_standard_catalogs() -> None:
    smm = send(create_simulator("68smm"), "services")
    assert smm[1]["type"] == "Custom Comments" and "cancel" in smm[1] and "dripfeed" not in smm[1]
    standard = send(create_simulator("standard"), "services")
    assert {s["type"] for s in standard} >= {"Default", "Custom Comments", "Package", "Mentions Custom List"}
    assert all("dripfeed" in s for s in standard)


# ================================================================ orders, money, refunds

def test_add_charges_and_refuses_when_out_of_funds() -> None:
    sim = create_simulator("68smm", balance="1")
    order = place(sim, 1, 1000)  # 0.90 per 1000
    assert sim.balance == Decimal("0.10")
    assert sim.order(order).charge == Decimal("0.90000")
    assert send(sim, "add", service=1, link=LINK, quantity=1000) == {"error": "Not enough funds on balance"}
    sim.set_balance(0)
    assert send(sim, "add", service=3, link=LINK, quantity=10) == {"error": "Not enough funds on balance"}
    assert send(create_simulator("like3s", balance=0), "add", "json", service=101, link=LINK,
                quantity=50) == {"error": "Số dư không đủ"}
    assert len(sim.created_orders) == 1 and sim.add_requests == 3


@pytest.mark.parametrize(
    "params, error",
    [
        ({"link": LINK, "quantity": 100}, "Missing required fields: service, link, quantity"),
        ({"service": 99, "link": LINK, "quantity": 100}, "Incorrect service ID"),
        ({"service": 1, "quantity": 100}, "Missing required fields: service, link, quantity"),
        ({"service": 1, "link": "two words", "quantity": 100}, "Bad link"),
        ({"service": 1, "link": LINK, "quantity": 10}, "Quantity less than minimal 50"),
        ({"service": 1, "link": LINK, "quantity": 20000}, "Quantity more than maximal 10000"),
        ({"service": 1, "link": LINK, "quantity": "abc"}, "Quantity less than minimal 50"),
        ({"service": 1, "link": LINK, "quantity": 100, "runs": 1, "interval": 10},
         "Invalid runs or interval: runs must be at least 2 and interval between 1 and 1440"),
        ({"service": 2, "link": LINK}, "Missing required field: comments"),
        ({"service": 2, "link": LINK, "comments": "a\nb"}, "Quantity less than minimal 10"),
    ],
)
def test_add_validation(params: dict[str, Any], error: str) -> None:
    sim = create_simulator("68smm")
    assert send(sim, "add", **params) == {"error": error}
    assert sim.created_orders == []


def test_order_types_and_dripfeed() -> None:
    sim = create_simulator("standard")
    comments = "\n".join(f"comment {i}" for i in range(12))
    order = place(sim, 2, comments=comments, quantity=999)
    assert sim.order(order).quantity == 12 and sim.order(order).charge == Decimal("0.09600")
    package = send(sim, "add", service=3, link=LINK)
    assert sim.order(package["order"]).charge == Decimal("5")
    drip = place(sim, 1, 100, runs=5, interval=30)
    assert sim.order(drip).quantity == 500
    assert sim.created_orders[-1].params == {"service": "1", "link": LINK, "quantity": "100", "runs": "5",
                                             "interval": "30"}


def test_add_bulk() -> None:
    sim = create_simulator("like3s")
    reply = send(sim, "addBulk", "json", service=101, quantity=50, links=[LINK, "bad link"])
    assert reply == {"created": [{"order": 987654, "link": LINK}],
                     "failed": [{"link": "bad link", "error": "Link không hợp lệ"}]}


def test_set_order_reports_raw_values_and_refunds_once() -> None:
    sim = create_simulator("68smm", balance="10")
    order = place(sim, 1, 1000)
    sim.set_order(order, status="Cancelled", start_count=17)
    assert sim.balance == Decimal("10")
    reply = send(sim, "status", order=order)
    assert reply["status"] == "Cancelled" and reply["start_count"] == "17" and reply["charge"] == "0"
    sim.set_order(order, status="Canceled")
    assert sim.balance == Decimal("10")

    other = place(sim, 1, 1000)
    sim.set_order(other, status=Status.PARTIAL, remains=250)
    assert sim.balance == Decimal("10") - Decimal("0.9") + Decimal("0.225")
    sim.set_order(other, status=4, remains=-5)
    assert send(sim, "status", order=other)["status"] == 4
    assert send(sim, "status", order=other)["remains"] == "-5"
    with pytest.raises(KeyError):
        sim.set_order(424242, status="Completed")


# ================================================================ refills and cancels

def test_refill_rules_and_replies() -> None:
    sim = create_simulator("68smm")
    order = place(sim, 1, 100)
    assert send(sim, "refill", order=order) == {"error": "Refill is only available for Completed or Partial orders"}
    sim.set_order(order, status="Completed")
    assert send(sim, "refill", order=order) == {"refill": "1"}
    assert send(sim, "refill", order=order) == {"error": "This order already has an active refill"}
    sim.set_refill(1, "Completed")
    no_refill = place(sim, 3, 100)
    sim.set_order(no_refill, status="Completed")
    assert send(sim, "refill", orders=f"{order},{no_refill},5") == [
        {"order": order, "refill": 2},
        {"order": no_refill, "refill": {"error": "Refill is not available for this service"}},
        {"order": 5, "refill": {"error": "Incorrect order ID"}},
    ]
    assert send(sim, "refill_status", refill=1) == {"status": "Completed"}
    assert send(sim, "refill_status", refills="1,2,3") == [
        {"refill": 1, "status": "Completed"}, {"refill": 2, "status": "Pending"},
        {"refill": 3, "status": {"error": "Refill not found"}}]
    assert send(sim, "refill_status", refill=9) == {"error": "Refill not found"}


def test_bare_multi_refill_and_refill_id_wording() -> None:
    sim = create_simulator("shopvn")
    first, second = place(sim, 1, 200), place(sim, 1, 200)
    for order in (first, second):
        sim.set_order(order, status="Completed")
    assert send(sim, "refill", orders=f"{first},{second}") == {"refill": "1"}
    assert len(sim.refills()) == 2
    assert send(sim, "refill_status", refill=7) == {"error": "Incorrect refill ID"}


def test_cancel() -> None:
    sim = create_simulator("68smm", balance="10")
    order, done, no_cancel = place(sim, 1, 1000), place(sim, 1, 100), place(sim, 3, 100)
    sim.set_order(done, status="Completed")
    assert send(sim, "cancel", orders=f"{order},{done},{no_cancel},9") == [
        {"order": order, "cancel": 1},
        {"order": done, "cancel": {"error": "Order is already finished and can't be canceled"}},
        {"order": no_cancel, "cancel": {"error": "Cancel is not available for this service"}},
        {"order": 9, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert sim.order(order).status == "Canceled" and sim.order(order).refunded == Decimal("0.9")


def test_id_lists() -> None:
    sim = create_simulator("standard")
    assert send(sim, "status", orders="1,x") == {"error": 'Invalid orders format, use: "1,2,3"'}
    too_many = ",".join(str(i) for i in range(1, 102))
    assert send(sim, "status", orders=too_many) == {"error": "Invalid orders: at most 100 allowed"}
    assert set(send(sim, "status", "json", orders=[1, 2, 2])) == {"1", "2"}


# ================================================================ faults and counters

@pytest.mark.parametrize(
    "fault, created, outcome, status",
    [
        (Fault.TIMEOUT_BEFORE_CREATE, 0, "hang", 0),
        (Fault.TIMEOUT_AFTER_CREATE, 1, "hang", 0),
        (Fault.DROP_BEFORE_CREATE, 0, "drop", 0),
        (Fault.DROP_AFTER_CREATE, 1, "drop", 0),
        (Fault.HTTP_500, 0, "reply", 500),
        (Fault.HTTP_500_AFTER_CREATE, 1, "reply", 500),
        (Fault.GARBLED, 1, "reply", 200),
        (Fault.SLOW, 1, "reply", 200),
    ],
)
def test_faults_in_the_core(fault: Fault, created: int, outcome: str, status: int) -> None:
    sim = create_simulator("68smm", hang_s=3, slow_s=0.5)
    sim.inject("add", fault)
    body = urlencode({"key": KEY, "action": "add", "service": 1, "link": LINK, "quantity": 100}).encode()
    reply = sim.respond("POST", "/api/v2", "", "application/x-www-form-urlencoded", body)
    assert reply.outcome == outcome and len(sim.created_orders) == created and sim.add_requests == 1
    if outcome == "hang":
        assert reply.delay_s == 3
    elif outcome == "reply":
        assert reply.status == status
    if fault is Fault.SLOW:
        assert reply.delay_s == 0.5 and json.loads(reply.body)["order"] == 23501
    if fault is Fault.GARBLED:
        with pytest.raises(ValueError):
            json.loads(reply.body)
    assert sim.pending_faults == 0
    assert "order" in send(sim, "add", service=1, link=LINK, quantity=100)  # the next request is normal


def test_handle_raises_for_drops_and_hangs() -> None:
    sim = create_simulator("standard")
    sim.inject("balance", "drop_before_create")
    sim.inject("*", "timeout_before_create")
    with pytest.raises(SimulatedDisconnect) as dropped:
        send(sim, "balance")
    assert not dropped.value.hang
    with pytest.raises(SimulatedDisconnect) as hung:
        send(sim, "services")
    assert hung.value.hang


def test_faults_are_counted_and_used_in_order() -> None:
    sim = create_simulator("standard")
    sim.inject("status", "http_500", count=2)
    sim.inject("status", "garbled", delay_s=0.25)
    replies = [sim.respond("POST", "/api/v2", urlencode({"key": KEY, "action": "status", "order": 1}), "", b"")
               for _ in range(4)]
    assert [r.status for r in replies] == [500, 500, 200, 200]
    assert replies[2].delay_s == 0.25 and replies[3].body == b'{"error":"Incorrect order ID"}'
    assert sim.request_count("status") == 4 and sim.requests == {"status": 4}
    sim.reset_counters()
    assert sim.requests == {}
    with pytest.raises(ValueError):
        sim.inject("add", "meteor")


def test_control_api_is_thread_safe() -> None:
    sim = create_simulator("standard", balance="1000000")

    def worker() -> None:
        for _ in range(25):
            order = place(sim, 1, 50)
            sim.set_order(order, status="In progress", start_count=3)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [c.order_id for c in sim.created_orders]
    assert len(ids) == len(set(ids)) == 200
    assert sim.balance == Decimal("1000000") - 200 * Decimal("0.045")


# ================================================================ in-process client

@pytest.mark.anyio
async def test_mock_transport_serves_the_client() -> None:
    sim = create_simulator("baostar")
    async with ProviderClient("http://sim/api/v2", KEY, transport=sim.mock_transport()) as client:
        assert await client.detect_encoding() == "json"
        order = await client.add({"service": 1, "link": LINK, "quantity": 300})
        sim.set_order(order, status="Partial", remains=100)
        status = (await client.statuses([order, "1"]))[order]
        assert status == UpstreamStatus(Status.PARTIAL, "Partial", Decimal("0.5"), 0, 100)
        sim.inject("add", "timeout_after_create")
        sim.inject("add", "drop_before_create")
        for _ in range(2):
            with pytest.raises(UpstreamError) as failed:
                await client.add({"service": 1, "link": LINK, "quantity": 300})
            assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME
    assert len(sim.created_orders) == 2 and sim.add_requests == 3
