"""The website's sign-in: accounts with passwords, server-side sessions,
throttling of failed sign-ins.

* Passwords are argon2id hashes (argon2-cffi), computed off the event loop:
  one hash costs tens of milliseconds of CPU by design.
* A session is a random token in the browser's cookie; the table keeps only
  its SHA-256 (the token is 256-bit random, so a fast hash is enough), with
  the session's CSRF token and its expiry. Every sign-in makes a new session
  (rotation); deleting the row signs the browser out.
* Failed sign-ins are rows in ``auth_failures`` scoped per account and per
  address, so throttling holds across server processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain.errors import InvalidField, NotFound, SignInFailed, SignInThrottled
from ..store import accounts as accounts_store
from ..store import auth as store
from . import accounts
from .panel import Panel
from .principal import ACTOR_CUSTOMER

SESSION_TTL_S = 14 * 86_400
TOKEN_BYTES = 32
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this only bounds the work a request can ask for
MAX_EMAIL_CHARS = 254
THROTTLE_WINDOW_S = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 30  # several customers may share one address (an office, a carrier NAT)
LANGUAGES = ("en", "vi")
ROLES = ("customer", "operator")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_hasher = PasswordHasher()
# Verified when no account matches, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: the cookie's token (returned only when created) and who it is."""

    token_hash: str
    user_id: int
    name: str
    role: str
    language: str | None
    csrf_token: str
    token: str | None = None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def check_password(password: str, field: str = "password") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InvalidField(field, "too_short", min=MIN_PASSWORD_CHARS)
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidField(field, "too_long", max=MAX_PASSWORD_CHARS)
    return password


def check_email(email: str) -> str:
    email = (email or "").strip()
    if not email:
        raise InvalidField("email", "required")
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email):
        raise InvalidField("email", "email")
    return email


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidField("language", "one_of", allowed=", ".join(LANGUAGES))
    return language


async def register(panel: Panel, name: str, *, actor: str, email: str | None = None, password: str | None = None,
                   role: str = "customer", balance: Decimal = Decimal(0)) -> tuple[int, str]:
    """A new account (with a password when given); returns its id and API key.
    ``actor``: who created it (an operator, ``"cli"``, or the customer signing up)."""
    if role not in ROLES:
        raise InvalidField("role", "one_of", allowed=", ".join(ROLES))
    email = check_email(email) if email is not None else None
    password_hash = await hash_password(check_password(password)) if password is not None else None
    return await accounts.add_user(panel, name, balance, actor=actor, email=email, password_hash=password_hash,
                                   role=role)


async def sign_up(panel: Panel, name: str, email: str, password: str, language: str | None = None) -> WebSession:
    """Create a customer from the website's form and sign it in."""
    accounts.check_name(name)
    email = check_email(email)
    check_password(password)
    user_id, _key = await register(panel, name, email=email, password=password, actor=ACTOR_CUSTOMER)
    if language is not None:
        async with panel.db.transaction() as tx:
            await store.set_language(tx, user_id, check_language(language))
    return await _new_session(panel, user_id)


