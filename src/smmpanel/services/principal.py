"""Who a customer use case acts for.

A ``Customer`` names an account without looking it up: each use case finds
it inside its own statement (so an API read stays one statement), and a bad
key, an unknown id or a disabled account all end the same way there.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..domain import fields as f
from ..domain.errors import AccountUnavailable, InvalidApiKey, InvalidField, PanelError
from ..store import accounts as accounts_store
from ..store.sql import storable_id
from .keys import keys_match, presented
from .panel import Panel, wall_clock_s


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
    """Use the constructors. ``column`` and ``value`` say how the store finds
    the account (a ``store.sql.UserRef``); an API caller's also carry what
    ``admits`` checks the stored key against. Made once per API request:
    a tuple, as a frozen dataclass's ``__init__`` costs several times more."""

    column: str  # "api_key_lookup", "old_key_lookup" (``as_old_key``) or "id"
    value: str | int
    key_hash: str = ""  # the presented key's hash (an API caller)
    at_s: int = 0  # an old key's (``as_old_key``): when it was presented, its grace must not have ended

    @classmethod
    def from_api_key(cls, api_key: str) -> "Customer":
        """An API caller: only the key's hash is kept, and its lookup. A
        current key has no end, so no clock is read here (once per API request)."""
        lookup, key_hash = presented(api_key)
        # tuple.__new__: a NamedTuple's own __new__ is one more Python call, once per API request
        return tuple.__new__(cls, ("api_key_lookup", lookup, key_hash, 0))

    @classmethod
    def from_user_id(cls, user_id: int) -> "Customer":
        """A signed-in web session's user."""
        return cls("id", storable_id(user_id))

    @property
    def rate_key(self) -> str | int:
        """Whom the API's rate limit counts: the whole key, so that somebody
        who knows only a key's (visible) lookup spends nobody else's limit."""
        return self.key_hash or self.value

    def admits(self, row: Any) -> bool:
        """Whether the key presented is the one stored in ``row`` (selected
        with ``store.sql.key_columns``) and still works; a session always is."""
        if self.column == "id":
            return True
        if not keys_match(row["key_hash"], self.key_hash):
            return False
        # a current key has no end; an old one's grace (``as_old_key``) must not have ended
        return self.column == "api_key_lookup" or (row["key_until_s"] is not None and self.at_s < row["key_until_s"])

    def as_old_key(self, now_s: int | None = None) -> "Customer | None":
        """The same caller looked for among old keys whose rotation's grace
        has not ended by ``now_s`` (None unless this one looked among current
        keys): what the API tries when a key matches no current key."""
        if self.column != "api_key_lookup":
            return None
        return self._replace(column="old_key_lookup", at_s=wall_clock_s() if now_s is None else now_s)

    def refusal(self) -> PanelError:
        """The error when no active account matches."""
        return AccountUnavailable() if self.column == "id" else InvalidApiKey()


async def account(panel: Panel, customer: Customer):
    """The customer's user row, or its refusal: for use cases that must know
    the account before they act (writes), or must tell a bad key from an
    empty answer."""
    row = await accounts_store.user_by_ref(panel.db, customer)
    if row is None:
        raise customer.refusal()
    return row
