"""Reading an incoming request the way each simulated panel would."""

from __future__ import annotations

import json
from typing import Union
from urllib.parse import parse_qsl

from .profiles import Profile

Params = dict[str, object]


class Unreadable:
    """A body the panel cannot read (what it replies depends on the profile)."""


UNREADABLE = Unreadable()


def _form(text: str) -> Params:
    params: Params = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name.endswith("[]"):
            existing = params.setdefault(name[:-2], [])
            if isinstance(existing, list):
                existing.append(value)
        else:
            params[name] = value
    return params


def read_params(profile: Profile, method: str, query: str, content_type: str, body: bytes) -> Union[Params, Unreadable]:
    """The request parameters, or ``UNREADABLE``."""
    params: Params = _form(query) if profile.reads_query else {}
    if method.upper() != "POST" or not body.strip():
        return params
    media = content_type.split(";", 1)[0].strip().lower()
    if "json" in profile.encodings and (media == "application/json" or "form" not in profile.encodings):
        # A JSON panel decodes ``php://input`` whatever the content type says.
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return UNREADABLE if "form" not in profile.encodings or media == "application/json" else params
        if not isinstance(decoded, dict):
            return UNREADABLE
        params.update(decoded)
        return params
    if "form" in profile.encodings and media == "application/x-www-form-urlencoded":
        try:
            params.update(_form(body.decode("utf-8")))
        except UnicodeDecodeError:
            return UNREADABLE
        return params
    # A form panel given JSON (or anything else): PHP's $_POST stays empty.
    return params
