"""An async client of the SMM panel "API v2" (Perfect Panel and its Vietnamese variants).

It tolerates what real panels send (spec section 6): numbers as strings or
JSON numbers, ids as integers or strings, statuses in any case and spelling,
errors in English, Vietnamese or raw translation keys, multi-status through
``action=status&orders=`` or ``action=orders``. Money is exact ``Decimal``,
never a float.

Usage::

    import asyncio
    from smmpanel.client import ErrorKind, ProviderClient, UpstreamError

    async def main() -> None:
        async with ProviderClient("https://68smm.com/api/v2", "MY_KEY") as panel:
            print(await panel.balance())            # Balance(amount=Decimal('100.84292'), currency='USD')
            for service in await panel.services():
                print(service.service, service.name, service.rate)
            try:
                order = await panel.add({"service": 1, "link": "https://x.com/a", "quantity": 100})
            except UpstreamError as exc:
                if exc.kind is ErrorKind.UNKNOWN_OUTCOME:
                    ...  # the order may exist upstream: do NOT send it again, reconcile by hand
                elif exc.kind is ErrorKind.UNREACHABLE:
                    ...  # provably never sent: safe to retry later
                else:
                    ...  # a definite refusal: exc.detail holds the panel's words
            else:
                status = (await panel.statuses([order]))[order]
                print(status)  # UpstreamStatus(status=<Status.PENDING ...>, raw_status='Pending', ...)

    asyncio.run(main())

A JSON-only panel (Like3s, baostar) takes ``encoding="json"``;
``await panel.detect_encoding()`` finds it with a harmless ``balance`` call.
``smmpanel.client.call(url, key, action, params)`` sends one raw request.

Modules: ``provider`` (the client), ``wire`` (HTTP and fault classification),
``replies`` (reply shapes), ``statuses`` (status vocabulary), ``classify``
(error words), ``values`` (tolerant value parsing), ``errors``, ``models``,
``limits``, ``calls`` (requests counted by action and outcome).
"""

from .classify import classify
from .errors import CallOutcome, ClientError, ClientUsageError, ErrorKind, NumberOutOfBounds, UpstreamError
from .limits import DEFAULT_TIMEOUT_S, MAX_IDS_PER_CALL
from .models import Balance, Catalog, RejectedService, UpstreamService, UpstreamStatus
from .provider import MULTI_STATUS_ACTIONS, ProviderClient
from .raw import call
from .statuses import PERFECT_PANEL_STATUS_CODES

__all__ = [
    "Balance",
    "CallOutcome",
    "Catalog",
    "ClientError",
    "ClientUsageError",
    "DEFAULT_TIMEOUT_S",
    "ErrorKind",
    "MAX_IDS_PER_CALL",
    "MULTI_STATUS_ACTIONS",
    "NumberOutOfBounds",
    "PERFECT_PANEL_STATUS_CODES",
    "ProviderClient",
    "RejectedService",
    "UpstreamError",
    "UpstreamService",
    "UpstreamStatus",
    "call",
    "classify",
]
