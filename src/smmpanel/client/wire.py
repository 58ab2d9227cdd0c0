"""One API v2 request on the wire, and the classification of every way it can fail.

``Wire.send`` returns the decoded JSON of an HTTP 2xx reply (``{"error": ...}``
replies included: deciding what they mean is the caller's job) or raises
``UpstreamError``:

================================================== ================
fault                                              kind
================================================== ================
connection refused, DNS failure (``ConnectError``) unreachable
connect timeout, pool timeout                      unreachable
invalid URL / unsupported scheme                   unreachable
HTTP 429 (rate limited before processing)          unreachable
read timeout, write timeout                        unknown_outcome
connection dropped after sending (``ReadError``,   unknown_outcome
``WriteError``, ``RemoteProtocolError``)
the whole call over ``TOTAL_DEADLINE_FACTOR x      unknown_outcome
timeout_s``
HTTP 5xx (whatever the body), HTTP 3xx             unknown_outcome
2xx body empty, not UTF-8, not JSON, too large     unknown_outcome
HTTP 4xx with ``{"error": msg}``                   classified ``msg``
other HTTP 4xx                                     rejected
================================================== ================

Every request ``send`` makes is counted in ``Wire.calls`` by action and
``CallOutcome`` (what the metrics show): the outcome rides on the
``UpstreamError`` raised, so the count and the error never disagree.

The API key travels in the request body only (never in the URL), and is
scrubbed from every text this module puts into an exception. ``httpx``
exceptions are never chained (``from None``): their request holds the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio
import httpx

from . import limits
from .classify import classify
from .calls import CallCounts
from .errors import CallOutcome, ClientUsageError, ErrorKind, UpstreamError
from .guard import PublicOnlyTransport, RefusedAddress
from .values import NotJson, loads

T = TypeVar("T")

ENCODINGS = ("form", "json")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"

# Parameters sent as JSON numbers in a JSON body when they hold a whole number
# (Like3s documents ``service``, ``quantity``, ``order`` as integers).
INTEGER_PARAMS = frozenset(
    {"service", "quantity", "runs", "interval", "minutes", "order", "refill", "min", "max", "posts", "old_posts",
     "delay", "answer_number"}
)
_WHOLE = re.compile(r"[0-9]{1,18}")
_SPACES = re.compile(r"\s+")
REDACTED = "***"

# Faults raised before a single byte of the request can have left.
_NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)


@dataclass(frozen=True)
class Reply:
    http_status: int
    data: Any


def _as_is(data: Any) -> Any:
    return data


def redact(text: str, key: str) -> str:
    """``text`` without the API key (also URL-encoded), otherwise unchanged."""
    if key:
        text = text.replace(key, REDACTED)
        encoded = urlencode({"k": key})[2:]
        if encoded != key:
            text = text.replace(encoded, REDACTED)
    return text


def scrub(text: str, key: str) -> str:
    """``text`` without the API key, whitespace collapsed, length-limited (for error details)."""
    text = _SPACES.sub(" ", redact(text, key)).strip()
    if len(text) > limits.MAX_DETAIL_CHARS:
        text = text[: limits.MAX_DETAIL_CHARS - 1] + "…"
    return text


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment (for repr and messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def error_text(data: Any) -> str | None:
    """The message of an ``{"error": ...}`` reply, or ``None`` when ``data`` is no error."""
    if not isinstance(data, dict) or "error" not in data:
        return None
    raw = data["error"]
    if raw is None or raw is False or raw == "" or raw == 0:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        for name in ("message", "msg", "error", "text", "description"):
            if isinstance(raw.get(name), str) and raw[name]:
                return str(raw[name])
    if raw is True or isinstance(raw, int):
        for name in ("message", "msg", "description"):
            if isinstance(data.get(name), str) and data[name]:
                return str(data[name])
        return "error"
    return json.dumps(raw, default=str, ensure_ascii=False)


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _json_value(name: str, value: object) -> object:
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if name in INTEGER_PARAMS and isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    return value if isinstance(value, str) else str(value)


def encode(key: str, action: str, params: Mapping[str, object], encoding: str) -> tuple[bytes, str]:
    """The request body and its content type."""
    for name in params:
        if name in ("key", "action"):
            raise ClientUsageError(f"parameter {name!r} is set by the client itself")
    if encoding == "form":
        fields = [("key", key), ("action", action)] + [(n, _form_value(v)) for n, v in params.items()]
        return urlencode(fields).encode(), FORM_CONTENT_TYPE
    if encoding == "json":
        body: dict[str, object] = {"key": key, "action": action}
        body.update({n: _json_value(n, v) for n, v in params.items()})
        return json.dumps(body, ensure_ascii=False).encode(), JSON_CONTENT_TYPE
    raise ClientUsageError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")


def _fault_outcome(exc: Exception) -> CallOutcome:
    if isinstance(exc, httpx.TimeoutException):
        return CallOutcome.TIMEOUT
    if isinstance(exc, RefusedAddress) or isinstance(exc.__cause__, RefusedAddress):  # httpx re-raises its own
        return CallOutcome.REFUSED
    return CallOutcome.CONNECTION


def _fault(exc: Exception, key: str) -> UpstreamError:
    name = type(exc).__name__
    words = scrub(str(exc), key)
    detail = f"{name}: {words}" if words else name
    outcome = _fault_outcome(exc)
    if isinstance(exc, _NEVER_SENT):
        return UpstreamError(ErrorKind.UNREACHABLE, f"request never sent ({detail})", outcome=outcome)
    return UpstreamError(ErrorKind.UNKNOWN_OUTCOME, f"request may have been executed ({detail})", outcome=outcome)


def _snippet(body: bytes, key: str) -> str:
    text = body[: limits.GARBLED_SNIPPET_CHARS * 4].decode("utf-8", errors="replace")
    return scrub(text[: limits.GARBLED_SNIPPET_CHARS], key)


def decode_body(body: bytes) -> Any:
    """JSON of a reply body (UTF-8, a BOM tolerated); raises ``NotJson``."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotJson("not UTF-8") from None
    if not text.strip():
        raise NotJson("empty body")
    return loads(text)


