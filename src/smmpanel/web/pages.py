"""The customer's pages: dashboard, orders, refills, funds, API docs."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from .core import Page, page


@page(signed_in=True)
async def dashboard(current: Page) -> Response:
    return current.render("dashboard.html")


ROUTES = [
    Route("/", dashboard, methods=["GET"]),
]
