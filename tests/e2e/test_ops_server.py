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
