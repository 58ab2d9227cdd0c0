"""What a simulated panel says when it refuses: English (Perfect Panel) or Vietnamese (Like3s).

These mimic foreign panels (spec section 4 for the shared texts); they are
not our own server's messages, which live in ``smmpanel.api.messages``.
"""

from __future__ import annotations

from typing import Mapping

TEXTS: Mapping[str, tuple[str, str]] = {
    "incorrect_request": ("Incorrect request", "Yêu cầu không hợp lệ"),
    "invalid_key": ("Invalid API key", "API key không hợp lệ"),
    "invalid_action": ("Invalid action", "Action không hợp lệ"),
    "missing_add_fields": (
        "Missing required fields: service, link, quantity",
        "Thiếu thông tin: service, link, quantity là bắt buộc",
    ),
    "missing_field": ("Missing required field: {field}", "Thiếu thông tin: {field} là bắt buộc"),
    "incorrect_service": ("Incorrect service ID", "Dịch vụ không tồn tại"),
    "bad_link": ("Bad link", "Link không hợp lệ"),
    "quantity_min": ("Quantity less than minimal {min}", "Số lượng tối thiểu là {min}"),
    "quantity_max": ("Quantity more than maximal {max}", "Số lượng tối đa là {max}"),
    "funds": ("Not enough funds on balance", "Số dư không đủ"),
    "incorrect_order": ("Incorrect order ID", "Không tìm thấy đơn hàng"),
    "bad_id_list": ('Invalid {field} format, use: "1,2,3"', 'Định dạng {field} không hợp lệ, dùng dạng: "1,2,3"'),
    "too_many_ids": ("Invalid {field}: at most {max} allowed", "Giá trị không hợp lệ: {field} tối đa {max} mục"),
    "refill_not_found": ("Refill not found", "Không tìm thấy yêu cầu bảo hành"),
    "bad_dripfeed": (
        "Invalid runs or interval: runs must be at least 2 and interval between 1 and 1440",
        "Giá trị không hợp lệ: runs tối thiểu 2, interval từ 1 đến 1440",
    ),
    "refill_status": (
        "Refill is only available for Completed or Partial orders",
        "Chỉ bảo hành đơn Completed hoặc Partial",
    ),
    "refill_service": ("Refill is not available for this service", "Dịch vụ này không hỗ trợ bảo hành"),
    "refill_active": ("This order already has an active refill", "Đơn hàng đang có yêu cầu bảo hành"),
    "cancel_service": ("Cancel is not available for this service", "Dịch vụ này không hỗ trợ hủy đơn"),
    "cancel_final": ("Order is already finished and can't be canceled", "Đơn đã kết thúc, không thể hủy"),
}


def text(code: str, language: str, overrides: Mapping[str, str] | None = None, **params: object) -> str:
    if overrides and code in overrides:
        template = overrides[code]
    else:
        template = TEXTS[code][1 if language == "vi" else 0]
    return template.format(**params)
