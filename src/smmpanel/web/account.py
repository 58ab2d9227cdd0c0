"""Sign-up, sign-in, sign-out, the account page and the language switch."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from ..domain.errors import PanelError
from ..services import auth
from .core import LANG_COOKIE, LANG_COOKIE_MAX_AGE_S, SESSION_COOKIE, Page, form_values, page, safe_next
from .i18n import LANGUAGES


def _start_session(current: Page, session: auth.WebSession, to: str) -> Response:
    current.session = session  # the page now speaks for the new session (its CSRF token, its language)
    current.set_cookie(SESSION_COOKIE, session.token, auth.SESSION_TTL_S)
    return current.redirect(to)


@page(signed_in=False)
async def signup(current: Page) -> Response:
    if current.session is not None:
        return current.redirect("/")
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        form = await current.form()
        values = form_values(form, ("name", "email"))
        try:
            session = await auth.sign_up(current.panel, values.get("name", ""), values.get("email", ""),
                                         str(form.get("password") or ""), language=current.lang)
        except PanelError as exc:
            errors = current.errors_of(exc, fallback="name")  # a taken name names no field of its own
        else:
            return _start_session(current, session, "/")
    return current.render("signup.html", status=400 if errors else 200, values=values, errors=errors)


@page(signed_in=False)
async def login(current: Page) -> Response:
    next_path = safe_next(current.request.query_params.get("next"))
    if current.session is not None:
        return current.redirect(next_path)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    if current.request.method == "POST":
        form = await current.form()
        values = form_values(form, ("login",))
        ip = current.request.client.host if current.request.client else "unknown"
        try:
            session = await auth.sign_in(current.panel, values.get("login", ""), str(form.get("password") or ""), ip,
                                         replacing=current.request.cookies.get(SESSION_COOKIE))
        except PanelError as exc:
            errors = {"form": current.error_text(exc)}
        else:
            return _start_session(current, session, next_path)
    return current.render("login.html", status=400 if errors else 200, values=values, errors=errors,
                          next_path=next_path)


@page(signed_in=False)
async def logout(current: Page) -> Response:
    await current.form()
    token = current.request.cookies.get(SESSION_COOKIE)
    if token:
        await auth.sign_out(current.panel, token)
    current.set_cookie(SESSION_COOKIE, None)
    return current.redirect("/login")


@page(signed_in=False)
async def language(current: Page) -> Response:
    form = await current.form()
    lang = form.get("lang")
    if isinstance(lang, str) and lang in LANGUAGES:
        current.set_cookie(LANG_COOKIE, lang, LANG_COOKIE_MAX_AGE_S)
        if current.session is not None:
            await auth.set_language(current.panel, current.session.user_id, lang)
    return current.redirect(safe_next(form.get("next")))


@page(signed_in=True)
async def account(current: Page) -> Response:
    return current.render("account.html", errors={}, notice=None, new_key=None)


@page(signed_in=True)
async def change_password(current: Page) -> Response:
    form = await current.form()
    assert current.session is not None
    try:
        ended = await auth.change_password(current.panel, current.session, str(form.get("current_password") or ""),
                                           str(form.get("new_password") or ""))
    except PanelError as exc:
        return current.render("account.html", status=400, errors=current.errors_of(exc), notice=None, new_key=None)
    notice = current._("Password changed. Other sessions signed out: %(count)s.") % {"count": ended}
    return current.render("account.html", errors={}, notice=notice, new_key=None)


@page(signed_in=True)
async def new_key(current: Page) -> Response:
    await current.form()
    assert current.session is not None
    key = await auth.new_key(current.panel, current.session.user_id)
    return current.render("account.html", errors={}, notice=None, new_key=key)


ROUTES = [
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language", language, methods=["POST"]),
    Route("/account", account, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/key", new_key, methods=["POST"]),
]
