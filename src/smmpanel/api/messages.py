"""Every error text the API speaks, in English and Vietnamese (spec section 4).

Clients pattern-match the English texts: keep them exact. The ``standard``
dialect speaks English, ``like3s`` Vietnamese. This is the one place where an
error becomes words.
"""

from __future__ import annotations

from ..domain.errors import PanelError

FIXED: dict[str, tuple[str, str]] = {
    "incorrect_request": ("Incorrect request", "Yêu cầu không hợp lệ"),
    "invalid_key": ("Invalid API key", "API key không hợp lệ"),
    "account_unavailable": ("This account is disabled", "Tài khoản này đã bị khóa"),
    "invalid_action": ("Invalid action", "Action không hợp lệ"),
    "missing_add_fields": (
        "Missing required fields: service, link, quantity",
        "Thiếu thông tin: service, link, quantity là bắt buộc",
    ),
    "incorrect_service": ("Incorrect service ID", "Dịch vụ không tồn tại"),
    "bad_link": ("Bad link", "Link không hợp lệ"),
    "quantity_min": ("Quantity less than minimal {min}", "Số lượng tối thiểu là {min}"),
    "quantity_max": ("Quantity more than maximal {max}", "Số lượng tối đa là {max}"),
    "funds": ("Not enough funds on balance", "Số dư không đủ"),
    "incorrect_order": ("Incorrect order ID", "Không tìm thấy đơn hàng"),
    "bad_id_list": ('Invalid {field} format, use: "1,2,3"', 'Định dạng {field} không hợp lệ, dùng dạng: "1,2,3"'),
    "refill_not_found": ("Refill not found", "Không tìm thấy yêu cầu bảo hành"),
    "active_link": (
        "You have active order with this link. Please wait until order being completed.",
        "Link này đang có đơn chạy, vui lòng chờ hoàn thành.",
    ),
    "body_too_large": ("Request body larger than {max} bytes", "Dữ liệu gửi lên vượt quá {max} byte"),
    "database_busy": (
        "Panel busy (waited {wait_s} s for the database), nothing was changed: please retry",
        "Hệ thống đang bận (đã chờ {wait_s} giây), chưa có gì thay đổi: vui lòng thử lại",
    ),
    "method_not_allowed": ("Method not allowed: use GET or POST", "Phương thức không được hỗ trợ: dùng GET hoặc POST"),
    "internal_error": ("Internal error, please retry later", "Lỗi hệ thống, vui lòng thử lại sau"),
    "status_move_refused": (
        "Status can't change from {current} to {new}",
        "Không thể chuyển trạng thái từ {current} sang {new}",
    ),
    "upstream_move_refused": (
        "Upstream state can't change from {current} to {new}",
        "Không thể chuyển trạng thái nhà cung cấp từ {current} sang {new}",
    ),
    "not_found": ("{what} {name} not found", "Không tìm thấy {what} {name}"),
    "already_exists": ("A {what} named {name} already exists", "{what} {name} đã tồn tại"),
    "sign_in_failed": ("Wrong username or password", "Sai tên đăng nhập hoặc mật khẩu"),
    "sign_in_throttled": (
        "Too many failed sign-ins; try again in {minutes} minutes",
        "Đăng nhập sai quá nhiều lần; thử lại sau {minutes} phút",
    ),
    "rate_limited": (
        "Too many requests; retry in {retry_after_s} seconds",
        "Quá nhiều yêu cầu; thử lại sau {retry_after_s} giây",
    ),
    "idempotency_key_reused": (
        "Idempotency key already used for a different request; use a new key",
        "Idempotency key đã dùng cho một yêu cầu khác; hãy dùng key mới",
    ),
    "backup_failed": ("Backup or restore failed: {reason}", "Sao lưu hoặc khôi phục thất bại: {reason}"),
    "upstream_failed": (
        "Provider {provider} did not answer {action}: {detail}",
        "Nhà cung cấp {provider} không trả lời {action}: {detail}",
    ),
    "notification_unauthorized": (
        "Authorization must be: Apikey <the configured key>",
        "Authorization phải là: Apikey <khóa đã cấu hình>",
    ),
    "already_decided": ("{what} {id} is already {status}", "{what} {id} đã được xử lý ({status})"),
}

