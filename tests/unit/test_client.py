"""The API v2 client against fake peers (``httpx.MockTransport``).

Each seed panel's documented replies are served literally (the JSON text of
its page), and every transport fault is raised by the peer.
"""

from __future__ import annotations

import json
import logging
import traceback
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from smmpanel.client import (
    Balance,
    ClientUsageError,
    ErrorKind,
    ProviderClient,
    UpstreamError,
    UpstreamStatus,
    call,
)
from smmpanel.client import limits
from smmpanel.domain.status import RefillStatus, Status

pytestmark = pytest.mark.anyio

KEY = "k3y-SECRET-0123456789abcdef"
URL = "https://upstream.example/api/v2"

Responder = Callable[[str, dict[str, Any]], Any]


class Peer:
    """A fake upstream: records each request, answers with ``responder(action, params)``.

    The responder returns JSON text (served as is, so numbers keep the seed's
    spelling), an ``httpx.Response``, or raises an ``httpx`` exception.
    """

    def __init__(self, responder: Responder, *, accepts: str = "both") -> None:
        self.responder = responder
        self.accepts = accepts
        self.seen: list[tuple[str, dict[str, Any], str]] = []

    def actions(self) -> list[str]:
        return [action for action, _, _ in self.seen]

    def handle(self, request: httpx.Request) -> httpx.Response:
        content_type = request.headers.get("content-type", "")
        raw = request.content
        if content_type.startswith("application/json"):
            params: dict[str, Any] = json.loads(raw) if self.accepts in ("both", "json") else {}
        else:
            params = dict(parse_qsl(raw.decode())) if self.accepts in ("both", "form") else {}
        action = str(params.get("action", ""))
        self.seen.append((action, params, content_type))
        if not params.get("key"):
            out: Any = '{"error": "Incorrect request"}'
        else:
            out = self.responder(action, params)
        if isinstance(out, httpx.Response):
            return out
        return httpx.Response(200, text=out, headers={"Content-Type": "application/json"})

    def client(self, **options: Any) -> ProviderClient:
        return ProviderClient(URL, KEY, transport=httpx.MockTransport(self.handle), **options)


def replies(table: dict[str, str]) -> Responder:
    def respond(action: str, params: dict[str, Any]) -> str:
        return table.get(action, '{"error": "Invalid action"}')

    return respond


# =============================================================== seed 000: Like3s (JSON, numbers, Vietnamese)

LIKE3S_SERVICES = '[{"service": 101, "name": "Like Post Facebook", "rate": 25000, "min": 50, "max": 50000, "refill": false}]'
LIKE3S_STATUS = '{"status": "In progress", "remains": 300, "start_count": 200, "charge": 50000, "currency": "VND"}'
LIKE3S_ORDERS = """{
  "12345": { "status": "Completed", "remains": 0, "start_count": 500, "charge": 25000, "currency": "VND" },
  "67890": { "status": "In progress", "remains": 200, "start_count": 100, "charge": 10000, "currency": "VND" },
  "99999": { "error": "Không tìm thấy đơn hàng" }
}"""


def like3s(action: str, params: dict[str, Any]) -> str:
    if action == "balance":
        return '{"balance": 100000, "currency": "VND"}'
    if action == "services":
        return LIKE3S_SERVICES
    if action == "add":
        return '{"order": 987654}'
    if action == "status":
        return LIKE3S_STATUS if "order" in params else '{"error": "Không tìm thấy đơn hàng"}'
    if action == "orders":
        return LIKE3S_ORDERS
    return '{"error": "Action không hợp lệ"}'


async def test_like3s_balance_services_add() -> None:
    peer = Peer(like3s, accepts="json")
    async with peer.client(encoding="json") as client:
        assert await client.balance() == Balance(Decimal(100000), "VND")
        [service] = await client.services()
        assert service.service == "101" and service.rate == Decimal(25000)
        assert (service.type, service.category, service.min, service.max) == ("Default", "", 50, 50000)
        assert (service.refill, service.cancel, service.dripfeed) == (False, None, None)  # Like3s lists no cancel or dripfeed: not listed
        order = await client.add({"service": "101", "link": "https://facebook.com/post/1", "quantity": 500})
    assert order == "987654"
    _, body, content_type = peer.seen[-1]
    assert content_type == "application/json"
    assert body == {"key": KEY, "action": "add", "service": 101, "link": "https://facebook.com/post/1",
                    "quantity": 500}


