"""Schema upgrades through Alembic; never by hand.

``SCHEMA_HEAD`` names the newest revision so that commands can tell, with one
query and without importing Alembic (a third of a second), that there is
nothing to do. A unit test keeps it equal to Alembic's own head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .db import open_database, sqlalchemy_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SCHEMA_HEAD = "0013"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url))
    return config


def upgrade(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")


async def schema_version(database_url: str) -> str | None:
    db = await open_database(database_url, pg_pool_max=1)
    try:
        return await db.fetchval("SELECT version_num FROM alembic_version")
    except Exception:  # no table yet: a fresh database
        return None
    finally:
        await db.close()


def ensure_schema(database_url: str) -> bool:
    """Upgrade unless the database is already at ``SCHEMA_HEAD``. Returns
    whether the database held no panel before (a new one was created)."""
    import asyncio

    version = asyncio.run(schema_version(database_url))
    if version != SCHEMA_HEAD:
        upgrade(database_url)
    return version is None