def interpret(http_status: int, body: bytes, key: str) -> Reply:
    """An HTTP reply -> ``Reply`` (2xx JSON) or the ``UpstreamError`` it means."""
    if 200 <= http_status < 300:
        try:
            return Reply(http_status, decode_body(body))
        except NotJson as exc:
            raise UpstreamError(
                ErrorKind.UNKNOWN_OUTCOME,
                f"unreadable reply (HTTP {http_status}, {exc}): {_snippet(body, key)!r}",
                http_status=http_status,
                outcome=CallOutcome.UNPARSABLE,
            ) from None
    try:
        data = decode_body(body)
    except NotJson:
        data = None
    message = error_text(data)
    words = scrub(message, key) if message is not None else _snippet(body, key)
    if http_status == 429:
        raise UpstreamError(ErrorKind.UNREACHABLE, f"rate limited (HTTP 429): {words}", http_status=http_status,
                            outcome=CallOutcome.HTTP_STATUS)
    if http_status >= 500 or http_status < 400:
        raise UpstreamError(
            ErrorKind.UNKNOWN_OUTCOME, f"HTTP {http_status}, outcome unknown: {words}", http_status=http_status,
            outcome=CallOutcome.HTTP_STATUS,
        )
    if message is not None:  # a 4xx in the panel's own words: its refusal, as a 200 {"error": ...} would be
        raise UpstreamError(classify(message), words, http_status=http_status, outcome=CallOutcome.ERROR_REPLY)
    raise UpstreamError(ErrorKind.REJECTED, f"HTTP {http_status}: {words}", http_status=http_status,
                        outcome=CallOutcome.HTTP_STATUS)


class Wire:
    """An ``httpx.AsyncClient`` bound to one panel URL and key."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout_s: float = limits.DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: bool = False,
    ) -> None:
        if timeout_s <= 0:
            raise ClientUsageError("timeout_s must be positive")
        if transport is None and not allow_private:
            transport = PublicOnlyTransport()  # see guard.py: resolved addresses are checked
        self.url = url
        self._key = key
        self.timeout_s = timeout_s
        self.calls = CallCounts()
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(
                max_connections=limits.MAX_CONNECTIONS, max_keepalive_connections=limits.MAX_KEEPALIVE_CONNECTIONS
            ),
            follow_redirects=False,
            headers={"User-Agent": limits.USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"Wire({public_url(self.url)!r})"

    async def send(self, action: str, params: Mapping[str, object], encoding: str,
                   read: Callable[[Any], T] = _as_is) -> T:
        """The reply's JSON as ``read`` reads it (by default: as it came), ``{"error": ...}``
        replies included unless ``read`` raises for them. Counts the request in ``calls``."""
        body, content_type = encode(self._key, action, params, encoding)
        try:
            data = (await self._reply(body, content_type)).data
            value = read(data)
        except UpstreamError as exc:
            self.calls.note(action, exc.outcome or CallOutcome.UNPARSABLE)
            raise
        except anyio.get_cancelled_exc_class():  # abandoned by the caller's own deadline
            self.calls.note(action, CallOutcome.TIMEOUT)
            raise
        self.calls.note(action, CallOutcome.OK if error_text(data) is None else CallOutcome.ERROR_REPLY)
        return value

    async def _reply(self, body: bytes, content_type: str) -> Reply:
        deadline = self.timeout_s * limits.TOTAL_DEADLINE_FACTOR
        try:
            with anyio.fail_after(deadline):
                status, raw = await self._exchange(body, content_type)
        except TimeoutError:
            raise UpstreamError(
                ErrorKind.UNKNOWN_OUTCOME, f"no complete reply within {deadline:g}s; request may have been executed",
                outcome=CallOutcome.TIMEOUT,
            ) from None
        return interpret(status, raw, self._key)

    async def _exchange(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        try:
            async with self._http.stream(
                "POST", self.url, content=body, headers={"Content-Type": content_type}
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limits.MAX_REPLY_BYTES:
                        raise UpstreamError(
                            ErrorKind.UNKNOWN_OUTCOME,
                            f"reply larger than {limits.MAX_REPLY_BYTES} bytes; outcome unknown",
                            http_status=response.status_code,
                            outcome=CallOutcome.UNPARSABLE,
                        )
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)
        except UpstreamError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _fault(exc, self._key) from None
        except OSError as exc:  # a socket fault httpx did not wrap
            raise _fault(exc, self._key) from None

    async def aclose(self) -> None:
        await self._http.aclose()
