"""An OpenAPI 3 description of ``/api/v2`` as this panel serves it, served at
``/api/v2/openapi.json``.

Built from the panel's own tables (the actions, their reply shapes, the
order-type fields, the limits) and its dialect: in ``standard`` money and
counts are JSON strings, in ``like3s`` JSON numbers. Every reply is HTTP 200
with a JSON body that is either the action's reply or ``{"error": ...}``;
413, 429 and 500 carry ``{"error": ...}`` too.
"""

from __future__ import annotations

from typing import Any

from ..domain import fields as f
from ..domain.idempotency import IDEMPOTENT_ACTIONS, KEY_FIELD, MAX_KEY_CHARS
from ..domain.ordertypes import TYPE_SPECS, ServiceType, form_fields
from ..domain.status import RefillStatus, Status
from .actions import ACTIONS
from .render import Dialect

OPENAPI_VERSION = "3.0.3"
PATH = "/api/v2/openapi.json"
REF = "#/components/schemas/"

# Which reply schemas an action may answer with (besides Error).
REPLIES: dict[str, list[str]] = {
    "services": ["Services"],
    "balance": ["Balance"],
    "add": ["Added"],
    "addBulk": ["BulkAdded"],
    "status": ["Status", "MultiStatus"],
    "orders": ["MultiStatus"],
    "refill": ["Refill", "RefillList"],
    "refill_status": ["RefillStatus", "RefillStatusList"],
    "cancel": ["CancelList"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _one_of_or_error(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _ref("Error")]}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties),
            "additionalProperties": False}


def _schemas(d: Dialect) -> dict[str, Any]:
    if d.numbers:
        money: dict[str, Any] = {"type": "number"}
        count: dict[str, Any] = {"type": "integer"}
        single_refill_id: dict[str, Any] = {"type": "integer"}
    else:
        money = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
        count = {"type": "string", "pattern": r"^-?[0-9]+$"}
        single_refill_id = {"type": "string", "pattern": r"^[0-9]+$"}
    order_statuses = [s.value for s in Status]
    status = _closed({
        "charge": money, "start_count": count, "status": {"type": "string", "enum": order_statuses},
        "remains": count, "currency": {"type": "string"},
    })
    service = _closed({
        "service": {"type": "integer"}, "name": {"type": "string"}, "type": {"type": "string"},
        "category": {"type": "string"}, "rate": money, "min": count, "max": count, "refill": {"type": "boolean"},
        "cancel": {"type": "boolean"}, "dripfeed": {"type": "boolean"}, "description": {"type": "string"},
    }, required=["service", "name", "type", "category", "rate", "min", "max", "refill", "cancel", "dripfeed"])
    refill_status_text = {"type": "string", "enum": [s.value for s in RefillStatus]}
    return {
        "Error": _closed({"error": {"type": "string", "minLength": 1}}),
        "Services": {"type": "array", "items": service},
        "Balance": _closed({"balance": money, "currency": {"type": "string"}}),
        "Added": _closed({"order": {"type": "integer"}}),
        "BulkAdded": _closed({
            "created": {"type": "array", "items": _closed({"order": {"type": "integer"}, "link": {"type": "string"}})},
            "failed": {"type": "array", "items": _closed({"link": {"type": "string"}, "error": {"type": "string"}})},
        }),
        "Status": status,
        "MultiStatus": {"type": "object", "description": "keyed by each id as sent",
                        "additionalProperties": _one_of_or_error(_ref("Status"))},
        "Refill": _closed({"refill": single_refill_id}),
        "RefillList": {"type": "array", "items": _closed({
            "order": {"type": "integer"}, "refill": _one_of_or_error({"type": "integer"})})},
        "RefillStatus": _closed({"status": refill_status_text}),
        "RefillStatusList": {"type": "array", "items": _closed({
            "refill": {"type": "integer"}, "status": _one_of_or_error(refill_status_text)})},
        "CancelList": {"type": "array", "items": _closed({
            "order": {"type": "integer"}, "cancel": _one_of_or_error({"type": "integer", "enum": [1]})})},
        "Request": _request_schema(),
    }


def _scalar() -> dict[str, Any]:
    """A value sent as a string (form, query) or a JSON number."""
    return {"anyOf": [{"type": "string"}, {"type": "integer"}]}


def _list() -> dict[str, Any]:
    """A JSON array, repeated fields, or a comma/newline separated string."""
    return {"anyOf": [{"type": "string"}, {"type": "integer"},
                      {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                       "maxItems": f.MAX_IDS_PER_CALL}]}


def _request_schema() -> dict[str, Any]:
    type_fields = sorted({name for type_ in ServiceType for name in form_fields(type_, dripfeed=True)}
                         | set(TYPE_SPECS[ServiceType.DEFAULT].optional))
    properties: dict[str, Any] = {
        "key": {"type": "string", "description": "your API key"},
        "action": {"type": "string", "enum": sorted(ACTIONS)},
        "service": _scalar(),
        "links": _list(),
        "order": _scalar(),
        "orders": _list(),
        "refill": _scalar(),
        "refills": _list(),
        KEY_FIELD: {"type": "string", "maxLength": MAX_KEY_CHARS,
                    "description": f"safe retries of {', '.join(sorted(IDEMPOTENT_ACTIONS))} (or the Idempotency-Key header)"},
    }
    for name in type_fields:
        properties.setdefault(name, _scalar())
    return {"type": "object", "properties": properties, "required": ["key", "action"]}


def _responses() -> dict[str, Any]:
    error = {"application/json": {"schema": _ref("Error")}}
    replies = sorted({name for names in REPLIES.values() for name in names})
    return {
        "200": {"description": "the action's reply, or {\"error\": ...} (every API-level outcome is HTTP 200)",
                "content": {"application/json": {"schema": {"anyOf": [_ref(n) for n in replies] + [_ref("Error")]}}}},
        "413": {"description": "request body too large", "content": error},
        "429": {"description": "over the account's rate limit", "content": error,
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}},
        "500": {"description": "unexpected fault", "content": error},
    }


def document(d: Dialect) -> dict[str, Any]:
    request = _ref("Request")
    idem_header = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "maxLength": MAX_KEY_CHARS}}
    common = {"responses": _responses(), "x-replies-by-action": REPLIES}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "SMM panel API v2", "version": "2",
                 "description": f"Dialect {d.name}: money and counts as "
                                f"{'JSON numbers' if d.numbers else 'JSON strings'}; currency {d.currency}."},
        "paths": {"/api/v2": {
            "post": {"operationId": "call", "summary": "Call an action",
                     "parameters": [idem_header],
                     "requestBody": {"required": True, "content": {
                         "application/x-www-form-urlencoded": {"schema": request},
                         "application/json": {"schema": request},
                         "multipart/form-data": {"schema": request}}},
                     **common},
            "get": {"operationId": "callByQuery", "summary": "Call an action with a query string",
                    "parameters": [idem_header] + [
                        {"name": name, "in": "query", "required": name in ("key", "action"),
                         "schema": {"type": "string"}} for name in ("key", "action", "service", "link", "quantity",
                                                                    "order", "orders", "refill", "refills")],
                    **common},
        }},
        "components": {"schemas": _schemas(d)},
    }
