"""Typed settings from the environment; a bad or missing value fails at start
with its name.

The panel secret that seals provider keys (``SMMPANEL_SECRET`` /
``SMMPANEL_SECRET_FILE``) is read by ``smmpanel.secrets`` only, when a key
is sealed or opened, so it never sits in a settings object that may be
printed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

DIALECTS = ("standard", "like3s")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
DEFAULT_DATABASE_URL = "sqlite:///smmpanel.db"
DEFAULT_MAX_BODY_BYTES = 1_000_000  # a 100-link addBulk with comments fits easily
MIN_METRICS_TOKEN_CHARS = 16  # a guessable token would expose order and money figures


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
        return cls(
            database_url=url,
            dialect=dialect,
            currency=currency,
            max_body_bytes=int(raw_max),
            log_level=log_level,
            log_format=log_format,
            metrics_token=metrics_token,
        )
