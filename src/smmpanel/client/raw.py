"""``call``: one raw API v2 request (what ``smmpanel call`` prints)."""

from __future__ import annotations

from typing import Any, Mapping

import httpx

from . import limits
from .wire import Wire


async def call(
    url: str,
    key: str,
    action: str,
    params: Mapping[str, object] | None = None,
    *,
    encoding: str = "form",
    timeout_s: float = limits.DEFAULT_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
    allow_private: bool = False,
) -> Any:
    """Send one request and return the decoded JSON of the reply, as the panel sent it.

    An ``{"error": ...}`` reply is returned, not raised. Non-integer numbers
    come back as ``decimal.Decimal`` (exact): serialise with ``default=str``
    (``json``) or convert them first (``orjson`` refuses ``Decimal``).
    Transport faults, HTTP errors and unreadable bodies raise ``UpstreamError``
    exactly as in ``ProviderClient``.
    """
    wire = Wire(url, key, timeout_s=timeout_s, transport=transport, allow_private=allow_private)
    try:
        return await wire.send(action, params or {}, encoding)
    finally:
        await wire.aclose()
