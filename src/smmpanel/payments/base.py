"""The payment-method interface: every way a customer can add funds is an
adapter of this shape, the way every upstream is an adapter of the API v2
client.

A method translates between the outside (a customer's request, a bank's or
gateway's notification) and the use cases that move money
(``services.funds``, ``services.payments``). It never writes SQL and never
posts a ledger entry itself. Three things a method must never do:

1. **Credit twice.** A notification may be delivered again (the sender
   retries until it sees a 2xx), replayed by an attacker, or arrive twice at
   once. The method never decides "is this new?" by reading first: it hands
   each verified payment, with the sender's own unique transaction id, to a
   use case that records it unique per (method, external id) in the same
   transaction as the credit. A repeat inserts nothing and credits nothing.
2. **Credit without verification.** Before one field of a notification is
   believed, the sender is authenticated: a shared key compared in constant
   time, a signature over the raw body, or a query back to the gateway. An
   unauthenticated request is refused (HTTP 401) and changes nothing; no
   method has an "unauthenticated" mode.
3. **Trust an amount it did not verify.** The amount credited is the amount
   in the authenticated notification (or read back from the gateway),
   converted by the panel's own configured rate, never what the customer
   typed on the funds page, put in a URL, or what a QR code suggested: the
   customer can pay any amount, and is credited what arrived.

Also: a method never loses money that arrived. What it can't attribute
(no customer code, unknown code, below the minimum) is recorded for an
operator, never dropped; and it acknowledges a notification only after it
is durably recorded, so a crash before commit makes the sender retry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar


class PaymentMethod(ABC):
    """One way to add funds. Subclasses set ``name`` (stable: stored in
    ``payments.method`` and ``ledger.method``) and ``title`` (shown to
    customers), and say whether the operator's settings turn them on."""

    name: ClassVar[str]
    title: ClassVar[str]

    @property
    @abstractmethod
    def enabled(self) -> bool:
        """Configured and offered to customers."""


class NotifiedMethod(PaymentMethod):
    """A method whose payments arrive as notifications pushed to a webhook
    (bank-notification services, card and crypto gateways)."""

    #: where the sender posts, e.g. "/hooks/sepay"
    path: ClassVar[str]

    @property
    @abstractmethod
    def accepts_notifications(self) -> bool:
        """Whether the webhook is on (its credentials are configured).
        When off, the path answers 404 and reads nothing."""

    @abstractmethod
    def verify(self, headers: dict[str, str], body: bytes) -> Any:
        """Authenticate the sender, then parse the body into the method's
        verified payment. Raises ``NotificationUnauthorized`` (nothing read)
        or ``InvalidField`` naming the field (a malformed notification);
        never returns something it did not authenticate. Pure: no I/O."""

    @abstractmethod
    async def record(self, panel: Any, payment: Any) -> Any:
        """Hand the verified payment to its use case, which records it exactly
        once and credits it when it names a customer; returns the receipt.
        Acknowledge the sender only after this returns."""
