"""The ASGI application: ``/api/v2`` straight to its handler, everything else
through a Starlette app (health check, the customer website, and the lifespan
that opens and closes the database). The website's middleware (security
headers) wraps only that app: the API's hot path never sees it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from .api.app import API_PATHS, ApiV2
from .api.render import Dialect
from .payments.webhook import webhook_routes
from .services.panel import Panel
from .settings import Settings
from .store.db import open_database
from .web import site_routes
from .web.core import SecurityHeaders, Web


class PanelApp:
    def __init__(self, settings: Settings, *, pg_pool_max: int | None = None) -> None:
        self.settings = settings
        self.api: ApiV2 | None = None
        self._pg_pool_max = pg_pool_max

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            kwargs = {"pg_pool_max": self._pg_pool_max} if self._pg_pool_max else {}
            db = await open_database(settings.database_url, **kwargs)
            panel = Panel(db=db, currency=settings.currency)
            self.api = ApiV2(panel, Dialect(settings.dialect, settings.currency), settings.max_body_bytes)
            app.state.web = Web(panel, settings)
            try:
                yield
            finally:
                self.api = None
                await db.close()

        async def health(request: Any) -> JSONResponse:
            return JSONResponse({"ok": True, "dialect": settings.dialect, "currency": settings.currency})

        self.site = Starlette(routes=[Route("/health", health), *site_routes()], lifespan=lifespan,
                              middleware=[Middleware(SecurityHeaders)])
        self.site.router.routes.extend(webhook_routes(self))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in API_PATHS and self.api is not None:
            await self.api(scope, receive, send)
        else:
            await self.site(scope, receive, send)


def create_app(settings: Settings | None = None) -> PanelApp:
    return PanelApp(settings or Settings.from_env())