async def test_like3s_multi_status_via_orders_action() -> None:
    peer = Peer(like3s, accepts="json")
    async with peer.client(encoding="json", multi_status_action="orders") as client:
        result = await client.statuses(["12345", "67890", "99999"])
    assert peer.actions() == ["orders"]
    assert peer.seen[0][1]["orders"] == "12345,67890,99999"
    assert result["12345"] == UpstreamStatus(Status.COMPLETED, "Completed", Decimal(25000), 500, 0)
    assert result["67890"] == UpstreamStatus(Status.IN_PROGRESS, "In progress", Decimal(10000), 100, 200)
    error = result["99999"]
    assert isinstance(error, UpstreamError) and error.kind is ErrorKind.UNKNOWN_ORDER
    assert error.detail == "Không tìm thấy đơn hàng"


async def test_like3s_multi_status_is_found_and_remembered() -> None:
    peer = Peer(like3s, accepts="json")
    async with peer.client(encoding="json") as client:  # starts with status&orders=
        first = await client.statuses(["12345", "67890"])
        assert client.multi_status_action == "orders"
        second = await client.statuses(["12345"])
    assert peer.actions() == ["status", "orders", "orders"]
    assert isinstance(first["12345"], UpstreamStatus) and first["12345"].status is Status.COMPLETED
    assert isinstance(second["12345"], UpstreamStatus)


async def test_like3s_has_no_refill_nor_cancel() -> None:
    peer = Peer(like3s, accepts="json")
    async with peer.client(encoding="json") as client:
        with pytest.raises(UpstreamError) as refused:
            await client.refill("12345")
        assert refused.value.kind is ErrorKind.UNSUPPORTED
        cancels = await client.cancel(["12345", "67890"])
        refills = await client.refill_statuses(["1", "2"])
    assert {k: v.kind for k, v in cancels.items() if v} == {"12345": ErrorKind.UNSUPPORTED,
                                                           "67890": ErrorKind.UNSUPPORTED}
    assert all(isinstance(v, UpstreamError) and v.kind is ErrorKind.UNSUPPORTED for v in refills.values())
    assert peer.actions().count("refill_status") == 1  # no single-call fallback for a missing action


@pytest.mark.parametrize(
    "message, kind",
    [
        ("Số dư không đủ", ErrorKind.OUT_OF_FUNDS),
        ("Dịch vụ không tồn tại", ErrorKind.BAD_SERVICE),
        ("Link không hợp lệ", ErrorKind.BAD_LINK),
        ("Số lượng tối thiểu là 50", ErrorKind.BAD_QUANTITY),
        ("API key không hợp lệ", ErrorKind.REJECTED),
        ("Thiếu thông tin: service, link, quantity là bắt buộc", ErrorKind.REJECTED),
    ],
)
async def test_like3s_vietnamese_refusals_of_add(message: str, kind: ErrorKind) -> None:
    peer = Peer(lambda action, params: json.dumps({"error": message}, ensure_ascii=False))
    async with peer.client(encoding="json") as client:
        with pytest.raises(UpstreamError) as refused:
            await client.add({"service": 101, "link": "https://facebook.com/p", "quantity": 50})
    assert refused.value.kind is kind
    assert refused.value.detail == message


async def test_json_money_is_exact() -> None:
    peer = Peer(replies({"status": '{"status": "Completed", "charge": 0.1, "remains": 0, "start_count": 7}',
                         "balance": '{"balance": 0.30000000000000004}'}))
    async with peer.client(encoding="json") as client:
        status = (await client.statuses(["5"]))["5"]
        balance = await client.balance()
    assert isinstance(status, UpstreamStatus) and status.charge == Decimal("0.1")
    assert balance.amount == Decimal("0.30000000000000004") and balance.currency is None


# =============================================================== seeds 001/003: shopvn.pro, subpro.vn (form, strings)

SHOPVN_SERVICES = """[ { "service": 1, "name": "Facebook views", "type": "Default", "category": "Facebook",
 "rate": "2.5", "min": "200", "max": "10000", "refill": true }, { "service": 2, "name": "Tiktok views",
 "type": "Default", "category": "Tiktok", "rate": "4", "min": "10", "max": "1500", "refill": false } ]"""
SHOPVN_STATUS = '{ "charge": "2.5", "start_count": "168", "status": "Completed", "remains": "-2" }'
SHOPVN_MULTI = """{ "123": { "charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157" },
 "456": { "error": "Incorrect order ID" }, "789": { "charge": "1.44219", "start_count": "234",
 "status": "In progress", "remains": "10" } }"""
SHOPVN_REFILL_STATUSES = """[ { "refill": 1, "status": "Completed" }, { "refill": 2, "status": "Rejected" },
 { "refill": 3, "status": { "error": "Incorrect refill ID" } } ]"""


