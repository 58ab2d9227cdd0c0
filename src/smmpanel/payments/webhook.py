"""The payment webhooks as Starlette routes (``/hooks/sepay``): read the
body (bounded), let the method verify it, record it, answer.

Answers: 200 ``{"success": true}`` only after the notification is durably
recorded (credited, kept as unmatched, or found to be a repeat), so the
sender's retries stop exactly when they may; 401 wrong credentials, 400 a
malformed notification (naming the field), 413 too large, 404 webhook not
configured, 500 a fault (the sender retries). Every request is logged by
outcome; headers (the key) never are.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..api.messages import message
from ..domain.errors import NotificationUnauthorized, PanelError
from .bank_transfer import BankTransferMethod
from .base import NotifiedMethod

log = logging.getLogger("smmpanel.payments.webhook")

# A SePay notification is well under 2 KiB; anything near this is not one.
MAX_NOTIFICATION_BYTES = 64 * 1024


async def _bounded_body(request: Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_NOTIFICATION_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, error: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": error}, status_code=status)


def notification_route(method: NotifiedMethod, panel_of: Callable[[], Any]) -> Route:
    """The route of one notified method; ``panel_of()`` gives the running
    panel (None before startup)."""

    async def receive(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "?"
        if not method.accepts_notifications:
            return _refuse(404, f"{method.path} is not configured")
        panel = panel_of()
        if panel is None:
            return _refuse(503, "starting")
        body = await _bounded_body(request)
        if body is None:
            log.warning("%s from %s: refused, body over %d bytes", method.path, client, MAX_NOTIFICATION_BYTES)
            return _refuse(413, f"body larger than {MAX_NOTIFICATION_BYTES} bytes")
        try:
            payment = method.verify({k.lower(): v for k, v in request.headers.items()}, body)
            receipt = await method.record(panel, payment)
        except NotificationUnauthorized as exc:
            log.warning("%s from %s: refused, bad credentials", method.path, client)
            return _refuse(401, message(exc))
        except PanelError as exc:
            log.warning("%s from %s: refused, %s", method.path, client, message(exc))
            return _refuse(400, message(exc))
        except Exception:
            log.exception("%s from %s: fault; the sender will retry", method.path, client)
            return _refuse(500, "internal error, retry later")
        log.info("%s from %s: transaction %s %s%s", method.path, client, payment.external_id, receipt.outcome,
                 f" ({receipt.reason})" if receipt.reason else "")
        return JSONResponse({"success": True})

    return Route(method.path, receive, methods=["POST"])


def webhook_routes(panel_app: Any) -> list[Route]:
    """The routes for ``PanelApp`` (its ``settings``; its ``api.panel`` once started)."""
    settings = panel_app.settings
    bank = BankTransferMethod(settings.bank, settings.sepay_api_key)
    return [notification_route(bank, lambda: panel_app.api.panel if panel_app.api is not None else None)]
