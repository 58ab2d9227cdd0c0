"""A real ``smmpanel serve`` process: JSON logs, one object per line, and
the request id header over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_json_logs_are_one_object_per_line(server_factory, sqlite_url):
    server = server_factory({"SMMPANEL_DATABASE_URL": sqlite_url, "SMMPANEL_LOG_FORMAT": "json",
                             "SMMPANEL_LOG_LEVEL": "info"})
    reply = httpx.post(server.url, data={"key": "nope", "action": "balance"})
    assert reply.json() == {"error": "Invalid API key"} and reply.headers["x-request-id"]
    assert httpx.get(server.url.replace("/api/v2", "/readyz")).json()["ready"] is True
    server.stop()
    lines = server.proc.stderr.read().decode().splitlines()
    assert lines, "the server logged nothing at info level"
    records = [json.loads(line) for line in lines]  # fails on any line that is not one JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= record.keys() for record in records)
    assert any("Uvicorn running" in record["message"] or "Started server" in record["message"] for record in records)


@pytest.mark.postgres
def test_rate_limit_holds_across_two_server_processes(server_factory, pg_url):
    """``serve --workers 2`` on PostgreSQL, 10 requests per hour for one key:
    requests spread over both processes (seen by their request-id prefixes),
    and together they accept the limit, give or take the sharing interval."""
    import time

    limit, attempts = 10, 30
    server = server_factory({"SMMPANEL_DATABASE_URL": pg_url, "SMMPANEL_RATE_LIMIT": f"{limit}/hour"}, workers=2)
    key = json.loads(server.cli("users", "add", "busy", "--balance", "1", "--json").stdout)["api_key"]
    accepted, processes = 0, set()
    for _ in range(attempts):
        reply = httpx.post(server.url, data={"key": key, "action": "balance"})  # a new connection each time
        processes.add(reply.headers["x-request-id"].split("-")[0])
        accepted += reply.status_code == 200
        assert reply.status_code in (200, 429)
        time.sleep(0.35)  # longer than one sharing interval
    assert len(processes) == 2, "every request reached the same process: the test proves nothing"
    assert limit <= accepted <= limit + 2  # one process alone would accept 10, two unshared 20
