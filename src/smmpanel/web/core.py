"""What every page shares: who is signed in, the language, CSRF, rendering,
and the security headers.

CSRF: every state-changing form carries a synchronizer token. Signed in, it
is the session's own (``web_sessions.csrf_token``); signed out (sign-up,
sign-in, language), it is an HMAC of a random HttpOnly cookie under a key
derived from the panel secret (a signed double-submit cookie: a cookie
planted by a neighbour can't come with a matching token). SameSite=Lax
cookies are a second wall: a cross-site POST carries neither.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..api.messages import message
from ..domain.errors import (
    ActiveOrderWithLink,
    BadLink,
    IncorrectService,
    InvalidField,
    PanelError,
    QuantityTooHigh,
    QuantityTooLow,
)
from ..domain.money import formatter
from ..secrets import panel_secret
from ..services import auth
from ..services.panel import Panel
from ..settings import Settings
from .i18n import LANGUAGES, WEB_DIR, environment, gettext_for

SESSION_COOKIE = "smm_session"
ANON_COOKIE = "smm_anon"
LANG_COOKIE = "smm_lang"
CSRF_FIELD = "csrf"
LANG_COOKIE_MAX_AGE_S = 365 * 86_400
ANON_TOKEN_BYTES = 32

# The API's errors that concern one form field even though they don't name it.
FIELD_OF_ERROR: dict[type, str] = {
    BadLink: "link",
    ActiveOrderWithLink: "link",
    QuantityTooLow: "quantity",
    QuantityTooHigh: "quantity",
    IncorrectService: "service",
}

SECURITY_HEADERS = [
    # Our own script and stylesheet only; nothing inline, no frames, forms post here only.
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]


class SecurityHeaders:
    """Adds the headers above to every response of the site (not ``/api/v2``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(event: dict) -> None:
            if event["type"] == "http.response.start":
                event["headers"] = [*event.get("headers", []), *SECURITY_HEADERS]
            await send(event)

        await self.app(scope, receive, send_with_headers)


class Web:
    """The site's per-process state, made when the database opens."""

    def __init__(self, panel: Panel, settings: Settings, login_limiter: Any = None) -> None:
        self.panel = panel
        self.settings = settings
        self.login_limiter = login_limiter  # per address on sign-in and sign-up (ops.ratelimit.Limiter), or None
        self.currency = settings.currency
        self.default_lang = settings.lang
        self.show_money = formatter(settings.currency)
        self.csrf_key = hashlib.sha256(b"smmpanel web csrf\0" + panel_secret().encode()).digest()

    def money(self, micros: int | None) -> str:
        """An amount as the API renders it, with the currency."""
        return f"{self.show_money(micros or 0)} {self.currency}"

    def anon_csrf(self, anon: str) -> str:
        return hmac.new(self.csrf_key, anon.encode(), hashlib.sha256).hexdigest()


def format_time(at_s: int | None) -> str:
    if not at_s:
        return ""
    return datetime.fromtimestamp(at_s, timezone.utc).strftime("%Y-%m-%d %H:%M")


class CsrfRefused(Exception):
    pass


@dataclass
class Page:
    """One request as a page sees it."""

    request: Request
    web: Web
    session: auth.WebSession | None
    lang: str
    new_anon: str | None = None  # a signed-out visitor's first CSRF cookie, set on the response
    cookies: list[tuple[str, str | None, int | None]] = field(default_factory=list)  # (name, value|None, max_age)

    @property
    def panel(self) -> Panel:
        return self.web.panel

    @property
    def _(self) -> Callable[[str], str]:
        return gettext_for(self.lang)

    @property
    def csrf(self) -> str:
        if self.session is not None:
            return self.session.csrf_token
        anon = self.request.cookies.get(ANON_COOKIE) or self.new_anon
        if anon is None:
            anon = self.new_anon = secrets.token_urlsafe(ANON_TOKEN_BYTES)
        return self.web.anon_csrf(anon)

    def error_text(self, exc: PanelError) -> str:
        return message(exc, self.lang)

    def error_field(self, exc: PanelError, fallback: str = "form") -> str:
        if isinstance(exc, InvalidField):
            return str(exc.params["field"])
        return FIELD_OF_ERROR.get(type(exc), fallback)

    def errors_of(self, exc: PanelError, fallback: str = "form") -> dict[str, str]:
        return {self.error_field(exc, fallback): self.error_text(exc)}

    async def form(self) -> FormData:
        """The posted form, once its CSRF token is checked (``CsrfRefused`` otherwise)."""
        form = await self.request.form()
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not sent:
            raise CsrfRefused()
        if self.session is not None:
            expected = self.session.csrf_token
        else:
            anon = self.request.cookies.get(ANON_COOKIE)
            if not anon:
                raise CsrfRefused()
            expected = self.web.anon_csrf(anon)
        if not hmac.compare_digest(sent, expected):
            raise CsrfRefused()
        return form

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    def set_cookie(self, name: str, value: str | None, max_age: int | None = None) -> None:
        self.cookies.append((name, value, max_age))

    def _finish(self, response: Response) -> Response:
        if self.new_anon is not None:
            self.set_cookie(ANON_COOKIE, self.new_anon)
        for name, value, max_age in self.cookies:
            if value is None:
                response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")
            else:
                response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True,
                                    samesite="lax")
        return response

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        env = environment(self.lang)
        html = env.get_template(template).render(
            page=self, user=self.session, lang=self.lang, languages=LANGUAGES, csrf=self.csrf,
            money=self.web.money, when=format_time, currency=self.web.currency, path=self.request.url.path,
            full_path=_path_with_query(self.request), **values,
        )
        response = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
        return self._finish(response)

    def redirect(self, to: str) -> Response:
        return self._finish(RedirectResponse(to, status_code=303))


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(target: object, default: str = "/") -> str:
    """Only a path on this site: never ``//evil.example`` or an absolute URL."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def pick_language(request: Request, session: auth.WebSession | None, default: str) -> str:
    if session is not None and session.language in LANGUAGES:
        return session.language
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else default


Handler = Callable[[Page], Awaitable[Response]]


def page(*, signed_in: bool) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A route handler taking a ``Page``. ``signed_in``: anonymous visitors go to
    ``/login``. A form with a bad CSRF token is refused with 403, changing nothing."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            web: Web = request.app.state.web
            limit = web.settings.max_body_bytes
            length = request.headers.get("content-length", "0")
            if length.isdigit() and int(length) > limit:
                return HTMLResponse("Request body too large", status_code=413)
            started = time.perf_counter()
            session = await auth.session(web.panel, request.cookies.get(SESSION_COOKIE))
            current = Page(request, web, session, pick_language(request, session, web.default_lang))
            if signed_in and session is None:
                # Back to the page after signing in; a form's post (an expired session, a post from another
                # site) has no page to come back to and changes nothing: the dashboard then.
                back = _path_with_query(request) if request.method in ("GET", "HEAD") else "/"
                return current.redirect("/login?next=" + _quote_path(back))
            try:
                response = await handler(current)
            except CsrfRefused:
                response = current.render("error.html", status=403, title=current._("Form refused"),
                                          text=current._("This form has expired or was sent from another site. "
                                                         "Reload the page and try again."))
            response.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
            return response

        return endpoint

    return wrap


def _quote_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def form_values(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The posted text of each named field (to refill a form after an error)."""
    return {name: value for name in names if isinstance(value := form.get(name), str)}


def site_routes() -> list[BaseRoute]:
    from . import account, admin, bank, pages

    return [
        *account.ROUTES,
        *bank.ROUTES,
        *pages.ROUTES,
        *admin.ROUTES,
        Mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static"),
    ]
