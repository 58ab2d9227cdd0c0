"""The website's sign-up, sign-in, sessions, CSRF, throttling and language,
in-process over ASGI on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import httpx
import pytest

from smmpanel.services import auth
from websupport import csrf_of, field_error, website

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def panel_secret(monkeypatch):
    monkeypatch.setenv("SMMPANEL_SECRET", "test secret")


def api_balance(app, key: str):
    """The API's answer to ``balance`` for this key, through the same app."""

    async def call():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://panel.test") as client:
            return (await client.post("/api/v2", data={"key": key, "action": "balance"})).json()

    return call()


async def test_signed_out_home_goes_to_login_and_sign_up_signs_in(db_url):
    async with website(db_url) as (app, browser):
        b = browser()
        r = await b.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
        r = await b.sign_up("alice")
        cookie = r.headers["set-cookie"]
        assert "smm_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
        home = await b.get("/")
        assert home.status_code == 200 and "alice" in home.text and "Sign out" in home.text


async def test_cookies_are_secure_over_https(db_url):
    async with website(db_url, https=True) as (_, browser):
        r = await browser().sign_up("alice")
        assert "Secure" in r.headers["set-cookie"]


async def test_sign_up_refuses_bad_fields_next_to_the_field_and_creates_nothing(db_url):
    async with website(db_url) as (app, browser):
        b = browser()
        cases = [
            ({"name": "bad name!", "email": "x@example.com", "password": "long enough"}, "name", "Invalid name"),
            ({"name": "bob", "email": "not-an-email", "password": "long enough"}, "email", "Invalid email"),
            ({"name": "bob", "email": "b@example.com", "password": "short"}, "password", "at least 8"),
        ]
        for data, field, text in cases:
            r = await b.submit("/signup", data)
            assert r.status_code == 400
            assert text in (field_error(r.text, field) or ""), (field, r.text)
            assert 'value="bob"' in r.text or data["name"] != "bob"  # what was typed stays
        ok = await browser().submit("/signup", {"name": "bob", "email": "b@example.com", "password": "long enough"})
        assert ok.status_code == 303  # nothing half-made blocked the name
        taken = await browser().submit("/signup", {"name": "bob2", "email": "B@example.com", "password": "long enough"})
        assert "already taken" in field_error(taken.text, "email")
        again = await browser().submit("/signup", {"name": "bob", "email": "c@example.com", "password": "long enough"})
        assert "A user named bob already exists" in field_error(again.text, "name")


async def test_sign_in_by_name_or_email_and_one_message_for_any_wrong_credentials(db_url):
    async with website(db_url) as (_, browser):
        await browser().sign_up("carol", password="right password", email="Carol@Example.com")
        b = browser()
        wrong_password = await b.submit("/login", {"login": "carol", "password": "wrong password"})
        unknown_user = await b.submit("/login", {"login": "nobody", "password": "right password"})
        assert wrong_password.status_code == unknown_user.status_code == 400
        assert "Wrong username or password" in wrong_password.text and "Wrong username or password" in unknown_user.text
        assert (await browser().submit("/login", {"login": "carol", "password": "right password"})).status_code == 303
        by_email = await browser().submit("/login", {"login": "carol@example.com", "password": "right password"})
        assert by_email.status_code == 303


async def test_repeated_failures_throttle_the_account_even_for_the_right_password(db_url):
    async with website(db_url) as (_, browser):
        await browser().sign_up("dave", password="right password")
        for i in range(auth.MAX_FAILURES_PER_ACCOUNT):
            await browser(ip=f"10.0.0.{i}").submit("/login", {"login": "dave", "password": "nope nope"})
        r = await browser(ip="10.0.1.1").submit("/login", {"login": "dave", "password": "right password"})
        assert r.status_code == 400 and "Too many failed sign-ins" in r.text
        # Another account from the same addresses is not affected.
        await browser().sign_up("erin", password="right password")
        assert (await browser(ip="10.0.0.1").submit("/login", {"login": "erin", "password": "right password"})
                ).status_code == 303


async def test_repeated_failures_throttle_the_address(db_url, monkeypatch):
    monkeypatch.setattr(auth, "MAX_FAILURES_PER_IP", 4)
    async with website(db_url) as (_, browser):
        await browser().sign_up("frank", password="right password")
        attacker = "192.0.2.7"
        for i in range(4):
            await browser(ip=attacker).submit("/login", {"login": f"guess{i}", "password": "whatever1"})
        r = await browser(ip=attacker).submit("/login", {"login": "frank", "password": "right password"})
        assert "Too many failed sign-ins" in r.text
        assert (await browser(ip="192.0.2.8").submit("/login", {"login": "frank", "password": "right password"})
                ).status_code == 303


async def test_sign_in_rotates_the_session_and_sign_out_revokes_it(db_url):
    async with website(db_url) as (_, browser):
        b = browser()
        await b.sign_up("gina", password="right password")
        first = b.client.cookies.get("smm_session")
        await b.submit("/logout", {}, form_page="/")
        assert (await b.get("/")).status_code == 303
        # The old token, replayed, is dead: sign-out deleted the row.
        replay = browser()
        replay.client.cookies.set("smm_session", first, domain="panel.test")
        assert (await replay.get("/")).status_code == 303
        await b.submit("/login", {"login": "gina", "password": "right password"})
        second = b.client.cookies.get("smm_session")
        assert second and second != first
        assert (await b.get("/")).status_code == 200


