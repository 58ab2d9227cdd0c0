"""Sealing upstream API keys at rest.

An upstream key has to be sent, so it can't be hashed like customers' keys.
It is encrypted (Fernet: AES-128-CBC + HMAC) with a key derived from the
panel secret: ``SMMPANEL_SECRET``, or else the file named by
``SMMPANEL_SECRET_FILE`` (default ``smmpanel.secret`` in the working
directory), created with mode 0600 the first time it is needed. A database
dump alone does not reveal provider keys. Keys are never logged: the only
printable form is ``redact``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as _random
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

DEFAULT_SECRET_FILE = "smmpanel.secret"
SECRET_BYTES = 32


class SecretError(Exception):
    pass


def panel_secret() -> str:
    value = os.environ.get("SMMPANEL_SECRET")
    if value:
        return value
    path = Path(os.environ.get("SMMPANEL_SECRET_FILE", DEFAULT_SECRET_FILE))
    if path.exists():
        return path.read_text().strip()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_random.token_urlsafe(SECRET_BYTES))
    return path.read_text().strip()


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def seal(plain: str, secret: str | None = None) -> str:
    return _fernet(secret or panel_secret()).encrypt(plain.encode()).decode()


def unseal(sealed: str, secret: str | None = None) -> str:
    try:
        return _fernet(secret or panel_secret()).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretError(
            "a provider key can't be decrypted: SMMPANEL_SECRET (or the secret file) differs from the one "
            "used when the provider was added"
        ) from None


def redact(key: str) -> str:
    """What operators see of a key: enough to tell two apart, not to use one."""
    return f"{key[:3]}…{key[-2:]}" if len(key) > 8 else "…"
