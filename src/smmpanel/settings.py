"""Typed settings from the environment; a bad or missing value fails at start
with its name.

The panel secret that seals provider keys (``SMMPANEL_SECRET`` /
``SMMPANEL_SECRET_FILE``) is read by ``smmpanel.secrets`` only, when a key
is sealed or opened, so it never sits in a settings object that may be
printed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DIALECTS = ("standard", "like3s")
DEFAULT_DATABASE_URL = "sqlite:///smmpanel.db"
DEFAULT_MAX_BODY_BYTES = 1_000_000  # a 100-link addBulk with comments fits easily


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    dialect: str = "standard"
    currency: str = "USD"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "info"

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
        return cls(
            database_url=url,
            dialect=dialect,
            currency=currency,
            max_body_bytes=int(raw_max),
            log_level=env.get("SMMPANEL_LOG_LEVEL", "info"),
        )
