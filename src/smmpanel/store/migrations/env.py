"""Alembic environment: SQLite through the stdlib driver, PostgreSQL through
asyncpg (the same driver the panel uses, so there is one PostgreSQL driver)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.ext.asyncio import create_async_engine

from smmpanel.store.schema import metadata

config = context.config
url: str = config.get_main_option("sqlalchemy.url")


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if url.startswith("postgresql+asyncpg"):
    asyncio.run(_run_async())
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()
