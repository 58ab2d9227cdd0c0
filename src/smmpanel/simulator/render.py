"""Reply bodies: JSON with exact decimals, and the non-JSON pages of a broken panel."""

from __future__ import annotations

import json
from decimal import Decimal

from .hostile import RawNumber

PLAIN_MAX_DIGITS = 40  # past this size a decimal is written with an exponent
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# A PHP panel that printed a warning into its JSON (a classic "garbled" reply).
GARBLED_BODY = (
    b"<br />\n<b>Warning</b>:  mysqli_query(): MySQL server has gone away in "
    b"<b>/var/www/html/api/v2/index.php</b> on line <b>212</b><br />\n{\"ord"
)
# What a JSON-only PHP panel prints for a body it cannot decode (baostar).
BAD_BODY_PAGE = (
    b"<br />\n<b>Notice</b>:  Trying to access array offset on value of type null in "
    b"<b>/home/panel/public_html/api/v2.php</b> on line <b>9</b><br />\n"
)
TOO_MANY_REQUESTS_BODY = b'{"error":"Too many requests"}'
SERVER_ERROR_PAGE = b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>"
NOT_FOUND_PAGE = b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"


def dumps(value: object) -> bytes:
    """JSON where a ``Decimal`` is written as its exact digits (never via float)."""
    return _dump(value).encode()


def _dump(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, RawNumber):  # a hostile number, written as the bare token it is
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_dump(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__}")


def plain(value: Decimal) -> str:
    """``Decimal('2.50000')`` -> ``'2.5'``; ``Decimal('25000')`` -> ``'25000'``; an absurd
    one (a hostile test's balance of ``1e99999999``) stays in exponent form, not 10^8 digits."""
    if value.is_finite() and abs(value.adjusted()) > PLAIN_MAX_DIGITS:
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text
