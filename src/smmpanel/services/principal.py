"""Who a customer use case acts for.

A ``Customer`` names an account without looking it up: each use case finds
it inside its own statement (so an API read stays one statement), and a bad
key, an unknown id or a disabled account all end the same way there.
"""

from __future__ import annotations

from typing import NamedTuple

from ..domain import fields as f
from ..domain.errors import AccountUnavailable, InvalidApiKey, InvalidField, PanelError
from ..store import accounts as accounts_store
from ..store.sql import storable_id
from .panel import Panel, hash_key


# Who acted, as recorded in ``ledger.actor`` and ``order_events.actor``: an
# operator's name, or one of these.
ACTOR_CLI = "cli"
ACTOR_WORKER = "worker"
ACTOR_CUSTOMER = "customer"
MAX_ACTOR_CHARS = 64


def check_actor(actor: object) -> str:
    """An operator use case's ``actor``: a one-line name, never blank."""
    name = f.parse_text(actor, "actor", max_chars=MAX_ACTOR_CHARS)
    if not name:
        raise InvalidField("actor", "required")
    return name


class Customer(NamedTuple):
    """Use the constructors. The fields say how the store finds the account
    (a ``store.sql.UserRef``): made once per API request, so kept to two, in
    a tuple (a frozen dataclass's ``__init__`` costs several times more)."""

    column: str  # "api_key_hash" or "id"
    value: str | int

    @classmethod
    def from_api_key(cls, api_key: str) -> "Customer":
        """An API caller: only the key's hash is kept."""
        return cls("api_key_hash", hash_key(api_key))

    @classmethod
    def from_user_id(cls, user_id: int) -> "Customer":
        """A signed-in web session's user."""
        return cls("id", storable_id(user_id))

    def refusal(self) -> PanelError:
        """The error when no active account matches."""
        return InvalidApiKey() if self.column == "api_key_hash" else AccountUnavailable()


async def account(panel: Panel, customer: Customer):
    """The customer's user row, or its refusal: for use cases that must know
    the account before they act (writes), or must tell a bad key from an
    empty answer."""
    row = await accounts_store.user_by_ref(panel.db, customer)
    if row is None:
        raise customer.refusal()
    return row
