"""``ProviderClient``: the typed API v2 client of one upstream panel."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Awaitable, Callable, Iterator, Mapping, Sequence, TypeVar

import anyio
import httpx

from ..domain.status import RefillStatus, Status
from . import limits
from .calls import CallCounts
from .classify import is_auth_error, means_spelling_unsupported
from .errors import ClientUsageError, ErrorKind, UpstreamError
from .models import Balance, Catalog, UpstreamService, UpstreamStatus
from .replies import ReplyReader
from .statuses import PERFECT_PANEL_STATUS_CODES
from .wire import ENCODINGS, Wire, error_text, public_url

T = TypeVar("T")

# How ``statuses`` asks for many orders at once, in the order they are tried.
MULTI_STATUS_ACTIONS = ("status", "orders", "single")
_NEXT_MULTI = {"status": "orders", "orders": "single"}


class ProviderClient:
    """An async client of one upstream panel speaking API v2.

    ``encoding`` is how requests are sent: ``"form"``
    (``application/x-www-form-urlencoded``, the Perfect Panel default) or
    ``"json"`` (Like3s, baostar); ``detect_encoding`` finds it. ``timeout_s``
    bounds every network step; a whole call is abandoned after
    ``limits.TOTAL_DEADLINE_FACTOR`` times that. ``max_ids`` is the chunk size
    of the multi-id calls (at most 100). ``multi_status_action`` is the first
    spelling ``statuses`` tries: ``"status"`` (``action=status&orders=``),
    ``"orders"`` (Like3s) or ``"single"`` (one ``status`` call per order); when
    a panel refuses it, the next one is tried and remembered (read it back
    from the ``multi_status_action`` attribute to store it). ``status_codes``
    maps numeric statuses (see ``smmpanel.client.statuses``).

    The client never retries anything by itself: only an ``UpstreamError``
    whose ``kind`` is ``UNREACHABLE`` is safe to send again.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        encoding: str = "form",
        timeout_s: float = limits.DEFAULT_TIMEOUT_S,
        max_ids: int = limits.MAX_IDS_PER_CALL,
        multi_status_action: str = "status",
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: bool = False,  # loopback/private upstream addresses (guard.py); off by default
        status_codes: Mapping[int, Status | None] = PERFECT_PANEL_STATUS_CODES,
    ) -> None:
        if encoding not in ENCODINGS:
            raise ClientUsageError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")
        if not 1 <= max_ids <= limits.MAX_IDS_PER_CALL:
            raise ClientUsageError(f"max_ids must be between 1 and {limits.MAX_IDS_PER_CALL}")
        if multi_status_action not in MULTI_STATUS_ACTIONS:
            raise ClientUsageError(f"multi_status_action must be one of {MULTI_STATUS_ACTIONS}")
        if not key:
            raise ClientUsageError("an API key is required")
        self.url = url
        self.encoding = encoding
        self.max_ids = max_ids
        self.multi_status_action = multi_status_action
        self._wire = Wire(url, key, timeout_s=timeout_s, transport=transport, allow_private=allow_private)
        self._read = ReplyReader(key, status_codes)

    def __repr__(self) -> str:
        return f"ProviderClient(url={public_url(self.url)!r}, encoding={self.encoding!r})"

    @property
    def timeout_s(self) -> float:
        return self._wire.timeout_s

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        await self._wire.aclose()

    async def __aenter__(self) -> "ProviderClient":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plumbing

    @property
    def calls(self) -> CallCounts:
        """Requests sent by action and outcome, since last taken (see ``calls.py``)."""
        return self._wire.calls

    async def _call(self, action: str, params: Mapping[str, object], read: Callable[[Any], T] | None = None) -> Any:
        """The reply as ``read`` reads it (a reply ``read`` cannot read counts as unparsable), or the raw JSON."""
        if read is None:
            return await self._wire.send(action, params, self.encoding)
        return await self._wire.send(action, params, self.encoding, read)

    # ------------------------------------------------------------------ account and catalog

    async def balance(self) -> Balance:
        """Our balance on the panel. Raises ``UpstreamError``."""
        return await self._call("balance", {}, self._read.balance)

    async def services(self) -> list[UpstreamService]:
        """The panel's catalog; entries without a usable id, rate, min or max are skipped."""
        return await self._call("services", {}, self._read.services)

    async def catalog(self) -> Catalog:
        """The panel's catalog with the entries it could not read and why
        (``Catalog.rejected``): no usable id, a rate, min or max missing or past the bounds."""
        return await self._call("services", {}, self._read.catalog)

    async def detect_encoding(self) -> str:
        """``"form"`` or ``"json"``: whichever makes a ``balance`` call succeed (form first).

        The client switches to it. Raises ``UpstreamError`` when neither works:
        the key's refusal when the panel refused the key, else an error
        quoting both attempts.
        """
        failures: dict[str, UpstreamError] = {}
        for encoding in ENCODINGS:
            try:
                await self._wire.send("balance", {}, encoding, self._read.balance)
            except UpstreamError as exc:
                failures[encoding] = exc
                continue
            self.encoding = encoding
            return encoding
        for exc in failures.values():
            if exc.definite and is_auth_error(exc.detail):
                raise exc
        kinds = {exc.kind for exc in failures.values()}
        if len(kinds) == 1:
            kind = kinds.pop()
        elif ErrorKind.UNREACHABLE in kinds or ErrorKind.UNKNOWN_OUTCOME in kinds:
            kind = ErrorKind.UNKNOWN_OUTCOME
        else:
            kind = ErrorKind.REJECTED
        detail = "; ".join(f"{encoding}: {exc.detail}" for encoding, exc in failures.items())
        raise UpstreamError(kind, f"balance failed in every encoding ({detail})")

    # ------------------------------------------------------------------ orders

    async def add(self, params: Mapping[str, str | int]) -> str:
        """Place one order; returns the upstream order id (a decimal string).

        ``params``: ``service`` and what its type takes (``link``,
        ``quantity``, ``runs``, ``interval``, ``comments``, ``usernames``...).
        Raises ``UpstreamError``; on ``UNKNOWN_OUTCOME`` the order may exist
        upstream: never send it again blindly.
        """
        if "service" not in params:
            raise ClientUsageError("add needs a service")
        return await self._call("add", params, self._read.order_id)

    async def statuses(self, order_ids: Sequence[str]) -> dict[str, UpstreamStatus | UpstreamError]:
        """The state of each order, keyed by the ids as given (every id gets an entry).

        One request per ``max_ids`` ids. A failure of a whole request is the
        entry of each of its ids. A ``Partial`` entry without ``remains`` in a
        multi reply (baostar) is completed with a single ``status`` call.
        """
        result: dict[str, UpstreamStatus | UpstreamError] = {}
        for chunk in self._chunks(order_ids):
            result.update(await self._status_chunk(chunk))
        return result

    async def _status_chunk(self, chunk: list[str]) -> dict[str, UpstreamStatus | UpstreamError]:
        mode = self.multi_status_action
        while mode != "single":
            try:
                data = await self._call(mode, {"orders": ",".join(chunk)})
            except UpstreamError as exc:
                return dict.fromkeys(chunk, exc)
            message = error_text(data)
            if message is not None and not means_spelling_unsupported(message):
                return dict.fromkeys(chunk, self._read.error(message))
            parsed = None if message is not None else self._read.multi_status(data, chunk)
            if parsed is not None:
                self.multi_status_action = mode
                return await self._complete_partials(parsed)
            mode = _NEXT_MULTI[mode]  # the panel refused or ignored this spelling
        self.multi_status_action = "single"
        return await self._each(chunk, self._single_status)

    async def _single_status(self, order_id: str) -> UpstreamStatus | UpstreamError:
        try:
            data = await self._call("status", {"order": order_id})
        except UpstreamError as exc:
            return exc
        return self._read.status_entry(data)

    async def _complete_partials(
        self, parsed: dict[str, UpstreamStatus | UpstreamError]
    ) -> dict[str, UpstreamStatus | UpstreamError]:
        lacking = [
            order
            for order, entry in parsed.items()
            if isinstance(entry, UpstreamStatus) and entry.status is Status.PARTIAL and entry.remains is None
        ]
        if lacking:
            for order, entry in (await self._each(lacking, self._single_status)).items():
                if isinstance(entry, UpstreamStatus):
                    parsed[order] = entry
        return parsed

    # ------------------------------------------------------------------ refills

    async def refill(self, order_id: str) -> str:
        """Ask for a refill of one order; returns the refill id. Raises ``UpstreamError``."""
        order_id = _check_id(order_id)
        return await self._call("refill", {"order": order_id}, lambda data: self._read.refill_id(data, order_id))

    async def refill_many(self, order_ids: Sequence[str]) -> dict[str, str | UpstreamError]:
        """Refills of many orders (``action=refill&orders=``), keyed by the ids as given.

        Panels that reply a bare ``{"refill": "1"}`` to a batch (shopvn.pro,
        baostar) give one refill id for the whole batch: every order of it
        maps to that id.
        """
        result: dict[str, str | UpstreamError] = {}
        for chunk in self._chunks(order_ids):
            try:
                result.update(await self._call("refill", {"orders": ",".join(chunk)},
                                               lambda data: self._read.multi_refill(data, chunk)))
            except UpstreamError as exc:
                result.update(dict.fromkeys(chunk, exc))
        return result

    async def refill_statuses(self, refill_ids: Sequence[str]) -> dict[str, RefillStatus | None | UpstreamError]:
        """The state of each refill (``None``: a value we do not map), keyed by the ids as given."""
        result: dict[str, RefillStatus | None | UpstreamError] = {}
        for chunk in self._chunks(refill_ids):
            result.update(await self._refill_status_chunk(chunk))
        return result

    async def _refill_status_chunk(self, chunk: list[str]) -> dict[str, RefillStatus | None | UpstreamError]:
        try:
            data = await self._call("refill_status", {"refills": ",".join(chunk)})
        except UpstreamError as exc:
            return dict.fromkeys(chunk, exc)
        message = error_text(data)
        if message is not None:
            error = self._read.error(message)
            # No fallback for a missing action (the single spelling is the same action) nor for
            # a refusal that is not about how the ids were sent.
            if error.kind is ErrorKind.UNSUPPORTED or not means_spelling_unsupported(message):
                return dict.fromkeys(chunk, error)
            parsed = None
        else:
            parsed = self._read.multi_refill_status(data, chunk)
        if parsed is not None:
            return parsed
        return await self._each(chunk, self._single_refill_status)

    async def _single_refill_status(self, refill_id: str) -> RefillStatus | None | UpstreamError:
        try:
            data = await self._call("refill_status", {"refill": refill_id})
        except UpstreamError as exc:
            return exc
        return self._read.refill_status_entry(data)

    # ------------------------------------------------------------------ cancel

    async def cancel(self, order_ids: Sequence[str]) -> dict[str, UpstreamError | None]:
        """Ask to cancel orders; ``None`` = accepted. Every id given gets an entry.

        A panel without ``cancel`` gives ``UNSUPPORTED`` for each id.
        """
        result: dict[str, UpstreamError | None] = {}
        for chunk in self._chunks(order_ids):
            try:
                result.update(await self._call("cancel", {"orders": ",".join(chunk)},
                                               lambda data: self._read.cancel(data, chunk)))
            except UpstreamError as exc:
                result.update(dict.fromkeys(chunk, exc))
        return result

    # ------------------------------------------------------------------ helpers

    def _chunks(self, ids: Sequence[str]) -> Iterator[list[str]]:
        if isinstance(ids, str):
            raise ClientUsageError("pass a sequence of ids, not one string")
        unique = list(dict.fromkeys(_check_id(i) for i in ids))
        for start in range(0, len(unique), self.max_ids):
            yield unique[start : start + self.max_ids]

    async def _each(self, ids: list[str], one: Callable[[str], Awaitable[T]]) -> dict[str, T]:
        """``one(id)`` for every id, a few at a time; results in the order of ``ids``."""
        results: dict[str, T] = {}
        limiter = anyio.CapacityLimiter(limits.SINGLE_CALL_CONCURRENCY)

        async def run(ident: str) -> None:
            async with limiter:
                results[ident] = await one(ident)

        async with anyio.create_task_group() as group:
            for ident in ids:
                group.start_soon(run, ident)
        return {ident: results[ident] for ident in ids}


def _check_id(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or "," in raw:
        raise ClientUsageError(f"an upstream id must be a non-empty string without commas, not {raw!r}")
    return raw
