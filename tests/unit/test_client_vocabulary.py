"""Pure parts of the API v2 client: value tolerance, status words, error classification."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smmpanel.client import ErrorKind, UpstreamError, classify
from smmpanel.client.classify import is_auth_error
from smmpanel.client.statuses import PERFECT_PANEL_STATUS_CODES, order_status, refill_status
from smmpanel.client.values import NotJson, loads, to_bool, to_decimal, to_id, to_int
from smmpanel.client.wire import error_text, public_url, scrub
from smmpanel.domain.status import RefillStatus, Status


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Pending", Status.PENDING),
        ("pending", Status.PENDING),
        ("Processing", Status.PROCESSING),
        ("In progress", Status.IN_PROGRESS),
        ("IN PROGRESS", Status.IN_PROGRESS),
        ("in_progress", Status.IN_PROGRESS),
        ("Inprogress", Status.IN_PROGRESS),
        ("in-progress", Status.IN_PROGRESS),
        (" Completed ", Status.COMPLETED),
        ("complete", Status.COMPLETED),
        ("PARTIAL", Status.PARTIAL),
        ("Canceled", Status.CANCELED),
        ("Cancelled", Status.CANCELED),
        ("CANCELLED", Status.CANCELED),
        ("Refunded", Status.CANCELED),
        ("Fail", None),
        ("failed", None),
        ("Error", None),
        ("Awaiting", None),
        ("", None),
        ("0", Status.PENDING),
        ("1", Status.IN_PROGRESS),
        ("2", Status.COMPLETED),
        ("3", Status.PARTIAL),
        ("4", Status.CANCELED),
        ("5", Status.PROCESSING),
        ("6", None),
        ("7", None),
        ("42", None),
    ],
)
def test_order_status_words(raw: str, expected: Status | None) -> None:
    assert order_status(raw) is expected


def test_numeric_status_codes_can_be_refused_per_panel() -> None:
    assert order_status("4", {}) is None
    assert order_status("4", {4: Status.COMPLETED}) is Status.COMPLETED
    assert order_status("Canceled", {}) is Status.CANCELED
    assert PERFECT_PANEL_STATUS_CODES[4] is Status.CANCELED


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Pending", RefillStatus.PENDING),
        ("In progress", RefillStatus.IN_PROGRESS),
        ("processing", RefillStatus.IN_PROGRESS),
        ("COMPLETED", RefillStatus.COMPLETED),
        ("Rejected", RefillStatus.REJECTED),
        ("Cancelled", RefillStatus.REJECTED),
        ("Partial", None),
        ("2", None),
    ],
)
def test_refill_status_words(raw: str, expected: RefillStatus | None) -> None:
    assert refill_status(raw) is expected


@pytest.mark.parametrize(
    "message, kind",
    [
        # spec section 4, English
        ("Incorrect request", ErrorKind.REJECTED),
        ("Invalid API key", ErrorKind.REJECTED),
        ("Invalid action", ErrorKind.UNSUPPORTED),
        ("Missing required fields: service, link, quantity", ErrorKind.REJECTED),
        ("Incorrect service ID", ErrorKind.BAD_SERVICE),
        ("Bad link", ErrorKind.BAD_LINK),
        ("Quantity less than minimal 50", ErrorKind.BAD_QUANTITY),
        ("Quantity more than maximal 10000", ErrorKind.BAD_QUANTITY),
        ("Not enough funds on balance", ErrorKind.OUT_OF_FUNDS),
        ("Incorrect order ID", ErrorKind.UNKNOWN_ORDER),
        ('Invalid orders format, use: "1,2,3"', ErrorKind.REJECTED),
        ("Refill not found", ErrorKind.UNKNOWN_ORDER),
        ("Incorrect refill ID", ErrorKind.UNKNOWN_ORDER),
        ("You have active order with this link. Please wait until order being completed.", ErrorKind.REJECTED),
        ("Refill is not available for this service", ErrorKind.REJECTED),
        ("Cancel is not available for this service", ErrorKind.REJECTED),
        ("Order is already finished and can't be canceled", ErrorKind.REJECTED),
        # spec section 4, Vietnamese (Like3s)
        ("Yêu cầu không hợp lệ", ErrorKind.REJECTED),
        ("API key không hợp lệ", ErrorKind.REJECTED),
        ("Action không hợp lệ", ErrorKind.UNSUPPORTED),
        ("Thiếu thông tin: service, link, quantity là bắt buộc", ErrorKind.REJECTED),
        ("Dịch vụ không tồn tại", ErrorKind.BAD_SERVICE),
        ("Link không hợp lệ", ErrorKind.BAD_LINK),
        ("Số lượng tối thiểu là 50", ErrorKind.BAD_QUANTITY),
        ("Số lượng tối đa là 50000", ErrorKind.BAD_QUANTITY),
        ("Số dư không đủ", ErrorKind.OUT_OF_FUNDS),
        ("So du khong du", ErrorKind.OUT_OF_FUNDS),  # without diacritics
        ("Không tìm thấy đơn hàng", ErrorKind.UNKNOWN_ORDER),
        ('Định dạng orders không hợp lệ, dùng dạng: "1,2,3"', ErrorKind.REJECTED),
        ("Không tìm thấy yêu cầu bảo hành", ErrorKind.UNKNOWN_ORDER),
        ("Link này đang có đơn chạy, vui lòng chờ hoàn thành.", ErrorKind.REJECTED),
        # raw translation keys and other panels' words
        ("neworder.error.not_enough_funds", ErrorKind.OUT_OF_FUNDS),
        ("neworder.error.link", ErrorKind.BAD_LINK),
        ("neworder.error.min_quantity", ErrorKind.BAD_QUANTITY),
        ("neworder.error.service", ErrorKind.BAD_SERVICE),
        ("Insufficient balance", ErrorKind.OUT_OF_FUNDS),
        ("Service is disabled", ErrorKind.BAD_SERVICE),
        ("Invalid URL", ErrorKind.BAD_LINK),
        ("Order not found", ErrorKind.UNKNOWN_ORDER),
        ("Something odd happened", ErrorKind.REJECTED),
    ],
)
def test_classify(message: str, kind: ErrorKind) -> None:
    assert classify(message) is kind


def test_auth_errors_are_recognised() -> None:
    assert is_auth_error("Invalid API key")
    assert is_auth_error("API key không hợp lệ")
    assert not is_auth_error("Incorrect order ID")
    assert not is_auth_error("Action không hợp lệ")


@pytest.mark.parametrize(
    "message, expected",
    [("Invalid action", True), ("Action không hợp lệ", True), ("Incorrect order ID", True),
     ("Không tìm thấy đơn hàng", True), ("Incorrect request", True), ("Missing order", True),
     ('Invalid orders format, use: "1,2,3"', True), ("Refill not found", True), ("Invalid API key", False),
     ("Not enough funds on balance", False), ("Too many requests", False), ("Maintenance", False)],
)
def test_means_spelling_unsupported(message: str, expected: bool) -> None:
    from smmpanel.client.classify import means_spelling_unsupported

    assert means_spelling_unsupported(message) is expected


def test_json_numbers_stay_exact() -> None:
    data = loads('{"rate": 0.1, "balance": 100.84292, "n": 3, "big": 12345678901234567890.123456789}')
    assert data["rate"] == Decimal("0.1")
    assert data["balance"] == Decimal("100.84292")
    assert data["n"] == 3 and isinstance(data["n"], int)
    assert data["big"] == Decimal("12345678901234567890.123456789")
    with pytest.raises(NotJson):
        loads('{"a": NaN}')
    with pytest.raises(NotJson):
        loads("<html>")


@pytest.mark.parametrize(
    "raw, expected",
    [(157, 157), ("157", 157), ("-2", -2), (" 12 ", 12), (Decimal("12.0"), 12), ("12.0", 12), ("12.5", None),
     ("abc", None), ("", None), (None, None), (True, None), ([], None)],
)
def test_to_int(raw: object, expected: int | None) -> None:
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [("2.5", Decimal("2.5")), (25000, Decimal(25000)), (Decimal("0.27819"), Decimal("0.27819")),
     ("abc", None), ("NaN", None), ("Infinity", None), (0.1, None), (True, None), (None, None)],
)
def test_to_decimal(raw: object, expected: Decimal | None) -> None:
    assert to_decimal(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [(True, True), ("1", True), (1, True), ("true", True), ("TRUE", True), (False, False), ("0", False),
     (0, False), ("false", False), (None, False), ("maybe", None)],
)
def test_to_bool(raw: object, expected: bool | None) -> None:
    assert to_bool(raw) is expected


@pytest.mark.parametrize(
    "raw, expected",
    [(23501, "23501"), ("23501", "23501"), (" 23501 ", "23501"), ("023501", "23501"), (Decimal("23501"), "23501"),
     (0, None), (-5, None), ("abc", None), ("12a", None), (None, None), (True, None), (12.5, None)],
)
def test_to_id(raw: object, expected: str | None) -> None:
    assert to_id(raw) == expected


@pytest.mark.parametrize(
    "data, expected",
    [({"error": "Bad link"}, "Bad link"), ({"error": None, "order": 1}, None), ({"order": 1}, None),
     ({"error": {"message": "Nope"}}, "Nope"), ({"error": True, "message": "Oops"}, "Oops"), ([1], None),
     ({"error": ""}, None)],
)
def test_error_text(data: object, expected: str | None) -> None:
    assert error_text(data) == expected


def test_scrub_removes_the_key_in_every_spelling() -> None:
    key = "a+b/c=d secret"
    assert "secret" not in scrub(f"bad key {key} and a%2Bb%2Fc%3Dd+secret", key)
    assert scrub("x" * 2000, key).endswith("…")


def test_public_url_drops_credentials_and_query() -> None:
    assert public_url("https://user:pw@panel.example/api/v2?key=abc#x") == "https://panel.example/api/v2"


def test_upstream_error_is_plain_and_comparable() -> None:
    error = UpstreamError(ErrorKind.UNREACHABLE, "down")
    assert str(error) == "unreachable: down"
    assert error.safe_to_retry and not error.definite
    assert UpstreamError(ErrorKind.BAD_LINK, "Bad link").definite
    assert error == UpstreamError(ErrorKind.UNREACHABLE, "down")
    import pickle

    assert pickle.loads(pickle.dumps(error)) == error