def shopvn(action: str, params: dict[str, Any]) -> str:
    table = {
        "services": SHOPVN_SERVICES,
        "add": '{ "order": 99999 }',
        "status": SHOPVN_MULTI if "orders" in params else SHOPVN_STATUS,
        "balance": '{ "balance": "343423", "currency": "VND" }',
        "refill": '{ "refill": "1" }',
        "refill_status": SHOPVN_REFILL_STATUSES if "refills" in params else '{ "status": "Completed" }',
    }
    return table.get(action, '{"error": "Invalid action"}')


async def test_shopvn_form_requests_and_string_values() -> None:
    peer = Peer(shopvn, accepts="form")
    async with peer.client() as client:
        assert await client.balance() == Balance(Decimal("343423"), "VND")
        services = await client.services()
        order = await client.add({"service": 1, "link": "https://fb.com/v/1", "quantity": 1000,
                                  "comments": "a\nb"})
    assert [(s.service, s.rate, s.min, s.max, s.refill) for s in services] == [
        ("1", Decimal("2.5"), 200, 10000, True),
        ("2", Decimal("4"), 10, 1500, False),
    ]
    assert order == "99999"
    _, body, content_type = peer.seen[-1]
    assert content_type == "application/x-www-form-urlencoded"
    assert body == {"key": KEY, "action": "add", "service": "1", "link": "https://fb.com/v/1", "quantity": "1000",
                    "comments": "a\nb"}


async def test_shopvn_statuses_single_and_multi() -> None:
    peer = Peer(shopvn, accepts="form")
    async with peer.client(multi_status_action="single") as client:
        single = await client.statuses(["55"])
    assert peer.seen[-1][1] == {"key": KEY, "action": "status", "order": "55"}
    assert single["55"] == UpstreamStatus(Status.COMPLETED, "Completed", Decimal("2.5"), 168, -2)

    peer = Peer(shopvn, accepts="form")
    async with peer.client() as client:
        multi = await client.statuses(["123", "456", "789"])
    assert peer.actions() == ["status"]
    assert multi["123"] == UpstreamStatus(Status.PARTIAL, "Partial", Decimal("0.27819"), 3572, 157)
    assert isinstance(multi["456"], UpstreamError) and multi["456"].kind is ErrorKind.UNKNOWN_ORDER
    assert multi["789"] == UpstreamStatus(Status.IN_PROGRESS, "In progress", Decimal("1.44219"), 234, 10)


async def test_shopvn_refills() -> None:
    peer = Peer(shopvn, accepts="form")
    async with peer.client() as client:
        assert await client.refill("123") == "1"
        batch = await client.refill_many(["123", "789"])
        states = await client.refill_statuses(["1", "2", "3"])
        one = await client.refill_statuses(["1"])
    assert batch == {"123": "1", "789": "1"}  # the bare {"refill": "1"}: one id for the batch
    assert states["1"] is RefillStatus.COMPLETED and states["2"] is RefillStatus.REJECTED
    assert isinstance(states["3"], UpstreamError) and states["3"].kind is ErrorKind.UNKNOWN_ORDER
    assert one == {"1": RefillStatus.COMPLETED}


async def test_shopvn_has_no_cancel() -> None:
    peer = Peer(shopvn, accepts="form")
    async with peer.client() as client:
        result = await client.cancel(["123"])
    assert isinstance(result["123"], UpstreamError) and result["123"].kind is ErrorKind.UNSUPPORTED


# =============================================================== seed 002: baostar (JSON, strings, thin multi entries)

def baostar(action: str, params: dict[str, Any]) -> str:
    if action == "status" and "orders" in params:
        return '{ "123": { "status": "Partial" }, "456": { "error": "Incorrect order ID" } }'
    if action == "status":
        return '{ "charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157" }'
    if action == "refill_status":
        return '[{ "refill": 1, "status": "Completed" }, { "refill": 2, "status": "Rejected" }]'
    if action == "refill":
        return '{ "refill": "1" }'
    return '{"error": "Invalid action"}'


async def test_baostar_partial_without_remains_is_completed_by_a_single_call() -> None:
    peer = Peer(baostar, accepts="json")
    async with peer.client(encoding="json") as client:
        result = await client.statuses(["123", "456"])
    assert peer.actions() == ["status", "status"]
    assert peer.seen[1][1]["order"] == 123  # sent as a JSON number
    assert result["123"] == UpstreamStatus(Status.PARTIAL, "Partial", Decimal("0.27819"), 3572, 157)
    assert isinstance(result["456"], UpstreamError)


async def test_baostar_thin_entry_kept_when_the_single_call_fails() -> None:
    def flaky(action: str, params: dict[str, Any]) -> str:
        if "order" in params:
            raise httpx.ReadTimeout("slow")
        return baostar(action, params)

    peer = Peer(flaky)
    async with peer.client(encoding="json") as client:
        result = await client.statuses(["123"])
    assert result["123"] == UpstreamStatus(Status.PARTIAL, "Partial", None, None, None)