async def test_password_change_signs_other_sessions_out(db_url):
    async with website(db_url) as (_, browser):
        phone, laptop = browser(), browser()
        await phone.sign_up("hank", password="old password")
        await laptop.submit("/login", {"login": "hank", "password": "old password"})
        wrong = await phone.submit("/account/password", {"current_password": "not it!!", "new_password": "new password"},
                                   form_page="/account")
        assert "Invalid current_password" in field_error(wrong.text, "current_password")
        r = await phone.submit("/account/password", {"current_password": "old password", "new_password": "new password"},
                               form_page="/account")
        assert r.status_code == 200 and "Other sessions signed out: 1" in r.text
        assert (await phone.get("/account")).status_code == 200
        assert (await laptop.get("/account")).status_code == 303
        assert (await browser().submit("/login", {"login": "hank", "password": "old password"})).status_code == 400
        assert (await browser().submit("/login", {"login": "hank", "password": "new password"})).status_code == 303


async def test_new_api_key_is_shown_once_and_the_old_one_stops_working(db_url):
    async with website(db_url) as (app, browser):
        b = browser()
        await b.sign_up("ivy")
        r = await b.submit("/account/key", {}, form_page="/account")
        first = r.text.split('id="new-key" class="key" type="text" readonly value="')[1].split('"')[0]
        assert (await api_balance(app, first)) == {"balance": "0.00000", "currency": "USD"}
        assert first not in (await b.get("/account")).text  # shown once
        r = await b.submit("/account/key", {}, form_page="/account")
        second = r.text.split('readonly value="')[1].split('"')[0]
        assert (await api_balance(app, first)) == {"error": "Invalid API key"}
        assert "balance" in await api_balance(app, second)


async def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(db_url):
    async with website(db_url) as (app, browser):
        victim, attacker = browser(), browser()
        await victim.sign_up("jane", password="old password")
        await attacker.sign_up("mallory")
        attacker_token = csrf_of((await attacker.get("/account")).text)
        for data in ({}, {"csrf": "forged"}, {"csrf": attacker_token}):
            r = await victim.client.post("/account/password",
                                         data={"current_password": "old password", "new_password": "pwned pwned", **data})
            assert r.status_code == 403 and "another site" in r.text
        assert (await browser().submit("/login", {"login": "jane", "password": "old password"})).status_code == 303
        # Signed out too: a sign-up form posted without the visitor's token creates nothing.
        r = await browser().client.post("/signup", data={"name": "ghost", "email": "g@example.com",
                                                         "password": "long enough", "csrf": "x"})
        assert r.status_code == 403
        assert (await browser().submit("/login", {"login": "ghost", "password": "long enough"})).status_code == 400


async def test_security_headers(db_url):
    async with website(db_url) as (_, browser):
        b = browser()
        await b.sign_up("olive")
        responses = {
            "sign-in page": await browser().get("/login"),
            "signed-in page": await b.get("/orders"),
            "redirect": await browser().get("/"),
            "not found": await b.get("/orders/999999"),
            "refused form": await b.client.post("/account/password", data={"csrf": "forged"}),
            "refused input": await b.submit("/funds", {"amount": "abc"}),
            "stylesheet": await b.get("/static/site.css"),
        }
        assert [r.status_code for r in responses.values()] == [200, 200, 303, 404, 403, 400, 200]
        for what, r in responses.items():
            csp = r.headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, what
            assert r.headers.get("x-frame-options") == "DENY" and r.headers.get("referrer-policy") == "same-origin", what


async def test_language_switch_is_per_visitor_and_stored_for_a_signed_in_customer(db_url):
    async with website(db_url) as (_, browser):
        b = browser()
        r = await b.submit("/language", {"lang": "vi", "next": "/login"}, form_page="/login")
        assert r.headers["location"] == "/login"
        page = (await b.get("/login")).text
        assert "Đăng nhập" in page and "Sign in" not in page
        assert "Sign in" in (await browser().get("/login")).text  # another visitor keeps English
        await b.sign_up("kim")
        fresh = browser()  # a new browser: the stored choice follows the account
        await fresh.submit("/login", {"login": "kim", "password": "correct horse"})
        assert "Đăng xuất" in (await fresh.get("/account")).text


async def test_like3s_panels_default_to_vietnamese(db_url):
    async with website(db_url, dialect="like3s") as (_, browser):
        assert "Đăng nhập" in (await browser().get("/login")).text


async def test_next_after_sign_in_stays_on_this_site(db_url):
    async with website(db_url) as (_, browser):
        await browser().sign_up("leo", password="right password")
        b = browser()
        await b.get("/login?next=//evil.example/x")
        r = await b.submit("/login?next=//evil.example/x", {"login": "leo", "password": "right password"})
        assert r.headers["location"] == "/"


async def test_a_form_posted_after_the_session_ended_signs_in_to_a_page_not_to_an_error(db_url):
    """The session expired (or the post came from another site, without the cookie): the form changes
    nothing, and signing in leads to a page, never to the form's POST-only address (405)."""
    async with website(db_url) as (_, browser):
        await browser().sign_up("pia", password="right password")
        b = browser()
        r = await b.client.post("/account/password", data={"current_password": "right password",
                                                           "new_password": "pwned pwned"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
        signed_in = await b.submit(r.headers["location"], {"login": "pia", "password": "right password"})
        assert signed_in.headers["location"] == "/" and (await b.get("/")).status_code == 200
        r = await browser().get("/orders?status=Pending")  # a page, though, is where signing in comes back to
        assert r.headers["location"] == "/login?next=/orders%3Fstatus%3DPending"
