"""Spec section 1: turning an HTTP request into one flat dict of parameters.

Query string, form body (urlencoded or multipart) or JSON object body; body
values win. A field repeated (``links[]=a&links[]=b`` or ``links=a&links=b``)
becomes a list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import orjson


class BadBody(Exception):
    pass


def parse_pairs(pairs: list[tuple[str, str]], into: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            key = key[:-2]
            seen.setdefault(key, [])
            if not isinstance(seen[key], list):
                seen[key] = [seen[key]]
            seen[key].append(value)
        elif key in seen:
            prior = seen[key]
            seen[key] = (prior if isinstance(prior, list) else [prior]) + [value]
        else:
            seen[key] = value
    into.update(seen)


def parse_form(text: str) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True)``, pair for pair
    (a test holds them equal), without its per-field calls when a field has
    nothing to decode: every API request comes through here."""
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


def parse_query(query: bytes, into: dict[str, Any]) -> None:
    if query:
        parse_pairs(parse_form(query.decode("utf-8", "replace")), into)


def parse_body(content_type: str, body: bytes, into: dict[str, Any]) -> None:
    if not body:
        return
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "application/json" or (not ctype and body.lstrip()[:1] in (b"{", b"[")):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadBody() from None
        if not isinstance(data, dict):
            raise BadBody()
        into.update(data)
    elif ctype == "multipart/form-data":
        raise NotImplementedError  # handled by the caller, which owns the stream
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadBody() from None
        parse_pairs(parse_form(text), into)
