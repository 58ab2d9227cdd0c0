"""Driving the website in-process (httpx over ASGI, a real database): a
"browser" that keeps cookies and fills in each form's CSRF token."""

from __future__ import annotations

import html
import re
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx

from smmpanel.app import create_app
from smmpanel.settings import Settings

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def field_error(page: str, name: str) -> str | None:
    """The error text shown next to the field ``name``, if any."""
    found = re.search(rf'<p class="error" id="e-{re.escape(name)}"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else None


class Browser:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.last = ""

    async def get(self, path: str, **kw) -> httpx.Response:
        response = await self.client.get(path, **kw)
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last = response.text
        return response

    async def submit(self, path: str, data: dict, *, form_page: str | None = None) -> httpx.Response:
        """POST like a browser would: first GET the page holding the form (for its token)."""
        page = (await self.get(form_page or path)).text
        response = await self.client.post(path, data={"csrf": csrf_of(page), **data})
        if response.headers.get("content-type", "").startswith("text/html"):
            self.last = response.text
        return response

    async def sign_up(self, name: str, password: str = "correct horse", email: str | None = None) -> httpx.Response:
        response = await self.submit("/signup", {"name": name, "email": email or f"{name}@example.com",
                                                 "password": password})
        assert response.status_code == 303, response.text
        return response


@asynccontextmanager
async def website(db_url: str, *, dialect: str = "standard", https: bool = False) -> AsyncIterator:
    """``async with website(url) as (app, new_browser)``."""
    app = create_app(Settings(database_url=db_url, dialect=dialect, currency="VND" if dialect == "like3s" else "USD"))
    clients: list[httpx.AsyncClient] = []

    def new_browser(ip: str = "127.0.0.1") -> Browser:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url=("https" if https else "http") + "://panel.test")
        clients.append(client)
        return Browser(client)

    async with app.site.router.lifespan_context(app.site):
        try:
            yield app, new_browser
        finally:
            for client in clients:
                await client.aclose()
