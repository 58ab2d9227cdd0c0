"""API keys: how they look, how they are stored, how a presented one is checked.

A new key reads ``smm_<lookup>_<secret>``. The lookup (16 hex digits) is not
secret: it finds the account through an index and lets an operator tell keys
apart on the admin pages. The whole key's sha256 is stored and compared in
Python by ``keys_match`` (constant time), never by SQL equality, so how long
a refusal takes says nothing about how much of a guess was right.

Keys made before lookups existed (43 random characters, no ``smm_``) keep
working: their lookup is the first 16 hex digits of their stored hash, which
migration 0010 copied, and which the same digits of a presented key's hash
find again. Both forms are checked the same way after that.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

KEY_PREFIX = "smm_"
LOOKUP_HEX_DIGITS = 16  # 64 bits: a clash between two accounts' lookups is out of reach
SECRET_BYTES = 32  # 256 bits: long enough that a plain sha256 is a safe hash
_NEW_KEY_HEAD = len(KEY_PREFIX) + LOOKUP_HEX_DIGITS  # "smm_" + lookup
_HEX = frozenset("0123456789abcdef")
PRESENTED_KEYS_KEPT = 1_024  # far more than a panel's resellers calling at once; an LRU, so junk keys only evict


def new_api_key() -> str:
    """URL-safe, so clients can paste it into a query string unencoded."""
    return f"{KEY_PREFIX}{secrets.token_hex(LOOKUP_HEX_DIGITS // 2)}_{secrets.token_urlsafe(SECRET_BYTES)}"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def lookup_of(api_key: str, key_hash: str) -> str:
    """What ``users.api_key_lookup`` holds for this key (``key_hash`` is its
    ``hash_key``): the visible ``smm_<lookup>`` of a new key, or, for a key of
    the older form, the first digits of its hash."""
    head = api_key[:_NEW_KEY_HEAD]
    if (api_key.startswith(KEY_PREFIX) and len(api_key) > _NEW_KEY_HEAD and api_key[_NEW_KEY_HEAD] == "_"
            and _HEX.issuperset(head[len(KEY_PREFIX):])):
        return head
    return key_hash[:LOOKUP_HEX_DIGITS]


@lru_cache(maxsize=PRESENTED_KEYS_KEPT)
def presented(api_key: str) -> tuple[str, str]:
    """A key an API request presents: its lookup and its hash.

    Kept for the keys presented last, as resellers send the same key with
    every request: its SHA-256 (through OpenSSL, ~10k instructions) was the
    largest single cost of a ``balance`` (docs/benchmark-log.md,
    2026-12-07 (b)). The keys stay in this process's memory, where each
    request's key is anyway; nothing of it is written anywhere, and what a
    key may do is still decided by the stored hash on every request."""
    key_hash = hash_key(api_key)
    return lookup_of(api_key, key_hash), key_hash


def keys_match(stored_hash: str | None, presented_hash: str) -> bool:
    """The one place a stored key is compared with a presented one."""
    # Both are hex digests (ASCII), which compare_digest takes as they are.
    return stored_hash is not None and hmac.compare_digest(stored_hash, presented_hash)


def visible_part(lookup: str | None) -> str | None:
    """What an operator may see of a key (never the secret): its ``smm_<lookup>``
    start, or None for a key of the older form, which shows nothing safely."""
    return f"{lookup}_…" if lookup and lookup.startswith(KEY_PREFIX) else None
