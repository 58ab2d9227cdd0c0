"""Idempotency keys of customer writes (``add``, ``addBulk``, ``refill``,
``cancel``): what a key may look like, and what makes two requests "the same".

A request is identified by its action and parameters, the credentials and
the key itself left out. Values are compared as text, so a retry that sends
``quantity`` as the JSON number 1000 instead of the form field "1000" is
still the same request.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import orjson

from . import fields as f
from .errors import InvalidField

IDEMPOTENT_ACTIONS = frozenset({"add", "addBulk", "refill", "cancel"})
KEY_FIELD = "idempotency_key"
MAX_KEY_CHARS = 255  # room for a UUID or a client's own composite key
KEY_LIFETIME_S = 24 * 3600
NOT_PART_OF_THE_REQUEST = frozenset({"key", KEY_FIELD})


def parse_key(raw: object) -> str:
    key = f.parse_text(raw, KEY_FIELD, max_chars=MAX_KEY_CHARS)
    if not key:
        raise InvalidField(KEY_FIELD, "required")
    return key


def _as_text(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _as_text(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def fingerprint(action: str, params: Mapping[str, Any]) -> str:
    request = dict(params)
    for name in NOT_PART_OF_THE_REQUEST:
        request.pop(name, None)
    for value in request.values():
        if type(value) is not str:  # form fields are text already (the usual request): JSON values are converted
            request = {name: _as_text(value) for name, value in request.items()}
            break
    body = orjson.dumps([action, request], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()
