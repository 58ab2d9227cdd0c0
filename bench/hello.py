"""The ceiling the panel is measured against: a minimal Starlette app served
by uvicorn with the panel's settings (uvloop + httptools, no access log).

One POST route at the panel's path that reads the request body (the same form
body wrk sends the panel), parses nothing, and answers a small JSON object.
Run by ``bench/run.py`` as:

    uvicorn --app-dir bench hello:app --loop uvloop --http httptools --no-access-log
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def api(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/api/v2", api, methods=["POST"])])
