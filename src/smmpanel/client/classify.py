"""An upstream's error words -> ``ErrorKind`` (spec sections 4 and 6).

Upstreams speak English (the Perfect Panel texts), Vietnamese (Like3s, with or
without diacritics) or leak raw translation keys
(``neworder.error.not_enough_funds``). The text is normalised first (lower
case, Vietnamese diacritics and ``đ`` folded to ASCII, ``. _ -`` and
punctuation to spaces), then the rules below are tried in order; the first
match wins, and anything unmatched is ``REJECTED`` (a definite refusal).

===== ================ ==========================================================
order kind             matches (normalised)
===== ================ ==========================================================
1     rejected         missing/required fields, "incorrect request", "thieu thong
                       tin", "yeu cau khong hop le" (they name service, link and
                       quantity, so they must win over those rules)
2     rejected         an active order with the same link / duplicate
3     rejected         a bad id-list format ("Invalid orders format")
4     unsupported      "invalid action", "action khong hop le", "unknown action"...
5     out_of_funds     "funds", "insufficient", "not enough balance/money",
                       "so du khong du", "khong du tien", "het tien"
6     unknown_order    "incorrect order id", "order not found", "khong tim thay
                       don hang", "refill not found", "incorrect refill id",
                       "khong tim thay yeu cau bao hanh"
7     bad_service      "incorrect service id", "service not found/disabled",
                       "dich vu khong ton tai", "error service"
8     bad_link         "bad link", "invalid link/url", "link khong hop le",
                       "error link"
9     bad_quantity     "quantity", "minimal", "maximal", "so luong"
–     rejected         anything else: bad key, refill/cancel not allowed, ...
===== ================ ==========================================================
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ErrorKind

_FOLD = str.maketrans({"đ": "d", "Đ": "D"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", ascii_only.lower()).strip()


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_RULES: tuple[tuple[ErrorKind, re.Pattern[str]], ...] = (
    (
        ErrorKind.REJECTED,
        _any(
            r"\bmissing\b",
            r"\brequired fields?\b",
            r"\bincorrect request\b",
            r"\bbad request\b",
            r"\bthieu thong tin\b",
            r"\byeu cau khong hop le\b",
        ),
    ),
    (
        ErrorKind.REJECTED,
        _any(r"\bactive order\b", r"\bdang co don\b", r"\bduplicate\b", r"\balready (have|has) an? active\b"),
    ),
    (ErrorKind.REJECTED, _any(r"\b(orders|refills|ids)\b.*\bformat\b", r"\bformat\b.*\b(orders|refills)\b",
                              r"\bdinh dang\b")),
    (
        ErrorKind.UNSUPPORTED,
        _any(
            r"\b(invalid|incorrect|unknown|unsupported|wrong|bad) action\b",
            r"\baction (is )?(invalid|incorrect|unknown|not supported|not allowed|not found|khong hop le|"
            r"khong ton tai|khong ho tro)\b",
            r"\bmethod not (allowed|supported)\b",
        ),
    ),
    (
        ErrorKind.OUT_OF_FUNDS,
        _any(
            r"\bfunds?\b",
            r"\binsufficient\b",
            r"\bnot enough (balance|money|credits?)\b",
            r"\b(low|negative) balance\b",
            r"\bbalance (is )?(too )?low\b",
            r"\bso du (cua ban )?khong du\b",
            r"\bkhong du (so du|tien)\b",
            r"\bhet tien\b",
        ),
    ),
    (
        ErrorKind.UNKNOWN_ORDER,
        _any(
            r"\b(incorrect|invalid|unknown|wrong|bad) (order|refill)( id)?\b",
            r"\b(order|refill)( id)? (is )?(not found|does not exist|doesn t exist|khong ton tai)\b",
            r"\bno such (order|refill)\b",
            r"\bkhong tim thay (don|yeu cau bao hanh)\b",
            r"\bdon hang khong ton tai\b",
        ),
    ),
    (
        ErrorKind.BAD_SERVICE,
        _any(
            r"\b(incorrect|invalid|unknown|wrong|disabled|inactive) service\b",
            r"\bservice( id)? (is )?(not found|does not exist|doesn t exist|disabled|not active|inactive|"
            r"not available|unavailable)\b",
            r"\bdich vu (nay )?(khong ton tai|khong hop le|da (bi )?tat|dang bao tri|tam dung|ngung)\b",
            r"\berror (invalid )?service\b",
        ),
    ),
    (
        ErrorKind.BAD_LINK,
        _any(
            r"\b(bad|invalid|incorrect|wrong|malformed) (link|url)\b",
            r"\b(link|url) (is )?(invalid|incorrect|wrong|khong hop le|sai|khong dung)\b",
            r"\berror (invalid )?link\b",
        ),
    ),
    (
        ErrorKind.BAD_QUANTITY,
        _any(r"\bquantity\b", r"\bminimal\b", r"\bmaximal\b", r"\bso luong\b", r"\berror (min|max)\b"),
    ),
)

_AUTH = _any(
    r"\b(invalid|incorrect|wrong|bad|unknown|disabled) (api )?(key|token)\b",
    r"\b(api )?key (is )?(invalid|incorrect|disabled|not found|khong hop le)\b",
    r"\bunauthori[sz]ed\b",
    r"\b(account|user) (is )?(banned|suspended|disabled|blocked)\b",
)


# A refusal of the request's shape: the panel did not read the parameters we sent
# (a multi-id call on a panel that only knows the single-id spelling says this).
_REQUEST_SHAPE = _any(
    r"\bmissing\b",
    r"\brequired\b",
    r"\b(incorrect|bad|invalid) request\b",
    r"\bformat\b",
    r"\bthieu thong tin\b",
    r"\byeu cau khong hop le\b",
    r"\bdinh dang\b",
)


def classify(message: str) -> ErrorKind:
    """The kind of an upstream's error message (see the module docstring)."""
    text = normalise(message)
    for kind, pattern in _RULES:
        if pattern.search(text):
            return kind
    return ErrorKind.REJECTED


def is_auth_error(message: str) -> bool:
    """A refusal of the key or the account itself: every other call would fail the same way."""
    return bool(_AUTH.search(normalise(message)))


def means_spelling_unsupported(message: str) -> bool:
    """Does this top-level refusal of a multi-id call say "I don't take it that way"?

    True for an unknown action, an unknown order/refill (the panel looked for
    the single ``order``/``refill`` parameter and found none) and a refusal
    of the request's shape. A refused key, funds or anything else (rate
    limits, maintenance) is not: trying other spellings would not help.
    """
    if is_auth_error(message):
        return False
    kind = classify(message)
    if kind in (ErrorKind.UNSUPPORTED, ErrorKind.UNKNOWN_ORDER):
        return True
    return kind is ErrorKind.REJECTED and bool(_REQUEST_SHAPE.search(normalise(message)))
