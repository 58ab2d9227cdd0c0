"""The store's shared SQL helpers: what may reach a statement's text."""

from __future__ import annotations

import asyncio

import pytest

from smmpanel.store import orders as orders_store
from smmpanel.store import refills as refills_store
from smmpanel.services.keys import hash_key
from smmpanel.services.principal import Customer
from smmpanel.store.sql import MAX_DB_ID, checked_columns, like_pattern, user_match


class _NoDatabase:
    """A connection that fails the test if any statement reaches it."""

    dialect = "sqlite"

    async def execute(self, sql: str, *args: object) -> int:
        raise AssertionError(f"a statement was sent: {sql}")


@pytest.mark.parametrize("update, column", [
    (lambda conn: orders_store.update_order(conn, 1, 0, status="Completed", charge_micros=0), "charge_micros"),
    (lambda conn: orders_store.update_order(conn, 1, 0, **{"status = 'x', remains": 0}), "status = 'x', remains"),
    (lambda conn: refills_store.update_refill(conn, 1, 0, order_id=2), "order_id"),
])
def test_an_update_writes_only_its_own_columns(update, column):
    with pytest.raises(ValueError, match="not a writable column") as err:
        asyncio.run(update(_NoDatabase()))
    assert column in str(err.value)


def test_checked_columns_keeps_the_order_given():
    assert checked_columns({"b": 1, "a": 2}, {"a", "b"}, "t") == ["b", "a"]


def test_a_user_is_found_only_by_key_lookup_or_id():
    caller = Customer.from_api_key("k")
    assert caller == Customer("api_key_lookup", hash_key("k")[:16], hash_key("k"))  # the key itself is not kept
    assert caller.as_old_key(now_s=5) == Customer("old_key_lookup", hash_key("k")[:16], hash_key("k"), 5)
    assert Customer.from_user_id(7) == Customer("id", 7)
    assert Customer.from_user_id(MAX_DB_ID + 1).value == 0  # no row has it: unknown, and safe to bind
    with pytest.raises(ValueError):
        user_match("name", 1)  # no statement finds a customer by anything else


@pytest.mark.parametrize("text, pattern", [
    ("abc", "%abc%"),
    ("50%_off", "%50\\%\\_off%"),
    ("a\\b", "%a\\\\b%"),
])
def test_like_pattern_takes_wildcards_literally(text, pattern):
    assert like_pattern(text) == pattern
