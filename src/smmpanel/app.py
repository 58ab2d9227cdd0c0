"""The ASGI application: ``/api/v2`` straight to its handler, everything else
through a Starlette app (health check, the customer website, and the lifespan
that opens and closes the database). The website's middleware (security
headers) wraps only that app: the API's hot path never sees it."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from .api import openapi
from .api.app import API_PATHS, ApiV2
from .api.render import Dialect
from .ops import heap
from .ops.logs import REQUEST_ID_HEADER, RequestIds, request_id_var
from .ops.metrics import RequestCounters
from .ops.ratelimit import Limiter
from .ops.routes import routes as ops_routes
from .payments.webhook import webhook_routes
from .services import idempotency
from .services.panel import Panel
from .settings import Settings
from .store.db import open_database
from .web import site_routes
from .web.core import SecurityHeaders, Web

log = logging.getLogger("smmpanel.app")
KEY_PURGE_INTERVAL_S = 3600  # expired keys are dead either way: this only frees their rows


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
            limiters = [Limiter(limit, prefix=prefix) if limit is not None else None
                        for limit, prefix in ((settings.rate_limit, "api:"), (settings.login_rate_limit, "login:"))]
            for limiter in limiters:
                if limiter is not None:
                    limiter.start_sharing(db)
            api_limiter, login_limiter = limiters
            self.api = ApiV2(panel, Dialect(settings.dialect, settings.currency), settings.max_body_bytes, api_limiter)
            app.state.web = Web(panel, settings, login_limiter)
            housekeeping = asyncio.get_running_loop().create_task(_forget_expired_keys(panel))
            try:
                with heap.settled():
                    yield
            finally:
                housekeeping.cancel()
                self.api = None
                for limiter in limiters:
                    if limiter is not None:
                        await limiter.stop()
                await db.close()

        async def health(request: Any) -> JSONResponse:
            return JSONResponse({"ok": True, "dialect": settings.dialect, "currency": settings.currency})

        description = openapi.document(Dialect(settings.dialect, settings.currency))

        async def openapi_json(request: Any) -> JSONResponse:
            return JSONResponse(description)

        def live() -> tuple[Panel, RequestCounters] | None:
            return None if self.api is None else (self.api.panel, self.api.counters)

        self.site = Starlette(routes=[Route("/health", health), Route(openapi.PATH, openapi_json),
                                      *ops_routes(live, settings.metrics_token),
                                      *site_routes()],
                              lifespan=lifespan, middleware=[Middleware(SecurityHeaders)])
        self.site.router.routes.extend(webhook_routes(self))
        self._site_request_ids = RequestIds()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in API_PATHS and self.api is not None:
            await self.api(scope, receive, send)
        elif scope["type"] == "http":
            await self._site(scope, receive, send)
        else:
            await self.site(scope, receive, send)

    async def _site(self, scope: Any, receive: Any, send: Any) -> None:
        """Every other page also gets a request id, in its logs and its reply."""
        request_id = self._site_request_ids.from_headers(scope["headers"])
        request_id_var.set(request_id)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]}
            await send(message)

        await self.site(scope, receive, send_with_id)


async def _forget_expired_keys(panel: Panel) -> None:
    """Expired idempotency keys no longer count; this reclaims their rows."""
    while True:
        await asyncio.sleep(KEY_PURGE_INTERVAL_S)
        try:
            await idempotency.forget_expired(panel)
        except Exception:  # the database away for a moment: next time
            log.warning("could not delete expired idempotency keys", exc_info=True)


def create_app(settings: Settings | None = None) -> PanelApp:
    return PanelApp(settings or Settings.from_env())