async def test_baostar_refill_statuses_missing_entry_is_unknown_not_success() -> None:
    peer = Peer(baostar)
    async with peer.client(encoding="json") as client:
        result = await client.refill_statuses(["1", "2", "3"])
    assert result["1"] is RefillStatus.COMPLETED and result["2"] is RefillStatus.REJECTED
    assert isinstance(result["3"], UpstreamError) and result["3"].kind is ErrorKind.UNKNOWN_OUTCOME


# =============================================================== seed 004: 68smm (full Perfect Panel)

SMM68_SERVICES = """[ { "service": 1, "name": "Followers", "type": "Default", "category": "First Category",
 "rate": "0.90", "min": "50", "max": "10000", "refill": true, "cancel": true }, { "service": 2,
 "name": "Comments", "type": "Custom Comments", "category": "Second Category", "rate": "8", "min": "10",
 "max": "1500", "refill": false, "cancel": true } ]"""
SMM68_MULTI = """{ "1": { "charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157",
 "currency": "USD" }, "10": { "error": "Incorrect order ID" }, "100": { "charge": "1.44219", "start_count": "234",
 "status": "In progress", "remains": "10", "currency": "USD" } }"""
SMM68_MULTI_REFILL = """[ { "order": 1, "refill": 1 }, { "order": 2, "refill": 2 },
 { "order": 3, "refill": { "error": "Incorrect order ID" } } ]"""
SMM68_REFILL_STATUSES = """[ { "refill": 1, "status": "Completed" }, { "refill": 2, "status": "Rejected" },
 { "refill": 3, "status": { "error": "Refill not found" } } ]"""
SMM68_CANCEL = '[ { "order": 9, "cancel": { "error": "Incorrect order ID" } }, { "order": 2, "cancel": 1 } ]'


def smm68(action: str, params: dict[str, Any]) -> str:
    table = {
        "services": SMM68_SERVICES,
        "add": '{ "order": 23501 }',
        "status": SMM68_MULTI if "orders" in params else
        '{ "charge": "0.27819", "start_count": "3572", "status": "Partial", "remains": "157", "currency": "USD" }',
        "refill": SMM68_MULTI_REFILL if "orders" in params else '{ "refill": "1" }',
        "refill_status": SMM68_REFILL_STATUSES if "refills" in params else '{ "status": "Completed" }',
        "cancel": SMM68_CANCEL,
        "balance": '{ "balance": "100.84292", "currency": "USD" }',
    }
    return table.get(action, '{"error": "Invalid action"}')


async def test_68smm_catalog_and_order_types() -> None:
    peer = Peer(smm68, accepts="form")
    async with peer.client() as client:
        services = await client.services()
        assert await client.add({"service": 1, "link": "https://ig.com/u", "quantity": 100, "runs": 5,
                                 "interval": 30}) == "23501"
        assert peer.seen[-1][1]["runs"] == "5" and peer.seen[-1][1]["interval"] == "30"
        await client.add({"service": 2, "link": "https://ig.com/p", "comments": "nice\r\ncool"})
        assert peer.seen[-1][1]["comments"] == "nice\r\ncool"
        assert await client.balance() == Balance(Decimal("100.84292"), "USD")
    assert services[0].rate == Decimal("0.90") and services[0].cancel and services[0].refill
    assert services[1].type == "Custom Comments" and not services[1].refill


async def test_68smm_statuses_refills_cancel() -> None:
    peer = Peer(smm68, accepts="form")
    async with peer.client() as client:
        statuses = await client.statuses(["1", "10", "100"])
        refills = await client.refill_many(["1", "2", "3"])
        refill_states = await client.refill_statuses(["1", "2", "3"])
        cancels = await client.cancel(["9", "2"])
    assert statuses["1"] == UpstreamStatus(Status.PARTIAL, "Partial", Decimal("0.27819"), 3572, 157)
    assert isinstance(statuses["10"], UpstreamError) and statuses["10"].kind is ErrorKind.UNKNOWN_ORDER
    assert refills["1"] == "1" and refills["2"] == "2"
    assert isinstance(refills["3"], UpstreamError) and refills["3"].kind is ErrorKind.UNKNOWN_ORDER
    assert refill_states["1"] is RefillStatus.COMPLETED
    assert isinstance(refill_states["3"], UpstreamError) and refill_states["3"].kind is ErrorKind.UNKNOWN_ORDER
    assert cancels["2"] is None
    assert isinstance(cancels["9"], UpstreamError) and cancels["9"].kind is ErrorKind.UNKNOWN_ORDER
    assert peer.seen[-1][1]["orders"] == "9,2"


