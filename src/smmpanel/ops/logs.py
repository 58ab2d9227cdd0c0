"""Logs: plain text or one JSON object per line (``SMMPANEL_LOG_FORMAT``),
each record carrying the id of the request it belongs to.

The request id lives in a context variable, set once per request by the
server (and sent back in the ``X-Request-Id`` header), so any log line written
while serving that request names it without being passed around.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import logging.config
import os
import re
import secrets
from contextvars import ContextVar
from typing import Any

import orjson

REQUEST_ID_HEADER = b"x-request-id"
NO_REQUEST = "-"
# A client's own id is kept if it is short and plain (it ends up in logs).
_CLIENT_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")

request_id_var: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


class RequestIds:
    """Ids unique across processes and restarts at the cost of a counter
    increment: a random per-process prefix, then a sequence number."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._next = itertools.count(1).__next__

    def new(self) -> str:
        return f"{self._prefix}-{self._next():x}"

    def from_headers(self, headers: list[tuple[bytes, bytes]]) -> str:
        for name, value in headers:
            if name == REQUEST_ID_HEADER:
                return self.choose(value)
        return self.new()

    def choose(self, client_id: bytes | None) -> str:
        """The client's own id (the header's value, or None) if it is plain, else a new one."""
        if client_id is not None and _CLIENT_REQUEST_ID.fullmatch(client_id):
            return client_id.decode("ascii")
        return self.new()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id,
    and the traceback as one string when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
            "pid": os.getpid(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_config(log_format: str, log_level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for the panel's and uvicorn's
    loggers (uvicorn takes it as ``log_config``)."""
    level = "DEBUG" if log_level == "trace" else log_level.upper()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "panel",
               "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"panel": formatter},
        "handlers": {"panel": handler},
        "loggers": {
            "smmpanel": {"handlers": ["panel"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["panel"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["panel"], "level": level, "propagate": False},
            # One INFO line per upstream request: thousands per worker pass; `worker --verbose` lowers it.
            "httpx": {"handlers": ["panel"], "level": "WARNING", "propagate": False},
        },
        # Any other library's warnings (python-multipart's on a malformed body, say) in the
        # same format: without a root handler they went to stderr as bare text, breaking
        # one-JSON-object-per-line.
        "root": {"handlers": ["panel"], "level": "WARNING"},
    }


def setup_logging(log_format: str, log_level: str) -> None:
    logging.config.dictConfig(log_config(log_format, log_level))
