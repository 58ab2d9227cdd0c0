"""Running the panel: schema, server, demo, audit."""

from __future__ import annotations

import asyncio
import sys

import click
import orjson

from ..ops.logs import log_config
from ..services import audit
from ..services.panel import Panel
from ..store.migrate import upgrade
from .base import load_settings, emit, json_option, main, with_panel


@main.command()
@json_option
def migrate(as_json: bool) -> None:
    """Create or upgrade the database schema."""
    settings = load_settings()
    upgrade(settings.database_url)
    emit(as_json, {"migrated": True}, "schema is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes (PostgreSQL only).")
@json_option
def serve(host: str, port: int, workers: int, as_json: bool) -> None:
    """Serve the API v2 (and /health)."""
    import uvicorn

    settings = load_settings()
    upgrade(settings.database_url)
    if workers > 1 and settings.database_url.startswith("sqlite"):
        # SQLite has one writer: more processes are slower, not faster.
        click.echo("note: several workers on SQLite are slower than one; use PostgreSQL to scale out", err=True)
    if as_json:
        click.echo(orjson.dumps({"serving": f"http://{host}:{port}/api/v2", "workers": workers}).decode())
    uvicorn.run(
        "smmpanel.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level=settings.log_level,
        log_config=log_config(settings.log_format, settings.log_level),
    )




# ------------------------------------------------------------------- audit


@main.command("audit")
@json_option
def audit_cmd(as_json: bool) -> None:
    """Check every ledger invariant; exit 1 with a report when one is broken."""

    @with_panel
    async def body(panel: Panel, as_json: bool) -> list[audit.Finding]:
        return await audit.run(panel)

    findings = body(as_json=as_json)
    if as_json:
        click.echo(orjson.dumps(
            {"ok": not findings, "checks": len(audit.INVARIANTS),
             "broken": [{"check": f.check, "rows": f.rows} for f in findings]},
            option=orjson.OPT_INDENT_2).decode())
    elif not findings:
        click.echo(f"audit: all {len(audit.INVARIANTS)} invariants hold")
    else:
        for finding in findings:
            click.echo(f"BROKEN: {finding.check}")
            for row in finding.rows:
                click.echo("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    if findings:
        sys.exit(1)


# -------------------------------------------------------------------- demo


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--db", "db_path", default="demo.db", show_default=True, help="SQLite file (recreated).")
@click.option("--no-serve", is_flag=True, help="Only create the demo database.")
@json_option
def demo(host: str, port: int, db_path: str, no_serve: bool, as_json: bool) -> None:
    """A fresh SQLite panel with a demo customer and catalog, then serve it."""
    import os

    from ..demo import DEMO_PASSWORD, DEMO_USER, build_demo

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    url = f"sqlite:///{db_path}"
    os.environ["SMMPANEL_DATABASE_URL"] = url
    settings = load_settings()
    upgrade(url)
    key, service_ids = asyncio.run(build_demo(settings))
    info = {"api_url": f"http://{host}:{port}/api/v2", "site_url": f"http://{host}:{port}/", "api_key": key,
            "username": DEMO_USER, "password": DEMO_PASSWORD, "services": len(service_ids), "database": url}
    emit(as_json, info, f"demo panel: {info['site_url']} (website), {info['api_url']} (API)\n"
         f"demo customer: username {DEMO_USER}, password {DEMO_PASSWORD}, API key: {key}\n"
         f"try: curl -s '{info['api_url']}?key={key}&action=balance'")
    if not no_serve:
        import uvicorn

        uvicorn.run("smmpanel.app:create_app", factory=True, host=host, port=port, access_log=False,
                    log_level=settings.log_level, log_config=log_config(settings.log_format, settings.log_level))
