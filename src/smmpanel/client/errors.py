"""Every exception of the client, in one place.

``UpstreamError`` is the only exception a call on a panel raises (besides
``ClientUsageError`` for a programming mistake, and ``asyncio``/``anyio``
cancellation, which always propagates). Its ``kind`` says what the caller may
do next:

============== ==============================================================
kind           meaning and what is safe
============== ==============================================================
out_of_funds   the panel refused: our balance there is too low. Nothing made.
bad_service    the panel refused: unknown or disabled service. Nothing made.
bad_link       the panel refused the link. Nothing made.
bad_quantity   the panel refused the quantity (min/max). Nothing made.
unknown_order  the panel does not know this order (or refill) id.
unsupported    the panel has no such action (``Invalid action``).
rejected       any other definite refusal (bad key, duplicate link, refill
               not allowed, HTTP 4xx ...). Nothing made.
unreachable    the request provably never reached the panel (connection
               refused, DNS failure, connect or pool timeout, HTTP 429).
               The ONLY kind that is safe to send again.
unknown_outcome the request may have been executed (read/write timeout,
               connection dropped after sending, HTTP 5xx, unreadable body,
               a reply of an unexpected shape). Never re-send blindly: an
               ``add`` may have created an order that costs money.
============== ==============================================================

``outcome`` says what happened on the wire, for the count of upstream calls by
outcome (``/metrics``): a ``CallOutcome`` other than ``OK``, or ``None`` for an
error the caller made up (the worker's "not sent").

No exception text, ``repr`` or ``detail`` ever contains the API key: the
client scrubs it from everything it quotes, and never chains the underlying
``httpx`` exception (whose request object holds the key in its body).
"""

from __future__ import annotations

from enum import Enum

from . import limits


class ErrorKind(str, Enum):
    OUT_OF_FUNDS = "out_of_funds"
    BAD_SERVICE = "bad_service"
    BAD_LINK = "bad_link"
    BAD_QUANTITY = "bad_quantity"
    UNKNOWN_ORDER = "unknown_order"
    UNSUPPORTED = "unsupported_action"
    UNREACHABLE = "unreachable"
    UNKNOWN_OUTCOME = "unknown_outcome"
    REJECTED = "rejected"  # any other definite refusal (bad key, duplicate link, ...)


class CallOutcome(str, Enum):
    """How one request to an upstream ended: a bounded label of ``/metrics``."""

    OK = "ok"  # a readable reply, whatever it said about each id
    TIMEOUT = "timeout"  # connect, read, write or pool timeout, the whole-call deadline, or abandoned for time
    CONNECTION = "connection_error"  # refused, reset, DNS failure, dropped mid-reply
    HTTP_STATUS = "http_error_status"  # a non-2xx status without the panel's own error words
    UNPARSABLE = "unparsable_reply"  # empty, not UTF-8, not JSON, too large, or JSON of a shape we cannot read
    ERROR_REPLY = "error_reply"  # the panel answered {"error": ...} (with any status)
    REFUSED = "refused_by_guard"  # the outbound guard refused the address: nothing left the box


# Kinds that are an answer of the panel itself (an ``{"error": ...}`` reply or a 4xx).
DEFINITE_KINDS = frozenset(
    {
        ErrorKind.OUT_OF_FUNDS,
        ErrorKind.BAD_SERVICE,
        ErrorKind.BAD_LINK,
        ErrorKind.BAD_QUANTITY,
        ErrorKind.UNKNOWN_ORDER,
        ErrorKind.UNSUPPORTED,
        ErrorKind.REJECTED,
    }
)


class ClientError(Exception):
    """Base of every exception raised by ``smmpanel.client``."""


class ClientUsageError(ClientError, ValueError):
    """The caller passed something the client refuses to send (a programming error)."""


class NumberOutOfBounds(ClientError, ValueError):
    """An upstream number past the client's bounds (``limits.MAX_NUMBER_*``): a protocol
    error of the one item carrying it. ``text`` is a short quote of the value."""

    def __init__(self, text: str) -> None:
        super().__init__(
            f"{text} is past the bound of a number (|x| < 10^{limits.MAX_NUMBER_DIGITS}, "
            f"at most {limits.MAX_NUMBER_CHARS} characters)"
        )
        self.text = text


class UpstreamError(ClientError):
    """A call on an upstream panel did not give the expected answer.

    ``kind`` classifies it (see the module docstring), ``detail`` holds the
    upstream's own words (or a description of the transport fault), never the
    API key. ``http_status`` is the HTTP status of the reply, if one arrived.
    """

    kind: ErrorKind
    detail: str
    http_status: int | None
    outcome: CallOutcome | None

    def __init__(self, kind: ErrorKind, detail: str, *, http_status: int | None = None,
                 outcome: CallOutcome | None = None) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.http_status = http_status
        self.outcome = outcome

    @property
    def safe_to_retry(self) -> bool:
        """True only when the request provably never reached the panel."""
        return self.kind is ErrorKind.UNREACHABLE

    @property
    def definite(self) -> bool:
        """True when this is the panel's own refusal (nothing was done)."""
        return self.kind in DEFINITE_KINDS

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"

    def __repr__(self) -> str:
        return f"UpstreamError({self.kind.value!r}, {self.detail!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UpstreamError):
            return NotImplemented
        return (self.kind, self.detail) == (other.kind, other.detail)

    def __hash__(self) -> int:
        return hash((self.kind, self.detail))

    def __reduce__(self):  # type: ignore[no-untyped-def]  # picklable across processes
        outcome = None if self.outcome is None else self.outcome.value
        return (_rebuild, (self.kind.value, self.detail, self.http_status, outcome))


def _rebuild(kind: str, detail: str, http_status: int | None, outcome: str | None = None) -> UpstreamError:
    return UpstreamError(ErrorKind(kind), detail, http_status=http_status,
                         outcome=None if outcome is None else CallOutcome(outcome))
