"""``/healthz`` (the process answers), ``/readyz`` (the database answers and
its schema is current) and ``/metrics`` (Prometheus text, behind a bearer
token; off without one)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import stats
from ..services.panel import Panel
from .metrics import CONTENT_TYPE, RequestCounters, exposition

READY_TIMEOUT_S = 2.0  # a probe must answer quickly even when the database does not
METRICS_TIMEOUT_S = 10.0


def routes(live: Callable[[], tuple[Panel, RequestCounters] | None], metrics_token: str | None) -> list[Route]:
    """``live()`` gives the running panel, or None outside the lifespan."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        running = live()
        if running is None:
            return JSONResponse({"ready": False, "database": "not started"}, status_code=503)
        try:
            ready = await asyncio.wait_for(stats.readiness(running[0]), READY_TIMEOUT_S)
        except asyncio.TimeoutError:
            return JSONResponse({"ready": False, "database": "timeout"}, status_code=503)
        body = {"ready": ready.ready, "database": ready.database, "schema": ready.schema,
                "schema_expected": ready.schema_expected}
        return JSONResponse(body, status_code=200 if ready.ready else 503)

    async def metrics(request: Request) -> Response:
        if metrics_token is None:
            return JSONResponse({"error": "Not found"}, status_code=404)
        if not _bearer_matches(request.headers.get("authorization", ""), metrics_token):
            return JSONResponse({"error": "Unauthorized: send Authorization: Bearer <SMMPANEL_METRICS_TOKEN>"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        running = live()
        if running is None:
            return JSONResponse({"error": "not started"}, status_code=503)
        panel, counters = running
        figures = await asyncio.wait_for(stats.figures(panel), METRICS_TIMEOUT_S)
        return Response(exposition(counters, figures), media_type=CONTENT_TYPE)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    # compare_digest: the time taken must not tell how much of a guess was right
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
