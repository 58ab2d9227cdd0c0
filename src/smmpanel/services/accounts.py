"""Operator use cases for customers: accounts, keys, funds, custom rates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..domain.errors import AlreadyExists, InvalidField, NotFound
from ..domain.money import to_micros
from ..store import accounts as accounts_store, catalog as catalog_store
from ..store.db import IntegrityError
from ..store.accounts import LedgerEntry
from .paging import DEFAULT_PAGE_ITEMS, Page, check_before_id, check_limit, page_of
from .panel import Panel, hash_key, new_api_key
from .principal import Customer, account, check_actor

MAX_NAME_CHARS = 64


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
            user_id = await accounts_store.insert_user(tx, name, hash_key(key), now, email=email,
                                                       password_hash=password_hash, role=role)
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


async def rotate_key(panel: Panel, name: str) -> str:
    user = await user_named(panel, name)
    key = new_api_key()
    async with panel.db.transaction() as tx:
        await accounts_store.set_user_key(tx, user["id"], hash_key(key))
    return key


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
