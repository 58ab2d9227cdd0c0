"""The tables. SQLAlchemy Core is used only to describe them (for Alembic);
the running panel talks plain SQL to the driver (see ``db.py`` for why).

Units are in the names: ``*_micros`` are integer micro-units of the panel
currency (``domain.money``), ``*_at_s`` are unix seconds, ``*_s`` seconds.

Invariants the database itself enforces (``smmpanel audit`` checks the rest):
* one charge and at most one refund per order (partial unique indexes);
* at most one active (Pending / In progress) refill per order;
* one upstream order id per provider (a placed order can't be recorded twice);
* one payment per (method, external id), one deposit per payment or funds request.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # sha256 of the API key: keys are 256-bit random, so a fast hash is enough.
    # It is compared in Python (services/keys.py); the lookup finds the row:
    # a new key's visible "smm_<16 hex>", an older key's first 16 hex of its hash.
    Column("api_key_hash", Text, nullable=False, unique=True),
    Column("api_key_lookup", Text),  # unique (uq_users_api_key_lookup); set for every user
    Column("key_set_at_s", BigInteger),  # when the current key was made, and by whom
    Column("key_set_by", Text),
    # The key a rotation replaced, while its grace period lasts (None: no grace).
    Column("old_key_lookup", Text),  # unique (uq_users_old_key_lookup)
    Column("old_key_hash", Text),
    Column("old_key_until_s", BigInteger),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("balance_micros", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at_s", BigInteger, nullable=False),
    # The website's sign-in (API-only customers have no password):
    Column("email", Text),  # unique case-insensitively (uq_users_email)
    Column("password_hash", Text),  # argon2
    Column("role", Text, nullable=False, server_default=text("'customer'")),
    Column("language", Text),  # preferred page language; None: the panel's default
    # What identifies the customer in a bank transfer's content (after the
    # panel's prefix); fixed length, given on first need (services/payments.py).
    Column("deposit_code", Text),
    # Charges net of refunds, moved by the statement that moves the balance
    # for them (store.accounts, store.orders); the audit checks it against the ledger.
    Column("spent_micros", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("balance_micros >= 0", name="ck_users_balance_not_negative"),
    CheckConstraint("role IN ('customer', 'operator')", name="ck_users_role"),
)
Index("uq_users_deposit_code", users.c.deposit_code, unique=True)
Index("uq_users_api_key_lookup", users.c.api_key_lookup, unique=True)
Index("uq_users_old_key_lookup", users.c.old_key_lookup, unique=True,
      sqlite_where=text("old_key_lookup IS NOT NULL"), postgresql_where=text("old_key_lookup IS NOT NULL"))
# SQLite only (migration 0009): ix_users_spent (spent_micros, id), for sorting.
# On PostgreSQL it would cost every charge its HOT update of the users row.
Index(
    "uq_users_email",
    text("lower(email)"),
    unique=True,
    sqlite_where=text("email IS NOT NULL"),
    postgresql_where=text("email IS NOT NULL"),
)

# A signed-in browser: the cookie holds a random token, the table its hash
# (a stolen database yields no usable session). Deleting rows signs out.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", Text, nullable=False),  # synchronizer token of this session's forms
    Column("created_at_s", BigInteger, nullable=False),
    Column("expires_at_s", BigInteger, nullable=False),
)
Index("ix_web_sessions_user", web_sessions.c.user_id)

# Failed sign-ins, for throttling per account and per IP across processes
# (scope: "user:NAME" or "ip:ADDRESS"); old rows may be deleted at will.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", Text, nullable=False),
    Column("created_at_s", BigInteger, nullable=False),
)
Index("ix_auth_failures_scope", auth_failures.c.scope, auth_failures.c.created_at_s)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("position", Integer, nullable=False, server_default=text("0")),  # listing order, ascending
)

providers = Table(
    "providers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    # The upstream key must be sent, so it can't be hashed: it is kept sealed
    # with the panel's secret (``smmpanel.secrets``), never in plain text.
    Column("key_sealed", Text, nullable=False),
    Column("encoding", Text, nullable=False),  # form | json
    Column("currency", Text, nullable=False),
    Column("fx", Text, nullable=False),  # decimal text: panel amount = upstream amount x fx
    Column("timeout_s", Integer, nullable=False),
    Column("max_ids", Integer, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("multi_status_action", Text, nullable=False, server_default=text("'status'")),
    Column("balance_text", Text),  # last balance seen, as the upstream sent it
    Column("balance_checked_at_s", BigInteger),
    Column("out_of_funds", Boolean, nullable=False, server_default=text("false")),
    # The worker's circuit breaker (domain.breaker): failed calls in a row, how long it
    # was last opened for, until when calls are held, and the last failure's words.
    Column("breaker_failures", Integer, nullable=False, server_default=text("0")),
    Column("breaker_open_for_s", Integer, nullable=False, server_default=text("0")),
    Column("breaker_open_until_s", BigInteger),
    Column("breaker_error", Text),
    # After a fallback from multi-status, when the worker asks the multi spelling again.
    Column("multi_status_retry_at_s", BigInteger),
    Column("created_at_s", BigInteger, nullable=False),
    Column("removed_at_s", BigInteger),  # retired: kept for the orders that name it
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("category_id", Integer, ForeignKey("categories.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("rate_micros", BigInteger, nullable=False),  # per 1000 units; flat types: per order
    Column("min", Integer, nullable=False),
    Column("max", Integer, nullable=False),
    Column("refill", Boolean, nullable=False, server_default=text("false")),
    Column("cancel", Boolean, nullable=False, server_default=text("false")),
    Column("dripfeed", Boolean, nullable=False, server_default=text("false")),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("refill_days", Integer, nullable=False, server_default=text("30")),
    Column("deny_duplicate_link", Boolean, nullable=False, server_default=text("false")),
    Column("subscription_posts", Integer, nullable=False, server_default=text("10")),
    Column("description", Text),
    Column("provider_id", Integer, ForeignKey("providers.id")),
    Column("provider_service", Text),
    Column("cost_micros", BigInteger),  # upstream rate converted into the panel currency
    Column("markup_percent", Text),  # decimal text; the operator's rule for this service
    Column("position", Integer, nullable=False, server_default=text("0")),  # listing order within its category
    Column("created_at_s", BigInteger, nullable=False),
    CheckConstraint("rate_micros >= 0", name="ck_services_rate"),
    CheckConstraint("min >= 1 AND max >= min", name="ck_services_min_max"),
    UniqueConstraint("provider_id", "provider_service", name="uq_services_provider_service"),
)

custom_rates = Table(
    "custom_rates",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("service_id", Integer, ForeignKey("services.id"), primary_key=True),
    Column("rate_micros", BigInteger, nullable=False),
    CheckConstraint("rate_micros >= 0", name="ck_custom_rates_rate"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("service_id", Integer, ForeignKey("services.id"), nullable=False),
    Column("type", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("quantity", Integer, nullable=False),  # per run
    Column("runs", Integer),
    Column("interval_min", Integer),
    Column("units", Integer, nullable=False),  # what was charged for
    Column("params", Text, nullable=False, server_default=text("'{}'")),  # JSON of type-specific values
    Column("charge_micros", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("start_count", BigInteger),
    Column("remains", BigInteger),
    Column("created_at_s", BigInteger, nullable=False),
    Column("updated_at_s", BigInteger, nullable=False),
    # Reselling (the order row is its own outbox; see worker/):
    Column("provider_id", Integer, ForeignKey("providers.id")),
    Column("provider_service", Text),
    Column("provider_order", Text),
    Column("upstream_state", Text),  # None: manual fulfilment
    Column("upstream_status", Text),  # raw status text last seen upstream
    Column("upstream_error", Text),  # the upstream's words, for the operator
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # Sends answered with proof that no order was made (unreachable, a definite refusal):
    # attempts == refused_sends proves the order never reached its upstream.
    Column("refused_sends", Integer, nullable=False, server_default=text("0")),
    Column("due_at_s", BigInteger),  # next worker step (placement retry or poll)
    Column("lease_until_s", BigInteger),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("charge_micros >= 0", name="ck_orders_charge"),
)
# Every index costs each new order a page write; the partial ones cost
# nothing to the orders they don't cover (manual ones, settled ones).
Index("ix_orders_user", orders.c.user_id, orders.c.id)
Index(
    "uq_orders_provider_order",
    orders.c.provider_id,
    orders.c.provider_order,
    unique=True,
    sqlite_where=text("provider_order IS NOT NULL"),
    postgresql_where=text("provider_order IS NOT NULL"),
)
Index(
    "ix_orders_due",
    orders.c.upstream_state,
    orders.c.due_at_s,
    sqlite_where=text("due_at_s IS NOT NULL"),
    postgresql_where=text("due_at_s IS NOT NULL"),
)
Index("ix_orders_link_active", orders.c.service_id, orders.c.link)
# Link search by a substring (migration 0009, not described here): SQLite's
# FTS5 trigram table orders_link_search kept by triggers, PostgreSQL's GIN
# trigram index ix_orders_link_trgm on lower(link).

refills = Table(
    "refills",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at_s", BigInteger, nullable=False),
    Column("updated_at_s", BigInteger, nullable=False),
    Column("provider_refill", Text),
    Column("upstream_state", Text),
    Column("upstream_error", Text),
    Column("due_at_s", BigInteger),
)
Index("ix_refills_user", refills.c.user_id, refills.c.id)
Index(
    "uq_refills_one_active",
    refills.c.order_id,
    unique=True,
    sqlite_where=text("status IN ('Pending', 'In progress')"),
    postgresql_where=text("status IN ('Pending', 'In progress')"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("kind", Text, nullable=False),  # deposit | charge | refund | adjustment
    Column("amount_micros", BigInteger, nullable=False),  # signed: + credits, - debits
    Column("balance_after_micros", BigInteger, nullable=False),
    Column("order_id", Integer, ForeignKey("orders.id")),
    Column("note", Text),
    Column("created_at_s", BigInteger, nullable=False),
    Column("actor", Text),  # who moved the money by hand: an operator's name or "cli"; None: the panel itself
    # The payment method of a deposit a customer paid for ("manual": an
    # approved funds request; "bank_transfer": a payments row); None for an
    # operator's own entries. Each such entry has exactly one payment (audit).
    Column("method", Text),
    CheckConstraint("kind IN ('deposit', 'charge', 'refund', 'adjustment')", name="ck_ledger_kind"),
    CheckConstraint("balance_after_micros >= 0", name="ck_ledger_balance_after"),
)
Index("ix_ledger_user", ledger.c.user_id, ledger.c.id)
Index(
    "uq_ledger_one_refund_per_order",
    ledger.c.order_id,
    unique=True,
    sqlite_where=text("kind = 'refund'"),
    postgresql_where=text("kind = 'refund'"),
)
Index(
    "uq_ledger_one_charge_per_order",
    ledger.c.order_id,
    unique=True,
    sqlite_where=text("kind = 'charge'"),
    postgresql_where=text("kind = 'charge'"),
)

# Every status change of an order and who made it (operator name, "cli",
# "worker", "customer"): the admin's order history.
order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("remains", BigInteger),
    Column("start_count", BigInteger),
    Column("actor", Text, nullable=False),
    Column("note", Text),
    Column("created_at_s", BigInteger, nullable=False),
)
Index("ix_order_events_order", order_events.c.order_id, order_events.c.id)

# A customer asks for funds (manual payment); an operator approves (one
# deposit, linked by ledger_id, unique: approving twice can't credit twice)
# or rejects.
funds_requests = Table(
    "funds_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("reference", Text),
    Column("status", Text, nullable=False, server_default=text("'pending'")),  # pending | approved | rejected
    Column("created_at_s", BigInteger, nullable=False),
    Column("decided_at_s", BigInteger),
    Column("decided_by", Text),
    Column("note", Text),
    Column("ledger_id", Integer, ForeignKey("ledger.id"), unique=True),
    CheckConstraint("amount_micros > 0", name="ck_funds_requests_amount"),
    CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_funds_requests_status"),
)
Index("ix_funds_requests_user", funds_requests.c.user_id, funds_requests.c.id)
Index("ix_funds_requests_pending", funds_requests.c.status, funds_requests.c.id)

# Money a payment method saw arrive (a bank transfer notified by SePay, later
# a card or crypto gateway): recorded before anything else, unique per
# (method, external_id), so a repeated notification finds its row and never
# credits twice. "credited" rows link their one deposit by ledger_id;
# "unmatched" ones wait for an operator to assign (credited then) or dismiss.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("method", Text, nullable=False),  # bank_transfer
    Column("external_id", Text, nullable=False),  # the notifier's transaction id
    Column("status", Text, nullable=False),  # credited | unmatched | dismissed
    Column("reason", Text),  # why unmatched: no_code | unknown_code | ambiguous_code | below_minimum
    Column("user_id", Integer, ForeignKey("users.id")),
    Column("paid_amount", Text, nullable=False),  # exact decimal text, in paid_currency
    Column("paid_currency", Text, nullable=False),
    Column("amount_micros", BigInteger),  # what was credited, in the panel currency
    Column("ledger_id", Integer, ForeignKey("ledger.id"), unique=True),
    Column("reference", Text),  # the bank's own reference
    Column("content", Text),  # the transfer content as the bank delivered it
    Column("details", Text, nullable=False, server_default=text("'{}'")),  # the notification (JSON)
    Column("received_at_s", BigInteger, nullable=False),
    Column("decided_at_s", BigInteger),
    Column("decided_by", Text),
    Column("note", Text),
    UniqueConstraint("method", "external_id", name="uq_payments_method_external_id"),
    CheckConstraint("status IN ('credited', 'unmatched', 'dismissed')", name="ck_payments_status"),
    CheckConstraint("(status = 'credited') = (ledger_id IS NOT NULL)", name="ck_payments_credited_ledger"),
)
Index("ix_payments_status", payments.c.status, payments.c.id)
Index("ix_payments_user", payments.c.user_id, payments.c.id)

# Requests counted per rate-limit bucket ("api:<key hash>", "login:<ip>") and
# fixed window, shared by every server process (see ops/ratelimit.py).
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column("bucket", Text, primary_key=True),
    Column("window_start_s", BigInteger, primary_key=True),
    Column("hits", BigInteger, nullable=False),
)
Index("ix_rate_limit_hits_window", rate_limit_hits.c.window_start_s)

# A customer's Idempotency-Key: claimed in the same transaction as the write
# it guards, with the reply that write gave, so a retry gets that reply again.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # No foreign key (migration 0013): checking the account's row, which the
    # same statement has just debited, cost more than anything it protected.
    Column("user_id", Integer, primary_key=True),
    Column("idem_key", Text, primary_key=True),  # COLLATE "C" on PostgreSQL (0013): compared as bytes
    Column("fingerprint", Text, nullable=False),  # sha256 of the action and its parameters
    Column("reply", Text, nullable=False),  # the first reply's JSON, byte for byte
    Column("created_at_s", BigInteger, nullable=False),
)
# Read only by the hourly purge; BRIN on PostgreSQL (migration 0012): keys arrive in time order.
Index("ix_idempotency_keys_created", idempotency_keys.c.created_at_s, postgresql_using="brin")

# Upstream requests by provider, action and outcome (client.calls), summed over
# every worker since the table was made: the worker adds its counts once per
# provider pass, so these only grow (Prometheus counters, ``/metrics``).
upstream_calls = Table(
    "upstream_calls",
    metadata,
    Column("provider_id", Integer, ForeignKey("providers.id"), primary_key=True),
    Column("action", Text, primary_key=True),
    Column("outcome", Text, primary_key=True),
    Column("calls", BigInteger, nullable=False),
)
