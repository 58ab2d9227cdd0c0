"""SQL of the website's sign-in: credentials, sessions, sign-in failures."""

from __future__ import annotations

from .db import Conn, Row

LOGIN_COLUMNS = "id, name, email, password_hash, role, language, active"


async def login_by_name_or_email(conn: Conn, login: str) -> Row | None:
    """The user whose name is ``login``, or else whose email is (any case)."""
    return await conn.fetchrow(
        f"SELECT {LOGIN_COLUMNS} FROM users WHERE name = $1 "
        f"UNION ALL SELECT {LOGIN_COLUMNS} FROM users WHERE lower(email) = lower($1) AND name <> $1 "
        "LIMIT 1",
        login,
    )


async def login_by_id(conn: Conn, user_id: int) -> Row | None:
    return await conn.fetchrow(f"SELECT {LOGIN_COLUMNS} FROM users WHERE id = $1", user_id)


async def set_login(conn: Conn, user_id: int, *, email: str | None = None, password_hash: str | None = None,
                    role: str | None = None) -> None:
    """Set whichever of these is given (None leaves a value as it is)."""
    await conn.execute(
        "UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash), "
        "role = COALESCE($4, role) WHERE id = $1",
        user_id, email, password_hash, role,
    )


async def set_language(conn: Conn, user_id: int, language: str) -> None:
    await conn.execute("UPDATE users SET language = $2 WHERE id = $1", user_id, language)


# ----------------------------------------------------------------- sessions


async def insert_session(conn: Conn, token_hash: str, user_id: int, csrf_token: str, now_s: int,
                         expires_at_s: int) -> None:
    await conn.execute(
        "INSERT INTO web_sessions (token_hash, user_id, csrf_token, created_at_s, expires_at_s) "
        "VALUES ($1, $2, $3, $4, $5)",
        token_hash, user_id, csrf_token, now_s, expires_at_s,
    )


async def session_by_token(conn: Conn, token_hash: str, now_s: int) -> Row | None:
    """A live session and its (active) user, in one statement: every signed-in page starts here."""
    return await conn.fetchrow(
        "SELECT s.user_id, s.csrf_token, s.expires_at_s, u.name, u.role, u.language "
        "FROM web_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = $1 AND s.expires_at_s > $2 AND u.active",
        token_hash, now_s,
    )


async def delete_session(conn: Conn, token_hash: str) -> None:
    await conn.execute("DELETE FROM web_sessions WHERE token_hash = $1", token_hash)


async def delete_sessions_of_user(conn: Conn, user_id: int, *, except_hash: str | None = None) -> int:
    return await conn.execute(
        "DELETE FROM web_sessions WHERE user_id = $1 AND token_hash <> COALESCE($2, '')", user_id, except_hash
    )


async def delete_expired_sessions(conn: Conn, now_s: int) -> int:
    return await conn.execute("DELETE FROM web_sessions WHERE expires_at_s <= $1", now_s)


# ------------------------------------------------------------ sign-in failures


async def count_failures(conn: Conn, scopes: list[str], since_s: int) -> list[Row]:
    """Failures per scope since ``since_s`` (scopes without any are absent)."""
    placeholders = ", ".join(f"${i}" for i in range(2, len(scopes) + 2))
    return await conn.fetch(
        f"SELECT scope, COUNT(*) AS n FROM auth_failures WHERE created_at_s >= $1 AND scope IN ({placeholders}) "
        "GROUP BY scope",
        since_s, *scopes,
    )


async def insert_failure(conn: Conn, scope: str, now_s: int) -> None:
    await conn.execute("INSERT INTO auth_failures (scope, created_at_s) VALUES ($1, $2)", scope, now_s)


async def clear_failures(conn: Conn, scope: str) -> None:
    await conn.execute("DELETE FROM auth_failures WHERE scope = $1", scope)


async def delete_old_failures(conn: Conn, before_s: int) -> int:
    return await conn.execute("DELETE FROM auth_failures WHERE created_at_s < $1", before_s)