async def test_cancel_always_answers_every_id() -> None:
    peer = Peer(replies({"cancel": '[{"order": 2, "cancel": 1}]'}))
    async with peer.client() as client:
        result = await client.cancel(["2", "3"])
    assert result["2"] is None
    assert isinstance(result["3"], UpstreamError) and result["3"].kind is ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize(
    "reply, accepted",
    [('{"cancel": 1}', True), ('[{"order": "2", "cancel": "1"}]', True), ('[{"order": 2, "cancel": true}]', True),
     ('{"2": {"cancel": 1}}', True), ('[{"order": 2, "cancel": 0}]', False), ('[{"order": 2}]', False)],
)
async def test_cancel_reply_variants(reply: str, accepted: bool) -> None:
    peer = Peer(replies({"cancel": reply}))
    async with peer.client() as client:
        result = await client.cancel(["2"])
    assert (result["2"] is None) is accepted


# =============================================================== tolerance (spec section 6)

@pytest.mark.parametrize("reply", ['{"order": 23501}', '{"order": "23501"}', '{"order": " 23501"}',
                                   '{"order": 23501.0}', '{"order": 23501, "error": null}'])
async def test_order_id_as_number_or_string(reply: str) -> None:
    async with Peer(replies({"add": reply})).client() as client:
        assert await client.add({"service": 1, "link": "x", "quantity": 10}) == "23501"


@pytest.mark.parametrize("reply", ['{"order": 5, "error": "Not enough funds on balance"}',
                                   '{"order": null}', '{"order": "abc"}', '{"order": 0}', "{}", "[]", '"ok"',
                                   '{"status": "success"}', "null"])
async def test_add_reply_without_usable_id_is_unknown_outcome(reply: str) -> None:
    async with Peer(replies({"add": reply})).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": "x", "quantity": 10})
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize(
    "entry, status, remains",
    [
        ({"status": "completed", "remains": "0"}, Status.COMPLETED, 0),
        ({"status": "CANCELLED", "remains": 100}, Status.CANCELED, 100),
        ({"status": "Refunded"}, Status.CANCELED, None),
        ({"status": "Fail", "remains": "10"}, None, 10),
        ({"status": "Error"}, None, None),
        ({"status": 2, "remains": "-15"}, Status.COMPLETED, -15),
        ({"status": "4", "remains": "abc"}, Status.CANCELED, None),
        ({"status": "Something new", "remains": None}, None, None),
        ({"status": "Partial", "remains": "12.0"}, Status.PARTIAL, 12),
    ],
)
async def test_status_values(entry: dict[str, Any], status: Status | None, remains: int | None) -> None:
    async with Peer(replies({"status": json.dumps(entry)})).client(multi_status_action="single") as client:
        result = (await client.statuses(["7"]))["7"]
    assert isinstance(result, UpstreamStatus)
    assert result.status is status and result.remains == remains
    assert result.raw_status == str(entry["status"])


async def test_numeric_codes_can_be_disabled() -> None:
    peer = Peer(replies({"status": '{"status": "4"}'}))
    async with peer.client(multi_status_action="single", status_codes={}) as client:
        result = (await client.statuses(["7"]))["7"]
    assert isinstance(result, UpstreamStatus) and result.status is None and result.raw_status == "4"


async def test_status_entry_without_status_is_unknown_outcome() -> None:
    async with Peer(replies({"status": '{"charge": "1"}'})).client(multi_status_action="single") as client:
        result = (await client.statuses(["7"]))["7"]
    assert isinstance(result, UpstreamError) and result.kind is ErrorKind.UNKNOWN_OUTCOME


@pytest.mark.parametrize("flag, expected", [("true", True), ('"1"', True), ("1", True), ('"true"', True),
                                            ("false", False), ('"0"', False), ("0", False), ("null", None)])
async def test_service_flags(flag: str, expected: bool | None) -> None:
    reply = f'[{{"service": "3", "name": "X", "rate": "1", "min": "1", "max": "9", "refill": {flag}, ' \
            f'"cancel": {flag}, "dripfeed": {flag}}}]'
    async with Peer(replies({"services": reply})).client() as client:
        [service] = await client.services()
    assert (service.refill, service.cancel, service.dripfeed) == (expected, expected, expected)


async def test_services_skip_unusable_entries() -> None:
    reply = '[{"service": 1, "rate": "x", "min": 1, "max": 2}, {"service": 2, "name": "ok", "rate": "1", ' \
            '"min": 1, "max": 2}, "junk", {"name": "no id", "rate": 1, "min": 1, "max": 2}]'
    async with Peer(replies({"services": reply})).client() as client:
        services = await client.services()
    assert [s.service for s in services] == ["2"]


