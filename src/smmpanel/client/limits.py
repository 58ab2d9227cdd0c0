"""Every limit and timeout of the API v2 client, named once."""

from __future__ import annotations

# Spec section 2: a multi-id call (status, refill, refill_status, cancel) takes at most 100 ids.
MAX_IDS_PER_CALL = 100

# Default wait for any single network step (connect, write, read, pool).
DEFAULT_TIMEOUT_S = 30.0
# A whole call (all steps together) is abandoned after this many times ``timeout_s``:
# it stops a peer that drips a byte at a time from holding a call forever.
TOTAL_DEADLINE_FACTOR = 2.0

# A reply larger than this is not an API reply (a service list of a big panel is ~2 MB).
MAX_REPLY_BYTES = 20 * 1024 * 1024

# Every number an upstream sends is checked against these bounds BEFORE any arithmetic
# or int conversion: ``int(Decimal("1e99999999"))`` alone burns minutes of CPU on the event
# loop, where no timeout can interrupt it. A number past a bound is a protocol error for
# the one item (order, service, balance) that carries it.
MAX_NUMBER_CHARS = 64  # a number (JSON token or numeric text) longer than this is refused unread
MAX_NUMBER_DIGITS = 18  # |x| < 10^18: any count, id or amount of a real panel; fits a 64-bit column
MAX_FRACTION_DIGITS = 18  # a non-zero |x| >= 10^-18
MAX_ID_DIGITS = 30  # upstream ids are kept as text, never computed with

# How many characters of an upstream's words an error keeps.
MAX_DETAIL_CHARS = 500
# How many characters of an unreadable body are quoted in the error.
GARBLED_SNIPPET_CHARS = 120

# Connections kept per client (one upstream panel).
MAX_CONNECTIONS = 10
MAX_KEEPALIVE_CONNECTIONS = 5

# Single ``status`` calls run at most this many at a time when a panel has no multi-status.
SINGLE_CALL_CONCURRENCY = 4

USER_AGENT = "smmpanel-client/0.1 (+API v2)"