# InvalidField: "Invalid <field>: <rule>"
RULES: dict[str, tuple[str, str]] = {
    "required": ("is required", "là bắt buộc"),
    "integer": ("must be a whole number", "phải là số nguyên không âm"),
    "range": ("must be between {min} and {max}", "phải từ {min} đến {max}"),
    "at_least": ("must be at least {min}", "phải ít nhất là {min}"),
    "at_most": ("must be at most {max}", "tối đa là {max}"),
    "flag": ("must be true, false, 1 or 0", "phải là true, false, 1 hoặc 0"),
    "text": ("must be text", "phải là chuỗi ký tự"),
    "too_long": ("must be at most {max} characters", "tối đa {max} ký tự"),
    "control_chars": ("must not contain control characters", "không được chứa ký tự điều khiển"),
    "too_many": ("at most {max} allowed", "tối đa {max} mục"),
    "one_of": ("must be one of: {allowed}", "phải là một trong: {allowed}"),
    "dripfeed_unavailable": (
        "drip-feed (runs, interval) is not available for this service",
        "dịch vụ này không hỗ trợ drip-feed (runs, interval)",
    ),
    "not_above": ("must not be above {other}", "không được lớn hơn {other}"),
    "date_dmy": ("must be a date as d/m/Y", "phải là ngày dạng d/m/Y"),
    "decimal": ("must be a decimal number", "phải là số thập phân"),
    "not_negative": ("must not be negative", "không được âm"),
    "not_zero": ("must not be zero", "không được bằng 0"),
    "positive": ("must be more than zero", "phải lớn hơn 0"),
    "vietqr_bin": ("must be the bank's 6-digit NAPAS BIN", "phải là mã BIN NAPAS 6 chữ số của ngân hàng"),
    "vietqr_account": ("must be 1-{max} letters or digits", "gồm 1-{max} chữ cái hoặc chữ số"),
    "vietqr_purpose": ("must be 1-{max} plain ASCII characters", "gồm 1-{max} ký tự ASCII"),
    "json_object": ("must be a JSON object", "phải là một đối tượng JSON"),
    "pending_limit": (
        "at most {max} requests may wait for a decision at once",
        "tối đa {max} yêu cầu đang chờ duyệt cùng lúc",
    ),
    "too_large": ("is too large", "quá lớn"),
    "duration": (
        "must be a duration like 30m, 1h or 2d (a whole number and s, m, h or d), more than zero and at most {max}",
        "phải là khoảng thời gian như 30m, 1h hoặc 2d (số nguyên và s, m, h hoặc d), lớn hơn 0 và tối đa {max}",
    ),
    "order_too_large": (
        "the order is too large (at most {max_units} units and a charge of {max_charge})",
        "đơn quá lớn (tối đa {max_units} đơn vị và {max_charge} tiền)",
    ),
    "rounds_to_zero": (
        "rounds to zero (the smallest amount is 0.000001)",
        "làm tròn thành 0 (nhỏ nhất là 0.000001)",
    ),
    "balance_below_zero": ("would take the balance below zero", "làm số dư âm"),
    "editable": ("can't be changed; allowed: {allowed}", "không thể sửa; được phép: {allowed}"),
    "exists_upstream": (
        "refused: the order exists upstream as {provider_order}; resolve with --provider-order or --cancel",
        "bị từ chối: đơn đã có ở nhà cung cấp ({provider_order})",
    ),
    "not_resolvable": (
        "order {order} does not need resolving (upstream state: {state}); only an order in {allowed} can be",
        "đơn {order} không cần xử lý (trạng thái nhà cung cấp: {state}); chỉ đơn ở {allowed}",
    ),
    "has_unsettled_orders": (
        "has unsettled orders ({counts}); settle them first",
        "còn đơn chưa xong ({counts}); xử lý trước",
    ),
    "too_short": ("must be at least {min} characters", "phải có ít nhất {min} ký tự"),
    "email": ("must be an email address like name@example.com", "phải là địa chỉ email dạng ten@example.com"),
    "taken": ("is already taken", "đã được sử dụng"),
    "wrong_password": ("is not correct", "không đúng"),
    "user_name": (
        "must be 1-{max} letters, digits or . _ - @",
        "gồm 1-{max} chữ cái, chữ số hoặc . _ - @",
    ),
}

