"""What the attack scripts share: ports, stopping processes, scratch
PostgreSQL databases."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess

STOP_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it does not stop in time."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def scratch_pg_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """A new, empty database: (its name, its URL)."""
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, name: str) -> None:
    pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