async def test_services_of_wrong_shape() -> None:
    async with Peer(replies({"services": '"nope"'})).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.services()
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME


# =============================================================== multi-status fallbacks and chunking

async def test_fallback_to_single_calls_when_no_multi_status_exists() -> None:
    def single_only(action: str, params: dict[str, Any]) -> str:
        if action == "status" and "order" in params:
            return json.dumps({"status": "Completed", "remains": "0", "charge": "1", "start_count": "0"})
        if action == "status":
            return '{"error": "Incorrect order ID"}'
        return '{"error": "Invalid action"}'

    peer = Peer(single_only)
    async with peer.client() as client:
        result = await client.statuses(["1", "2", "3"])
        assert client.multi_status_action == "single"
        await client.statuses(["4"])
    assert peer.actions()[:2] == ["status", "orders"]
    assert sorted(p.get("order", "") for a, p, _ in peer.seen[2:5]) == ["1", "2", "3"]
    assert len(peer.seen) == 6  # the 4th id went straight to a single call
    assert all(isinstance(v, UpstreamStatus) and v.status is Status.COMPLETED for v in result.values())


async def test_a_panel_ignoring_orders_gets_single_calls() -> None:
    def ignores_orders(action: str, params: dict[str, Any]) -> str:
        if action == "status":
            return json.dumps({"status": "Pending", "order": params.get("order")})
        return '{"error": "Invalid action"}'

    peer = Peer(ignores_orders)
    async with peer.client() as client:
        result = await client.statuses(["1", "2"])
    assert set(result) == {"1", "2"} and client.multi_status_action == "single"


async def test_a_refused_key_does_not_trigger_fallback() -> None:
    peer = Peer(replies({"status": '{"error": "Invalid API key"}'}))
    async with peer.client() as client:
        result = await client.statuses(["1", "2"])
    assert peer.actions() == ["status"]
    assert all(isinstance(v, UpstreamError) and v.kind is ErrorKind.REJECTED for v in result.values())


@pytest.mark.parametrize("message", ["Too many requests, slow down", "Not enough funds on balance",
                                     "Site is under maintenance"])
async def test_other_refusals_do_not_downgrade_the_multi_spelling(message: str) -> None:
    peer = Peer(replies({"status": json.dumps({"error": message})}))
    async with peer.client() as client:
        result = await client.statuses(["1", "2"])
        assert client.multi_status_action == "status"
    assert peer.actions() == ["status"]
    assert all(isinstance(v, UpstreamError) and v.detail == message for v in result.values())


async def test_statuses_chunks_by_max_ids_and_dedupes() -> None:
    def all_completed(action: str, params: dict[str, Any]) -> str:
        ids = params["orders"].split(",")
        return json.dumps({i: {"status": "Completed", "remains": "0"} for i in ids})

    peer = Peer(all_completed)
    ids = [str(i) for i in range(1, 251)] + ["5", "6"]
    async with peer.client(max_ids=100) as client:
        result = await client.statuses(ids)
    assert [len(p["orders"].split(",")) for _, p, _ in peer.seen] == [100, 100, 50]
    assert len(result) == 250


async def test_a_transport_fault_is_the_entry_of_each_id() -> None:
    def down(action: str, params: dict[str, Any]) -> str:
        raise httpx.ReadTimeout("timed out")

    async with Peer(down).client() as client:
        result = await client.statuses(["1", "2"])
        refills = await client.refill_statuses(["1"])
        cancels = await client.cancel(["1"])
    for value in (*result.values(), *refills.values(), *cancels.values()):
        assert isinstance(value, UpstreamError) and value.kind is ErrorKind.UNKNOWN_OUTCOME


async def test_refill_statuses_fall_back_to_single_calls() -> None:
    def single_only(action: str, params: dict[str, Any]) -> str:
        if "refill" in params:
            return '{"status": "In progress"}'
        return '{"error": "Incorrect request"}'

    peer = Peer(single_only)
    async with peer.client() as client:
        result = await client.refill_statuses(["4", "5"])
    assert result == {"4": RefillStatus.IN_PROGRESS, "5": RefillStatus.IN_PROGRESS}
    assert len(peer.seen) == 3


@pytest.mark.parametrize("reply", ['{"refill": 1}', '{"refill": "1"}', '[{"order": 77, "refill": 1}]'])
async def test_single_refill_reply_variants(reply: str) -> None:
    async with Peer(replies({"refill": reply})).client() as client:
        assert await client.refill("77") == "1"


async def test_refill_refusal_inside_the_reply() -> None:
    async with Peer(replies({"refill": '{"refill": {"error": "Refill is not available for this service"}}'})
                    ).client() as client:
        with pytest.raises(UpstreamError) as refused:
            await client.refill("77")
    assert refused.value.kind is ErrorKind.REJECTED