REFILL_REASONS: dict[str, tuple[str, str]] = {
    "status": (
        "Refill is only available for Completed or Partial orders",
        "Chỉ bảo hành đơn Completed hoặc Partial",
    ),
    "service": ("Refill is not available for this service", "Dịch vụ này không hỗ trợ bảo hành"),
    "window": ("Refill period for this order has expired", "Đơn hàng đã hết thời gian bảo hành"),
    "active": ("This order already has an active refill", "Đơn hàng đang có yêu cầu bảo hành"),
}

CANCEL_REASONS: dict[str, tuple[str, str]] = {
    "service": ("Cancel is not available for this service", "Dịch vụ này không hỗ trợ hủy đơn"),
    "final": ("Order is already finished and can't be canceled", "Đơn đã kết thúc, không thể hủy"),
    "started": ("Order is already in progress and can't be canceled", "Đơn đang chạy, không thể hủy"),
    "sending": (
        "Order is being sent to the provider; try again in a minute",
        "Đơn đang được gửi đi, vui lòng thử lại sau",
    ),
    "requested": ("Cancel is already requested for this order", "Đã yêu cầu hủy đơn này"),
}

RESEND_REASONS: dict[str, tuple[str, str]] = {
    "manual": (
        "refused: fulfilled by hand, it has no provider to move from",
        "bị từ chối: đơn xử lý thủ công, không có nhà cung cấp để chuyển đi",
    ),
    "sending": (
        "refused: being sent to its provider right now; try again once the worker has recorded the answer",
        "bị từ chối: đơn đang được gửi tới nhà cung cấp; thử lại khi worker đã ghi nhận kết quả",
    ),
    "placed": (
        "refused: it exists upstream as order {provider_order}",
        "bị từ chối: đơn đã có ở nhà cung cấp (mã {provider_order})",
    ),
    "settled": (
        "refused: already settled upstream ({state}), nothing to send",
        "bị từ chối: đơn đã xong ở nhà cung cấp ({state}), không còn gì để gửi",
    ),
    "final": ("refused: its status is final", "bị từ chối: trạng thái đơn đã kết thúc"),
    "cancel_requested": (
        "refused: the customer asked to cancel it",
        "bị từ chối: khách hàng đã yêu cầu hủy đơn",
    ),
    "maybe_sent": (
        "refused: it may exist upstream ({unproven} of its {attempts} sends got no proof that no order was made); "
        "check with the provider, then resolve it",
        "bị từ chối: đơn có thể đã có ở nhà cung cấp ({unproven}/{attempts} lần gửi không chứng minh được là "
        "chưa tạo đơn); kiểm tra với nhà cung cấp rồi xử lý",
    ),
    "unchanged": (
        "refused: it is already at provider {provider}, service {service}",
        "bị từ chối: đơn đã ở nhà cung cấp {provider}, dịch vụ {service}",
    ),
}


def message(error: PanelError, lang: str = "en") -> str:
    i = 1 if lang == "vi" else 0
    params = dict(error.params)
    if error.code == "invalid_field":
        rule = RULES[str(params["rule"])][i].format(**params)
        prefix = "Invalid" if i == 0 else "Giá trị không hợp lệ:"
        return f"{prefix} {params['field']}: {rule}" if i == 0 else f"{prefix} {params['field']} {rule}"
    if error.code == "refill_not_allowed":
        return REFILL_REASONS[str(params["reason"])][i]
    if error.code == "cancel_not_allowed":
        return CANCEL_REASONS[str(params["reason"])][i]
    if error.code == "resend_refused":
        return RESEND_REASONS[str(params["reason"])][i].format(**params)
    params.setdefault("field", "orders")
    return FIXED[error.code][i].format(**params)
