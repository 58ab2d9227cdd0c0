"""Every rejection the panel can give, in one place.

Each error carries a stable ``code`` and the values its message needs. The
texts (English and Vietnamese) live in ``smmpanel.api.messages``; this module
only says *what* went wrong, never *how it is worded*.
"""

from __future__ import annotations


class PanelError(Exception):
    """Base of every expected rejection: bad input, a rule, a missing thing."""

    code: str = "panel_error"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(f"{self.code} {params}" if params else self.code)


class IncorrectRequest(PanelError):
    code = "incorrect_request"


class InvalidApiKey(PanelError):
    code = "invalid_key"


class AccountUnavailable(PanelError):
    """A signed-in customer's account is gone or disabled (the API says
    ``InvalidApiKey`` instead)."""

    code = "account_unavailable"


class InvalidAction(PanelError):
    code = "invalid_action"


class MissingAddFields(PanelError):
    code = "missing_add_fields"


class IncorrectService(PanelError):
    code = "incorrect_service"


class BadLink(PanelError):
    code = "bad_link"


class QuantityTooLow(PanelError):
    """params: min"""

    code = "quantity_min"


class QuantityTooHigh(PanelError):
    """params: max"""

    code = "quantity_max"


class NotEnoughFunds(PanelError):
    code = "funds"


class IncorrectOrder(PanelError):
    code = "incorrect_order"


class InvalidIdList(PanelError):
    code = "bad_id_list"


class RefillNotFound(PanelError):
    code = "refill_not_found"


class ActiveOrderWithLink(PanelError):
    code = "active_link"


class BodyTooLarge(PanelError):
    """The request body is over the configured limit (HTTP 413). params: max"""

    code = "body_too_large"


class InternalFault(PanelError):
    """An unexpected fault (HTTP 500): the wording only, never the cause."""

    code = "internal_error"


class InvalidField(PanelError):
    """A field broke a rule. params: field, rule, and the rule's values.

    ``rule`` is a key of ``smmpanel.api.messages.RULES``.
    """

    code = "invalid_field"

    def __init__(self, field: str, rule: str, **params: object) -> None:
        super().__init__(field=field, rule=rule, **params)


class RefillNotAllowed(PanelError):
    """params: reason (a key of ``smmpanel.api.messages.REFILL_REASONS``)."""

    code = "refill_not_allowed"


class CancelNotAllowed(PanelError):
    """params: reason (a key of ``smmpanel.api.messages.CANCEL_REASONS``)."""

    code = "cancel_not_allowed"


class ResendRefused(PanelError):
    """An order can't be moved to another upstream: it may have reached its
    own. params: reason (a key of ``smmpanel.api.messages.RESEND_REASONS``)
    and the values its text needs (provider_order, state, attempts, unproven)."""

    code = "resend_refused"


class StatusMoveRefused(PanelError):
    """An operator or upstream tried a move the status machine forbids.

    params: current, new. Not an API error: the CLI and the worker report it.
    """

    code = "status_move_refused"


class UpstreamMoveRefused(PanelError):
    """A move the upstream-state machine (``domain.upstream_state``) does not
    have: a bug or a race lost to the operator. params: current, new."""

    code = "upstream_move_refused"


class NotFound(PanelError):
    """An operator named something that does not exist. params: what, name."""

    code = "not_found"


class AlreadyExists(PanelError):
    """params: what, name."""

    code = "already_exists"


class BackupFailed(PanelError):
    """params: reason (what went wrong, for the operator)"""

    code = "backup_failed"


class SignInFailed(PanelError):
    """Wrong username, email or password: deliberately not saying which."""

    code = "sign_in_failed"


class SignInThrottled(PanelError):
    """Too many failed sign-ins for this account or address. params: minutes"""

    code = "sign_in_throttled"


class UpstreamFailed(PanelError):
    """An operator's call on an upstream got no usable answer (unreachable, a
    refusal, an unreadable reply). params: provider, action, detail."""

    code = "upstream_failed"


class AlreadyDecided(PanelError):
    """A funds request or payment was approved, rejected, assigned or
    dismissed before this decision arrived. params: what, id, status."""

    code = "already_decided"


class NotificationUnauthorized(PanelError):
    """A payment notification without the right credentials (HTTP 401):
    nothing in it is read, nothing changes."""

    code = "notification_unauthorized"


class DatabaseBusy(PanelError):
    """Another process held the database's write lock for longer than a
    write may wait. Nothing was changed; the same request may be sent again.
    params: wait_s (how long it waited). The API answers HTTP 503."""

    code = "database_busy"


class MethodNotAllowed(PanelError):
    """An HTTP method other than GET or POST (HTTP 405); nothing was run."""

    code = "method_not_allowed"


class RateLimited(PanelError):
    """Over a request rate limit (HTTP 429 with Retry-After), decided before
    anything is written. params: retry_after_s (whole seconds)"""

    code = "rate_limited"


class IdempotencyKeyReused(PanelError):
    """The account already used this Idempotency-Key for a different request
    (another action or other parameters) within its lifetime."""

    code = "idempotency_key_reused"
