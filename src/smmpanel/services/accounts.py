"""Operator use cases for customers: accounts, keys, funds, custom rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..domain import fields as f
from ..domain.errors import AlreadyExists, InvalidField, NotFound
from ..domain.money import to_micros
from ..store import accounts as accounts_store, catalog as catalog_store
from ..store.db import IntegrityError
from ..store.accounts import LedgerEntry, StoredKey
from .paging import DEFAULT_PAGE_ITEMS, Page, check_before_id, check_limit, page_of
from .keys import hash_key, lookup_of, new_api_key, visible_part
from .panel import Panel
from .principal import Customer, account, check_actor

MAX_NAME_CHARS = 64
# How long a rotated key may keep working: long enough to redeploy every
# script that holds it, short enough that a leaked key does not linger.
MAX_KEY_GRACE_S = 30 * 86_400


async def balance(panel: Panel, customer: Customer) -> int:
    """The customer's balance in micro-units: one statement, account lookup included."""
    micros = await accounts_store.balance_of(panel.db, customer)
    if micros is None:
        raise customer.refusal()
    return micros


@dataclass(frozen=True)
class Summary:
    name: str
    balance_micros: int
    spent_micros: int  # charges net of refunds
    currency: str


async def summary(panel: Panel, customer: Customer) -> Summary:
    row = await accounts_store.account_summary(panel.db, customer)
    if row is None:
        raise customer.refusal()
    return Summary(row.name, row.balance_micros, row.spent_micros, panel.currency)


async def statement(
    panel: Panel, customer: Customer, *, before_id: int | None = None, limit: int = DEFAULT_PAGE_ITEMS
) -> Page[LedgerEntry]:
    """The customer's ledger entries, newest first."""
    limit, before_id = check_limit(limit), check_before_id(before_id)
    rows = await accounts_store.ledger_page(panel.db, customer, before_id=before_id, limit=limit + 1)
    if not rows:
        await account(panel, customer)  # an empty statement, or no such account?
    return page_of(rows, limit)


def check_name(name: str) -> str:
    """Usernames: the CLI's rule, which the website's sign-up shares."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or any(not (c.isalnum() or c in "._-@") for c in name):
        raise InvalidField("name", "user_name", max=MAX_NAME_CHARS)
    return name


async def add_user(panel: Panel, name: str, balance: Decimal = Decimal(0), *, actor: str, email: str | None = None,
                   password_hash: str | None = None, role: str = "customer") -> tuple[int, str]:
    """Create a customer (``actor``: who did); returns its id and the API key
    (shown this once only). The website's sign-in fields are checked by
    ``services.auth``, which calls this."""
    name = check_name(name)
    actor = check_actor(actor)
    key = new_api_key()
    now = panel.clock()
    async with panel.db.transaction() as tx:
        try:
            user_id = await accounts_store.insert_user(tx, name, stored_key(key), now, email=email,
                                                       password_hash=password_hash, role=role, actor=actor)
        except IntegrityError as exc:
            if "email" in exc.constraint:
                raise InvalidField("email", "taken") from None
            raise AlreadyExists(what="user", name=name) from None
        if balance:
            if await accounts_store.post_entry(tx, user_id, "deposit", to_micros(balance), now, note="opening balance",
                                     actor=actor) is None:
                raise InvalidField("balance", "not_negative")
    return user_id, key


async def user_named(panel: Panel, name: str):
    row = await accounts_store.user_by_name(panel.db, name)
    if row is None:
        raise NotFound(what="user", name=name)
    return row


async def list_users(panel: Panel) -> list:
    return await accounts_store.list_users(panel.db)


async def set_active(panel: Panel, name: str, active: bool) -> None:
    user = await user_named(panel, name)
    async with panel.db.transaction() as tx:
        await accounts_store.set_user_active(tx, user["id"], active)


def stored_key(api_key: str) -> StoredKey:
    key_hash = hash_key(api_key)
    return StoredKey(lookup_of(api_key, key_hash), key_hash)


def parse_grace(raw: object, field: str = "--grace") -> int:
    """How long a replaced key keeps working (``30m``, ``1h``, ``2d``)."""
    return f.parse_duration_s(raw, field, max_s=MAX_KEY_GRACE_S)


@dataclass(frozen=True)
class RotatedKey:
    api_key: str  # shown this once
    old_key_until_s: int | None  # when the replaced key stops; None: it already has


async def rotate_key(panel: Panel, user_id: int, *, actor: str, grace_s: int = 0) -> RotatedKey:
    """Give the account a new API key (``actor``: who did). The key it had
    keeps working ``grace_s`` more seconds (0: it stops at once); an older key
    still in an earlier grace stops now. The new key is returned this once."""
    actor = check_actor(actor)
    if not 0 <= grace_s <= MAX_KEY_GRACE_S:
        raise InvalidField("--grace", "duration", max=f.format_duration(MAX_KEY_GRACE_S))
    key = new_api_key()
    now = panel.clock()
    until_s = now + grace_s if grace_s else None
    async with panel.db.transaction() as tx:
        await accounts_store.set_user_key(tx, user_id, stored_key(key), now, actor=actor, old_until_s=until_s)
    return RotatedKey(key, until_s)


async def rotate_key_of(panel: Panel, name: str, *, actor: str, grace_s: int = 0) -> RotatedKey:
    """``rotate_key`` for the user called ``name``."""
    user = await user_named(panel, name)
    return await rotate_key(panel, user["id"], actor=actor, grace_s=grace_s)


@dataclass(frozen=True)
class KeyView:
    """What an operator sees of an account's keys: never a secret."""

    shown: str | None  # the key's visible start; None for a key made before keys had one
    set_at_s: int | None
    set_by: str | None
    old_shown: str | None  # the replaced key while its grace lasts
    old_until_s: int | None


