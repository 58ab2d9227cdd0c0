"""API keys without a database: their form, their lookup, the one comparison,
and the ``--grace`` of a rotation."""

from __future__ import annotations

import re

import pytest

from smmpanel.api.messages import message
from smmpanel.domain.errors import InvalidField
from smmpanel.services import accounts, keys
from smmpanel.services.principal import Customer
from smmpanel.store.sql import key_columns, user_match


def test_a_new_key_shows_its_lookup_and_keeps_its_secret_apart():
    key = keys.new_api_key()
    assert re.fullmatch(r"smm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key)  # URL-safe: pasted into a query string as is
    lookup = keys.lookup_of(key, keys.hash_key(key))
    assert lookup == key[:20] and keys.visible_part(lookup) == key[:20] + "_…"
    assert key[21:] not in (keys.visible_part(lookup) or "")
    assert keys.new_api_key()[:20] != key[:20]


@pytest.mark.parametrize("older", ["Zq3" + "a" * 40, "smm_0123456789abcdef", "smm_0123456789ABCDEF_x", "smm_xyz_abc"])
def test_a_key_of_the_older_form_is_found_by_the_start_of_its_hash(older):
    digest = keys.hash_key(older)
    assert keys.lookup_of(older, digest) == digest[:16]
    assert keys.visible_part(digest[:16]) is None  # nothing of such a key is shown


def test_a_presented_key_is_looked_up_and_hashed_as_stored_however_often_it_comes():
    """The kept hashes of presented keys (``keys.presented``) are those the
    accounts store, for both forms; a stranger's keys only evict others."""
    new, older = keys.new_api_key(), "Zq3" + "b" * 40
    for key in (new, older, new, older):
        assert keys.presented(key) == (keys.lookup_of(key, keys.hash_key(key)), keys.hash_key(key))
        assert Customer.from_api_key(key)[1:3] == keys.presented(key)
    for n in range(keys.PRESENTED_KEYS_KEPT + 10):
        keys.presented(f"junk-{n}")
    assert keys.presented.cache_info().currsize == keys.PRESENTED_KEYS_KEPT


def test_keys_match_compares_whole_hashes_only():
    digest = keys.hash_key("k")
    assert keys.keys_match(digest, digest)
    assert not keys.keys_match(digest, digest[:-1] + "0" if digest[-1] != "0" else digest[:-1] + "1")
    assert not keys.keys_match(None, digest)
    assert not keys.keys_match(digest[:16], digest)


def test_a_caller_is_admitted_only_through_keys_match(monkeypatch):
    calls: list[tuple[str | None, str]] = []

    def spy(stored: str | None, presented: str) -> bool:
        calls.append((stored, presented))
        return stored == presented

    monkeypatch.setattr("smmpanel.services.principal.keys_match", spy)
    caller = Customer.from_api_key("k")
    old = caller.as_old_key(now_s=100)
    digest = keys.hash_key("k")
    assert caller.admits({"key_hash": digest, "key_until_s": None})
    assert old.admits({"key_hash": digest, "key_until_s": 101})  # an old key in its grace
    assert not old.admits({"key_hash": digest, "key_until_s": 100})  # its grace is over
    assert not caller.admits({"key_hash": keys.hash_key("other"), "key_until_s": None})
    assert calls == [(digest, digest)] * 3 + [(keys.hash_key("other"), digest)]


def test_no_customer_statement_compares_a_key_hash_in_sql():
    for column in ("api_key_lookup", "old_key_lookup"):
        match = user_match(column, 1)
        assert "hash" not in match and f"{column} = $1" in match
        assert "key_hash" in key_columns(column)
    assert key_columns("id") == ""
    assert Customer.from_api_key("k").as_old_key().column == "old_key_lookup"
    assert Customer.from_user_id(1).as_old_key() is None


def test_the_rate_limit_counts_the_whole_key_not_its_visible_lookup():
    key = keys.new_api_key()
    forged = key[:21] + "x" * 43
    assert Customer.from_api_key(key).value == Customer.from_api_key(forged).value
    assert Customer.from_api_key(key).rate_key != Customer.from_api_key(forged).rate_key


@pytest.mark.parametrize("raw, seconds", [
    ("30m", 1800), ("1h", 3600), ("2d", 172_800), ("90s", 90), (" 1H ", 3600), ("30d", 30 * 86_400),
])
def test_grace_takes_a_whole_number_and_a_unit(raw, seconds):
    assert accounts.parse_grace(raw) == seconds


@pytest.mark.parametrize("raw", ["", "1", "h", "0m", "1.5h", "1w", "-1h", "1h30m", "31d", "721h", "9999999999d", None])
def test_grace_refuses_anything_else_naming_the_option_and_the_rule(raw):
    with pytest.raises(InvalidField) as err:
        accounts.parse_grace(raw)
    assert message(err.value, "en") == (
        "Invalid --grace: must be a duration like 30m, 1h or 2d (a whole number and s, m, h or d), "
        "more than zero and at most 30d")


def test_the_maximum_grace_is_thirty_days():
    assert accounts.MAX_KEY_GRACE_S == 30 * 86_400