# =============================================================== transport faults

@pytest.mark.parametrize(
    "fault, kind",
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ErrorKind.UNREACHABLE),
        (httpx.ConnectError("[Errno -2] Name or service not known"), ErrorKind.UNREACHABLE),
        (httpx.ConnectTimeout("connect timed out"), ErrorKind.UNREACHABLE),
        (httpx.PoolTimeout("no free connection"), ErrorKind.UNREACHABLE),
        (httpx.UnsupportedProtocol("ftp"), ErrorKind.UNREACHABLE),
        (httpx.ReadTimeout("read timed out"), ErrorKind.UNKNOWN_OUTCOME),
        (httpx.WriteTimeout("write timed out"), ErrorKind.UNKNOWN_OUTCOME),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ErrorKind.UNKNOWN_OUTCOME),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), ErrorKind.UNKNOWN_OUTCOME),
        (httpx.WriteError("broken pipe"), ErrorKind.UNKNOWN_OUTCOME),
        (httpx.ProxyError("proxy said no"), ErrorKind.UNKNOWN_OUTCOME),
        (ConnectionResetError("reset"), ErrorKind.UNKNOWN_OUTCOME),
    ],
)
async def test_transport_faults(fault: Exception, kind: ErrorKind) -> None:
    def raise_it(action: str, params: dict[str, Any]) -> str:
        raise fault

    async with Peer(raise_it).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": "x", "quantity": 10})
    assert failed.value.kind is kind
    assert failed.value.safe_to_retry is (kind is ErrorKind.UNREACHABLE)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


@pytest.mark.parametrize(
    "status, body, kind",
    [
        (500, '{"error": "Internal error"}', ErrorKind.UNKNOWN_OUTCOME),
        (500, '{"error": "Not enough funds on balance"}', ErrorKind.UNKNOWN_OUTCOME),
        (502, "<html>Bad gateway</html>", ErrorKind.UNKNOWN_OUTCOME),
        (503, "", ErrorKind.UNKNOWN_OUTCOME),
        (301, "", ErrorKind.UNKNOWN_OUTCOME),
        (429, '{"error": "Too many requests"}', ErrorKind.UNREACHABLE),
        (404, "<html>Not found</html>", ErrorKind.REJECTED),
        (403, "Forbidden", ErrorKind.REJECTED),
        (400, '{"error": "Not enough funds on balance"}', ErrorKind.OUT_OF_FUNDS),
        (413, '{"error": "Request too large"}', ErrorKind.REJECTED),
    ],
)
async def test_http_statuses(status: int, body: str, kind: ErrorKind) -> None:
    async with Peer(lambda a, p: httpx.Response(status, text=body)).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": "x", "quantity": 10})
    assert failed.value.kind is kind and failed.value.http_status == status


@pytest.mark.parametrize(
    "body",
    [b"<br />\n<b>Warning</b>: mysqli {\"ord", b"", b"   ", b'{"order": 1', b"\xff\xfe\x00garbage", b'{"a": NaN}',
     b"Service Unavailable"],
)
async def test_unreadable_bodies_are_unknown_outcome(body: bytes) -> None:
    async with Peer(lambda a, p: httpx.Response(200, content=body)).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": "x", "quantity": 10})
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME


async def test_a_bom_before_json_is_tolerated() -> None:
    async with Peer(lambda a, p: httpx.Response(200, content=b'\xef\xbb\xbf{"order": 12}')).client() as client:
        assert await client.add({"service": 1, "link": "x", "quantity": 10}) == "12"


async def test_oversized_reply_is_unknown_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_REPLY_BYTES", 100)
    async with Peer(lambda a, p: httpx.Response(200, content=b"[" + b"1," * 200 + b"1]")).client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.services()
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME


async def test_a_call_is_abandoned_after_the_total_deadline() -> None:
    async def dripping(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200, text='{"order": 1}')

    client = ProviderClient(URL, KEY, timeout_s=0.05, transport=httpx.MockTransport(dripping))
    with anyio.fail_after(2):
        with pytest.raises(UpstreamError) as failed:
            await client.add({"service": 1, "link": "x", "quantity": 10})
    await client.aclose()
    assert failed.value.kind is ErrorKind.UNKNOWN_OUTCOME


# =============================================================== the key never leaks

