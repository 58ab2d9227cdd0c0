"""Running the panel: schema, server, demo, audit."""

from __future__ import annotations

import asyncio
import sys

import click
import orjson

from ..services import audit
from ..services.panel import Panel
from ..store.migrate import upgrade
from .base import describe_database, emit, json_option, load_settings, main, prepare_database, with_panel


@main.command()
@json_option
def migrate(as_json: bool) -> None:
    """Create or upgrade the database schema."""
    settings = load_settings()
    upgrade(settings.database_url)
    emit(as_json, {"migrated": True}, "schema is up to date")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes (PostgreSQL only).")
@json_option
def serve(host: str, port: int, workers: int, as_json: bool) -> None:
    """Serve the API v2 (and /health)."""
    import uvicorn

    settings = load_settings()
    prepare_database(settings.database_url)
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
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int,
              help="Port to listen on (the next free one when it is busy).")
@click.option("--db", "db_path", default="demo.db", show_default=True,
              help="SQLite file for the demo. An existing one is kept and a new file next to it is used.")
@click.option("--fresh", is_flag=True, help="Delete and recreate --db (refused while a running panel uses it).")
@click.option("--no-serve", is_flag=True, help="Only create the demo database.")
@json_option
def demo(host: str, port: int, db_path: str, fresh: bool, no_serve: bool, as_json: bool) -> None:
    """A new SQLite panel with a demo customer and catalog, then serve it."""
    import os

    from ..demo import DEMO_PASSWORD, DEMO_USER, DemoRefused, build_demo, choose_database, choose_port

    notes = []
    try:
        if not no_serve:
            port, port_note = choose_port(host, port)
            notes.append(port_note)
        placement = choose_database(db_path, fresh=fresh)
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from None
    notes.append(placement.note)
    for note in filter(None, notes):
        click.echo(f"note: {note}", err=True)
    url = describe_database(f"sqlite:///{placement.path}")
    os.environ["SMMPANEL_DATABASE_URL"] = url
    settings = load_settings()
    upgrade(url)
    key, service_ids = asyncio.run(build_demo(settings))
    env_line = f"export SMMPANEL_DATABASE_URL={url}"
    info = {"api_url": f"http://{host}:{port}/api/v2", "site_url": f"http://{host}:{port}/", "api_key": key,
            "username": DEMO_USER, "password": DEMO_PASSWORD, "services": len(service_ids), "database": url,
            "env": env_line}
    emit(as_json, info, f"demo panel: {info['site_url']} (website), {info['api_url']} (API)\n"
         f"demo customer: username {DEMO_USER}, password {DEMO_PASSWORD}, API key: {key}\n"
         f"try: curl -s '{info['api_url']}?key={key}&action=balance'\n"
         f"to run smmpanel commands on this demo's database, first: {env_line}")
    if not no_serve:
        import uvicorn

        uvicorn.run("smmpanel.app:create_app", factory=True, host=host, port=port, access_log=False,
                    log_level=settings.log_level)