async def sign_in(panel: Panel, login: str, password: str, ip: str, *, replacing: str | None = None) -> WebSession:
    """A new session for the right password; ``SignInFailed`` (the same for a
    wrong name and a wrong password) or ``SignInThrottled`` otherwise.
    ``replacing``: the browser's previous session token, which ends here."""
    login = (login or "").strip()
    now = panel.clock()
    user = await store.login_by_name_or_email(panel.db, login) if login else None
    scopes = [f"user:{user['id'] if user else login.lower()}", f"ip:{ip}"]
    counts = {row["scope"]: row["n"] for row in await store.count_failures(panel.db, scopes, now - THROTTLE_WINDOW_S)}
    if counts.get(scopes[0], 0) >= MAX_FAILURES_PER_ACCOUNT or counts.get(scopes[1], 0) >= MAX_FAILURES_PER_IP:
        raise SignInThrottled(minutes=THROTTLE_WINDOW_S // 60)
    good = await _verify(user["password_hash"] if user else None, password or "")
    if not good or not user["active"]:
        async with panel.db.transaction() as tx:
            for scope in scopes:
                await store.insert_failure(tx, scope, now)
        raise SignInFailed()
    if _hasher.check_needs_rehash(user["password_hash"]):
        new_hash = await hash_password(password)
        async with panel.db.transaction() as tx:
            await store.set_login(tx, user["id"], password_hash=new_hash)
    return await _new_session(panel, user["id"], replacing=replacing, clear_scope=scopes[0])


async def _new_session(panel: Panel, user_id: int, *, replacing: str | None = None,
                       clear_scope: str | None = None) -> WebSession:
    token, csrf = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
    now = panel.clock()
    async with panel.db.transaction() as tx:
        if replacing:
            await store.delete_session(tx, _token_hash(replacing))
        if clear_scope:
            await store.clear_failures(tx, clear_scope)
        # Housekeeping rides on sign-ins: both tables stay the size of what is live.
        await store.delete_expired_sessions(tx, now)
        await store.delete_old_failures(tx, now - THROTTLE_WINDOW_S)
        await store.insert_session(tx, _token_hash(token), user_id, csrf, now, now + SESSION_TTL_S)
        user = await store.login_by_id(tx, user_id)
    return WebSession(_token_hash(token), user_id, user["name"], user["role"], user["language"], csrf, token)


async def session(panel: Panel, token: str | None) -> WebSession | None:
    """The live session of this cookie token, or None (unknown, expired, or the account disabled)."""
    if not token:
        return None
    token_hash = _token_hash(token)
    row = await store.session_by_token(panel.db, token_hash, panel.clock())
    if row is None:
        return None
    return WebSession(token_hash, row["user_id"], row["name"], row["role"], row["language"], row["csrf_token"])


async def sign_out(panel: Panel, token: str) -> None:
    async with panel.db.transaction() as tx:
        await store.delete_session(tx, _token_hash(token))


async def change_password(panel: Panel, current: WebSession, old_password: str, new_password: str) -> int:
    """Returns how many other sessions were signed out."""
    check_password(new_password, "new_password")
    user = await store.login_by_id(panel.db, current.user_id)
    if not await _verify(user["password_hash"], old_password or ""):
        raise InvalidField("current_password", "wrong_password")
    new_hash = await hash_password(new_password)
    async with panel.db.transaction() as tx:
        await store.set_login(tx, current.user_id, password_hash=new_hash)
        return await store.delete_sessions_of_user(tx, current.user_id, except_hash=current.token_hash)


async def set_password(panel: Panel, name: str, password: str) -> None:
    """The operator sets a customer's password (``smmpanel users password``); their sessions end."""
    new_hash = await hash_password(check_password(password))
    user = await accounts_store.user_by_name(panel.db, name)
    if user is None:
        raise NotFound(what="user", name=name)
    async with panel.db.transaction() as tx:
        await store.set_login(tx, user["id"], password_hash=new_hash)
        await store.delete_sessions_of_user(tx, user["id"])


async def set_role(panel: Panel, name: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidField("role", "one_of", allowed=", ".join(ROLES))
    user = await accounts_store.user_by_name(panel.db, name)
    if user is None:
        raise NotFound(what="user", name=name)
    async with panel.db.transaction() as tx:
        await store.set_login(tx, user["id"], role=role)


async def set_language(panel: Panel, user_id: int, language: str) -> None:
    async with panel.db.transaction() as tx:
        await store.set_language(tx, user_id, check_language(language))


async def new_key(panel: Panel, user_id: int) -> str:
    """A new API key for this account (shown once); the old one stops working at once."""
    return (await accounts.rotate_key(panel, user_id, actor=ACTOR_CUSTOMER)).api_key