async def test_the_key_never_appears_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faults: list[Any] = [
        '{"error": "Invalid API key: %s"}' % KEY,
        httpx.Response(200, text=f"<html>debug: key={KEY}</html>"),
        httpx.Response(404, text=f"no route for key {KEY}"),
        httpx.Response(500, text=json.dumps({"error": f"crash with {KEY}"})),
        '{"status": "Fail %s"}' % KEY,
    ]

    def leaky(action: str, params: dict[str, Any]) -> Any:
        if faults:
            return faults.pop(0)
        raise httpx.ConnectError(f"cannot send {params}")

    errors: list[BaseException] = []
    client = Peer(leaky).client()
    for _ in range(4):
        try:
            await client.add({"service": 1, "link": "x", "quantity": 10})
        except UpstreamError as exc:
            errors.append(exc)
    status = (await client.statuses(["1"]))["1"]  # an unmapped status is logged
    assert isinstance(status, UpstreamStatus) and status.status is None
    try:
        await client.add({"service": 1, "link": "x", "quantity": 10})
    except UpstreamError as exc:
        errors.append(exc)
    assert len(errors) == 5 and "cannot send" in str(errors[-1])
    texts = [repr(client), str(client), repr(status)]
    for exc in errors:
        texts += [str(exc), repr(exc), exc.detail, "".join(traceback.format_exception(exc))]
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert KEY not in text
    await client.aclose()


async def test_statuses_log_unknown_values_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="smmpanel.client")
    async with Peer(replies({"status": '{"status": "Weird"}'})).client(multi_status_action="single") as client:
        result = (await client.statuses(["1"]))["1"]
    assert isinstance(result, UpstreamStatus) and result.status is None
    assert any("Weird" in r.getMessage() for r in caplog.records)


# =============================================================== encoding detection, raw call, usage errors

async def test_detect_encoding_json_only_panel() -> None:
    peer = Peer(replies({"balance": '{"balance": 1, "currency": "VND"}'}), accepts="json")
    async with peer.client() as client:
        assert await client.detect_encoding() == "json"
        assert client.encoding == "json"
        assert (await client.balance()).amount == Decimal(1)
    assert [ct for _, _, ct in peer.seen] == ["application/x-www-form-urlencoded", "application/json",
                                               "application/json"]


async def test_detect_encoding_form_panel() -> None:
    peer = Peer(replies({"balance": '{"balance": "5"}'}), accepts="form")
    async with peer.client(encoding="json") as client:
        assert await client.detect_encoding() == "form"
    assert len(peer.seen) == 1


async def test_detect_encoding_json_panel_answering_garbage_to_form() -> None:
    def garbage_for_form(request: httpx.Request) -> httpx.Response:
        if request.headers["content-type"].startswith("application/json"):
            return httpx.Response(200, text='{"balance": "2"}')
        return httpx.Response(200, text="<b>Notice</b>: Trying to access array offset on null")

    async with ProviderClient(URL, KEY, transport=httpx.MockTransport(garbage_for_form)) as client:
        assert await client.detect_encoding() == "json"


async def test_detect_encoding_reports_a_refused_key() -> None:
    peer = Peer(replies({"balance": '{"error": "API key không hợp lệ"}'}), accepts="json")
    async with peer.client() as client:
        with pytest.raises(UpstreamError) as failed:
            await client.detect_encoding()
    assert failed.value.kind is ErrorKind.REJECTED and "API key" in failed.value.detail


async def test_detect_encoding_when_unreachable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with ProviderClient(URL, KEY, transport=httpx.MockTransport(down)) as client:
        with pytest.raises(UpstreamError) as failed:
            await client.detect_encoding()
    assert failed.value.kind is ErrorKind.UNREACHABLE


async def test_raw_call_returns_the_reply_as_sent() -> None:
    peer = Peer(replies({"balance": '{"balance": 100.84292, "currency": "USD"}', "add": '{"error": "Bad link"}'}))
    transport = httpx.MockTransport(peer.handle)
    assert await call(URL, KEY, "balance", {}, transport=transport) == {"balance": Decimal("100.84292"),
                                                                         "currency": "USD"}
    assert await call(URL, KEY, "add", {"service": 1}, encoding="json", transport=transport) == {"error": "Bad link"}
    assert peer.seen[-1][1] == {"key": KEY, "action": "add", "service": 1}


async def test_usage_errors() -> None:
    with pytest.raises(ClientUsageError):
        ProviderClient(URL, KEY, max_ids=101)
    with pytest.raises(ClientUsageError):
        ProviderClient(URL, KEY, encoding="xml")
    with pytest.raises(ClientUsageError):
        ProviderClient(URL, KEY, multi_status_action="bulk")
    with pytest.raises(ClientUsageError):
        ProviderClient(URL, "")
    async with Peer(shopvn).client() as client:
        with pytest.raises(ClientUsageError):
            await client.add({"service": 1, "key": "other"})
        with pytest.raises(ClientUsageError):
            await client.statuses("123")  # type: ignore[arg-type]
        with pytest.raises(ClientUsageError):
            await client.statuses(["1,2"])