async def key_view(panel: Panel, user_id: int) -> KeyView | None:
    row = await accounts_store.key_info(panel.db, user_id)
    if row is None:
        return None
    in_grace = row["old_key_until_s"] is not None and row["old_key_until_s"] > panel.clock()
    return KeyView(visible_part(row["api_key_lookup"]), row["key_set_at_s"], row["key_set_by"],
                   visible_part(row["old_key_lookup"]) if in_grace else None,
                   row["old_key_until_s"] if in_grace else None)


async def add_funds(panel: Panel, name: str, amount: Decimal, note: str | None = None, *, actor: str) -> int:
    """A deposit (positive) or an adjustment down (negative) by ``actor``. Returns the new balance."""
    actor = check_actor(actor)
    if amount == 0:
        raise InvalidField("amount", "not_zero")
    user = await user_named(panel, name)
    kind = "deposit" if amount > 0 else "adjustment"
    async with panel.db.transaction() as tx:
        balance = await accounts_store.post_entry(tx, user["id"], kind, to_micros(amount), panel.clock(), note=note,
                                                  actor=actor)
    if balance is None:
        raise InvalidField("amount", "balance_below_zero")
    return balance


async def set_custom_rate(panel: Panel, name: str, service_id: int, rate: Decimal | None) -> None:
    user = await user_named(panel, name)
    if await catalog_store.service_by_id(panel.db, service_id) is None:
        raise NotFound(what="service", name=str(service_id))
    async with panel.db.transaction() as tx:
        await catalog_store.set_custom_rate(tx, user["id"], service_id, None if rate is None else to_micros(rate))


STATEMENT_LIMIT = 100


async def user_statement(panel: Panel, name: str, *, limit: int = STATEMENT_LIMIT) -> tuple[Any, list[LedgerEntry]]:
    """A customer's ledger as the operator reads it: the user and their newest entries first."""
    user = await user_named(panel, name)
    page = await statement(panel, Customer.from_user_id(user["id"]), limit=limit)
    return user, page.items
