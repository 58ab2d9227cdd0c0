"""Typed settings from the environment; a bad or missing value fails at start
with its name.

The panel secret that seals provider keys (``SMMPANEL_SECRET`` /
``SMMPANEL_SECRET_FILE``) is read by ``smmpanel.secrets`` only, when a key
is sealed or opened, so it never sits in a settings object that may be
printed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Mapping

from .domain.banktransfer import MAX_PREFIX_CHARS, BankTerms
from .domain.ratelimit import RateLimit, parse_rate_limit
from .domain.vietqr import MAX_ACCOUNT_CHARS

DIALECTS = ("standard", "like3s")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
DEFAULT_DATABASE_URL = "sqlite:///smmpanel.db"
DEFAULT_MAX_BODY_BYTES = 1_000_000  # a 100-link addBulk with comments fits easily
# No API limit by default: a reseller's scripts burst, and the benchmark drives
# one key at ~20,000 requests/s. Operators set one (e.g. 3000/minute).
DEFAULT_RATE_LIMIT = "0"
# Sign-in and sign-up per address: a person needs a handful, a password
# guesser thousands (failed sign-ins are also throttled per account).
DEFAULT_LOGIN_RATE_LIMIT = RateLimit(20, 60)
MIN_METRICS_TOKEN_CHARS = 16  # a guessable token would expose order and money figures
DEFAULT_DEPOSIT_PREFIX = "SMM"
DEFAULT_DEPOSIT_MIN_VND = 10_000
MAX_ACCOUNT_NAME_CHARS = 100


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    dialect: str = "standard"
    currency: str = "USD"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "info"
    log_format: str = "text"
    # None: /metrics is off. A bearer token, compared in constant time.
    metrics_token: str | None = field(default=None, repr=False)
    allow_private_upstreams: bool = False  # loopback/private/link-local upstream addresses (tests, a LAN)
    rate_limit: RateLimit | None = None  # per API account; None: no limit
    login_rate_limit: RateLimit | None = DEFAULT_LOGIN_RATE_LIMIT  # per address on sign-in and sign-up
    bank: BankTerms | None = None  # VietQR bank transfer; None: not offered
    # Turns the SePay webhook on; repr=False so printing settings never shows it.
    sepay_api_key: str | None = field(default=None, repr=False)

    @property
    def lang(self) -> str:
        return "vi" if self.dialect == "like3s" else "en"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        dialect = env.get("SMMPANEL_DIALECT", "standard").strip().lower()
        if dialect not in DIALECTS:
            raise SettingsError(f"SMMPANEL_DIALECT must be one of {', '.join(DIALECTS)} (got {dialect!r})")
        currency = env.get("SMMPANEL_CURRENCY", "VND" if dialect == "like3s" else "USD").strip().upper()
        if not (currency.isalpha() and len(currency) == 3):
            raise SettingsError(f"SMMPANEL_CURRENCY must be a 3-letter code like USD or VND (got {currency!r})")
        url = env.get("SMMPANEL_DATABASE_URL", DEFAULT_DATABASE_URL).strip()
        if not url.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise SettingsError(f"SMMPANEL_DATABASE_URL must start with sqlite:/// or postgresql:// (got {url!r})")
        raw_max = env.get("SMMPANEL_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))
        if not raw_max.isdigit() or int(raw_max) < 1024:
            raise SettingsError(f"SMMPANEL_MAX_BODY_BYTES must be a whole number >= 1024 (got {raw_max!r})")
        log_level = env.get("SMMPANEL_LOG_LEVEL", "info").strip().lower()
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"SMMPANEL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {log_level!r})")
        log_format = env.get("SMMPANEL_LOG_FORMAT", "text").strip().lower()
        if log_format not in LOG_FORMATS:
            raise SettingsError(f"SMMPANEL_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)} (got {log_format!r})")
        metrics_token = env.get("SMMPANEL_METRICS_TOKEN") or None
        if metrics_token is not None and (len(metrics_token) < MIN_METRICS_TOKEN_CHARS or not metrics_token.isprintable()
                                          or " " in metrics_token):
            # the value is a secret: the message names the rule, never the value
            raise SettingsError(f"SMMPANEL_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_CHARS} printable "
                                "characters without spaces")
        rate_limit = _rate_limit(env, "SMMPANEL_RATE_LIMIT", DEFAULT_RATE_LIMIT)
        login_rate_limit = _rate_limit(env, "SMMPANEL_LOGIN_RATE_LIMIT", str(DEFAULT_LOGIN_RATE_LIMIT))
        allow_private = private_upstreams_allowed(env)
        return cls(
            database_url=url,
            dialect=dialect,
            currency=currency,
            max_body_bytes=int(raw_max),
            log_level=log_level,
            log_format=log_format,
            metrics_token=metrics_token,
            rate_limit=rate_limit,
            allow_private_upstreams=allow_private,
            login_rate_limit=login_rate_limit,
            bank=bank_terms_from_env(env, currency),
            sepay_api_key=sepay_key_from_env(env),
        )


def private_upstreams_allowed(env: Mapping[str, str] | None = None) -> bool:
    """SMMPANEL_ALLOW_PRIVATE_UPSTREAMS: ``1`` lets the client reach loopback,
    private and link-local addresses; unset or ``0`` refuses them."""
    raw = (os.environ if env is None else env).get("SMMPANEL_ALLOW_PRIVATE_UPSTREAMS", "0").strip()
    if raw not in ("0", "1"):
        raise SettingsError(f"SMMPANEL_ALLOW_PRIVATE_UPSTREAMS must be 0 or 1 (got {raw!r})")
    return raw == "1"


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> RateLimit | None:
    raw = env.get(name, default)
    try:
        return parse_rate_limit(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} {exc} (got {raw!r})") from None


def bank_terms_from_env(env: Mapping[str, str], currency: str) -> BankTerms | None:
    """The VietQR bank-transfer method: offered when SMMPANEL_VIETQR_BIN,
    _ACCOUNT and _NAME are all set; a webhook key without them is an error."""
    names = ("SMMPANEL_VIETQR_BIN", "SMMPANEL_VIETQR_ACCOUNT", "SMMPANEL_VIETQR_NAME")
    given = {name: env.get(name, "").strip() for name in names}
    if not any(given.values()):
        if env.get("SMMPANEL_SEPAY_API_KEY", "").strip():
            raise SettingsError("SMMPANEL_SEPAY_API_KEY needs SMMPANEL_VIETQR_BIN, SMMPANEL_VIETQR_ACCOUNT and "
                                "SMMPANEL_VIETQR_NAME: the webhook credits transfers to that account only")
        return None
    for name, value in given.items():
        if not value:
            raise SettingsError(f"{name} must be set too when any of {', '.join(names)} is (bank transfers)")
    bin_, account, account_name = given.values()
    if not (len(bin_) == 6 and bin_.isdigit()):
        raise SettingsError(f"SMMPANEL_VIETQR_BIN must be the bank's 6-digit NAPAS BIN (got {bin_!r})")
    if not (len(account) <= MAX_ACCOUNT_CHARS and account.isascii() and account.isalnum()):
        raise SettingsError(f"SMMPANEL_VIETQR_ACCOUNT must be 1-{MAX_ACCOUNT_CHARS} letters or digits (got {account!r})")
    if len(account_name) > MAX_ACCOUNT_NAME_CHARS or any(ord(c) < 32 for c in account_name):
        raise SettingsError(f"SMMPANEL_VIETQR_NAME must be at most {MAX_ACCOUNT_NAME_CHARS} printable characters")
    prefix = env.get("SMMPANEL_DEPOSIT_PREFIX", DEFAULT_DEPOSIT_PREFIX).strip().upper()
    if not (0 < len(prefix) <= MAX_PREFIX_CHARS and prefix.isascii() and prefix.isalnum()):
        raise SettingsError(f"SMMPANEL_DEPOSIT_PREFIX must be 1-{MAX_PREFIX_CHARS} letters or digits (got {prefix!r})")
    raw_min = env.get("SMMPANEL_DEPOSIT_MIN_VND", str(DEFAULT_DEPOSIT_MIN_VND)).strip()
    if not raw_min.isdigit() or int(raw_min) < 1:
        raise SettingsError(f"SMMPANEL_DEPOSIT_MIN_VND must be a whole number of dong >= 1 (got {raw_min!r})")
    return BankTerms(bin=bin_, account=account, account_name=account_name, prefix=prefix, min_vnd=int(raw_min),
                     vnd_rate=_vnd_rate(env, currency))


def _vnd_rate(env: Mapping[str, str], currency: str) -> Decimal:
    raw = env.get("SMMPANEL_VND_RATE", "").strip()
    if currency == "VND":
        if raw and _decimal(raw) != 1:
            raise SettingsError(f"SMMPANEL_VND_RATE must be 1 or unset when SMMPANEL_CURRENCY is VND (got {raw!r})")
        return Decimal(1)
    if not raw:
        raise SettingsError(f"SMMPANEL_VND_RATE must be set: the {currency} value of 1 VND (e.g. 0.00004)")
    rate = _decimal(raw)
    if rate is None or not rate.is_finite() or rate <= 0:
        raise SettingsError(f"SMMPANEL_VND_RATE must be a positive decimal, the {currency} value of 1 VND "
                            f"(got {raw!r})")
    return rate


def _decimal(raw: str) -> Decimal | None:
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def sepay_key_from_env(env: Mapping[str, str]) -> str | None:
    key = env.get("SMMPANEL_SEPAY_API_KEY", "").strip()
    return key or None
