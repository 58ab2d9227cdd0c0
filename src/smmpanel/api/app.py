"""The ``/api/v2`` endpoint as a bare ASGI app (no router, no Request object
on the hot path: the framework's per-request cost is most of the budget).

Flow: read the body (bounded) -> parameters -> ``key``/``action`` -> the
action's handler -> JSON. Every API-level outcome is HTTP 200 with a JSON
body; ``PanelError`` becomes ``{"error": message}`` here and only here.
The exceptions are the transport's: only GET and POST run an action (any
other method gets 405 before the body is read: a HEAD's or a CORS
preflight's client never sees a reply, so it must never place an order), an
oversized body gets 413, a database too busy to take the write gets 503 with
``Retry-After`` (nothing was changed), an unexpected fault 500.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Any

import orjson

from ..domain.errors import (
    BodyTooLarge,
    DatabaseBusy,
    IncorrectRequest,
    InternalFault,
    InvalidAction,
    InvalidApiKey,
    MethodNotAllowed,
    PanelError,
    RateLimited,
)
from ..domain.idempotency import IDEMPOTENT_ACTIONS, KEY_FIELD, fingerprint, parse_key
from ..domain.ratelimit import whole_seconds
from ..ops.logs import REQUEST_ID_HEADER, RequestIds, request_id_var
from ..ops.metrics import OTHER_ACTION, RequestCounters
from ..ops.ratelimit import Limiter
from ..services import idempotency
from ..services.panel import Panel
from ..services.principal import Customer, account
from .actions import ACTIONS
from .messages import message
from .render import Dialect
from .transport import BadBody, parse_body, parse_query, parse_pairs

log = logging.getLogger("smmpanel.api")

_CONTENT_TYPE_JSON = (b"content-type", b"application/json")
_JSON_HEADERS = [_CONTENT_TYPE_JSON]
API_PATHS = ("/api/v2", "/api/v2/")
ACTION_METHODS = ("GET", "POST")
_NOT_ALLOWED_HEADERS = _JSON_HEADERS + [(b"allow", ", ".join(ACTION_METHODS).encode())]
RETRY_AFTER_S = 1  # what a busy database tells clients to wait before sending again


async def send_json(send: Any, status: int, body: Any, headers: list[tuple[bytes, bytes]] = _JSON_HEADERS) -> None:
    """``body`` is a reply to encode, or bytes already encoded (an idempotent replay)."""
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _read_rest(receive: Any, first: bytes, limit: int) -> bytes | None:
    """A body sent in several events, from its first chunk on; None past ``limit`` bytes."""
    chunks, size = [first], len(first)
    while size <= limit:
        event = await receive()
        chunk = event.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not event.get("more_body"):
            break
    return b"".join(chunks) if size <= limit else None


async def _multipart(scope: Any, body: bytes, into: dict[str, Any]) -> None:
    from starlette.requests import Request

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, replay).form()
    except Exception:
        raise BadBody() from None
    parse_pairs([(k, v) for k, v in form.multi_items() if isinstance(v, str)], into)


class ApiV2:
    def __init__(self, panel: Panel, dialect: Dialect, max_body_bytes: int, limiter: Limiter | None = None) -> None:
        self.panel = panel
        self.limiter = limiter  # per account (API key), None: no limit
        self.dialect = dialect
        self.max_body_bytes = max_body_bytes
        self.counters = RequestCounters(ACTIONS)
        self.request_ids = RequestIds()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = perf_counter()
        # One pass over the headers for the three this endpoint reads.
        client_request_id = content_type = idempotency_key = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == REQUEST_ID_HEADER and client_request_id is None:
                client_request_id = value
            elif name == b"idempotency-key":
                idempotency_key = value
        request_id = self.request_ids.new() if client_request_id is None else self.request_ids.choose(client_request_id)
        request_id_var.set(request_id)
        headers = [_CONTENT_TYPE_JSON, (REQUEST_ID_HEADER, request_id.encode())]
        action = OTHER_ACTION
        if scope["method"] not in ACTION_METHODS:
            await send_json(send, 405, {"error": message(MethodNotAllowed(), self.dialect.lang)},
                            [*_NOT_ALLOWED_HEADERS, headers[1]])
            self.counters.observe(action, "method_not_allowed", perf_counter() - started)
            return
        event = await receive()  # the usual request's whole body
        body = event.get("body", b"")
        if event.get("more_body"):
            body = await _read_rest(receive, body, self.max_body_bytes)
        if body is None or len(body) > self.max_body_bytes:
            await send_json(send, 413, {"error": message(BodyTooLarge(max=self.max_body_bytes), self.dialect.lang)},
                            headers)
            self.counters.observe(action, "too_large", perf_counter() - started)
            return
        status, outcome = 200, "ok"
        try:
            params = await self.params(scope, body, content_type, idempotency_key)
            action = params.get("action")
            reply = await self.dispatch(params)
        except RateLimited as exc:
            reply, status, outcome = {"error": message(exc, self.dialect.lang)}, 429, "rate_limited"
            headers.append((b"retry-after", str(exc.params["retry_after_s"]).encode()))
        except DatabaseBusy as exc:
            reply, status, outcome = {"error": message(exc, self.dialect.lang)}, 503, "busy"
            headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
        except PanelError as exc:
            reply, outcome = {"error": message(exc, self.dialect.lang)}, "error"
        except Exception:
            log.exception("unexpected fault in /api/v2")
            reply, status, outcome = {"error": message(InternalFault(), self.dialect.lang)}, 500, "fault"
        await send_json(send, status, reply, headers)
        self.counters.observe(action, outcome, perf_counter() - started)

    async def params(self, scope: Any, body: bytes, content_type: bytes | None = None,
                     idempotency_key: bytes | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        parse_query(scope.get("query_string", b""), params)
        ctype = "" if content_type is None else content_type.decode("latin-1")
        try:
            if ctype.lower().startswith("multipart/form-data"):
                await _multipart(scope, body, params)
            else:
                parse_body(ctype, body, params)
        except BadBody:
            raise IncorrectRequest() from None
        if idempotency_key is not None:  # the header wins over a form field
            params[KEY_FIELD] = idempotency_key.decode("latin-1")
        return params

    async def dispatch(self, params: dict[str, Any]) -> Any:
        key, action = params.get("key"), params.get("action")
        if not isinstance(key, str) or not key or not isinstance(action, str) or not action:
            raise IncorrectRequest()
        customer = Customer.from_api_key(key)
        if self.limiter is not None:
            # before any read or write: a refused request costs the database nothing
            wait_s = self.limiter.hit(customer.rate_key)
            if wait_s is not None:
                raise RateLimited(retry_after_s=whole_seconds(wait_s))
        try:
            return await self._act(customer, action, params)
        except InvalidApiKey:
            # No current key is this one; it may be an old key in a rotation's
            # grace. Every action refuses a key before it writes anything, so
            # running it again is safe.
            old_key = customer.as_old_key(self.panel.clock())
            if old_key is None:
                raise
            return await self._act(old_key, action, params)

    async def _act(self, customer: Customer, action: str, params: dict[str, Any]) -> Any:
        handler = ACTIONS.get(action)
        if handler is None:
            await account(self.panel, customer)
            raise InvalidAction()
        if action in IDEMPOTENT_ACTIONS and params.get(KEY_FIELD) not in (None, ""):
            # A write under an Idempotency-Key answers its first reply, byte for byte.
            if action == "add":  # the hot one: claimed within its order's group commit
                return (await idempotency.add(self.panel, customer, params[KEY_FIELD], params)).encode()
            return await self._once(handler, customer, action, params)
        return await handler(self.panel, self.dialect, customer, params)

    async def _once(self, handler: Any, customer: Customer, action: str, params: dict[str, Any]) -> bytes:
        """``addBulk``, ``refill`` or ``cancel`` under a key, in a transaction of its own."""
        key = parse_key(params[KEY_FIELD])

        async def write(panel: Panel) -> str:
            return orjson.dumps(await handler(panel, self.dialect, customer, params)).decode()

        return (await idempotency.once(self.panel, customer, key, fingerprint(action, params), write)).encode()
