"""The store's shared SQL helpers: what may reach a statement's text."""

from __future__ import annotations

import asyncio

import pytest

from smmpanel.store import orders as orders_store
from smmpanel.store import refills as refills_store
from smmpanel.store.sql import MAX_DB_ID, UserRef, checked_columns, like_pattern


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


def test_a_user_is_found_only_by_key_hash_or_id():
    assert UserRef.by_key_hash("ab").column == "api_key_hash"
    assert UserRef.by_id(7) == UserRef("id", 7)
    assert UserRef.by_id(MAX_DB_ID + 1).value == 0  # no row has it: unknown, and safe to bind
    with pytest.raises(ValueError):
        UserRef("name", "alice")


@pytest.mark.parametrize("text, pattern", [
    ("abc", "%abc%"),
    ("50%_off", "%50\\%\\_off%"),
    ("a\\b", "%a\\\\b%"),
])
def test_like_pattern_takes_wildcards_literally(text, pattern):
    assert like_pattern(text) == pattern
