"""Reading each reply shape of API v2, tolerating the variants of spec section 6.

Pure functions of the decoded JSON: no I/O. A reply of a shape we cannot read
is an ``UpstreamError(UNKNOWN_OUTCOME)`` (the call may have done something,
we cannot tell what), never a guess.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ..domain.status import RefillStatus, Status
from . import statuses as vocab
from .classify import classify
from .errors import CallOutcome, ErrorKind, NumberOutOfBounds, UpstreamError
from .models import Balance, Catalog, RejectedService, UpstreamService, UpstreamStatus
from .values import to_bool, to_decimal, to_id, to_int, to_text
from .wire import error_text, redact, scrub

log = logging.getLogger("smmpanel.client")

T = TypeVar("T")
# Keys that name the id of an entry in a list reply.
_ORDER_KEYS = ("order", "id", "order_id")
_REFILL_KEYS = ("refill", "id", "refill_id")


def _listed_flag(entry: dict, name: str) -> bool | None:
    """None when the upstream's list doesn't carry the flag at all (68smm has
    no ``dripfeed``): "not listed" is not "no"."""
    if name not in entry or entry[name] is None:
        return None
    return bool(to_bool(entry[name]))
_SNIPPET_CHARS = 200
_ID_QUOTE_CHARS = 40


class ReplyReader:
    """Reads replies of one panel (``key`` is only used to scrub quoted text)."""

    __slots__ = ("key", "status_codes")

    def __init__(
        self, key: str, status_codes: Mapping[int, Status | None] = vocab.PERFECT_PANEL_STATUS_CODES
    ) -> None:
        self.key = key
        self.status_codes = status_codes

    def __repr__(self) -> str:  # never shows the key
        return "ReplyReader()"

    # ----------------------------------------------------------- errors

    def error(self, message: str) -> UpstreamError:
        """The panel's own refusal, classified."""
        return UpstreamError(classify(message), scrub(message, self.key), outcome=CallOutcome.ERROR_REPLY)

    def raise_for_error(self, data: Any) -> None:
        message = error_text(data)
        if message is not None:
            raise self.error(message)

    def shape(self, action: str, data: Any, what: str = "") -> UpstreamError:
        text = json.dumps(data, default=str, ensure_ascii=False)[:_SNIPPET_CHARS]
        why = f" ({what})" if what else ""
        return UpstreamError(
            ErrorKind.UNKNOWN_OUTCOME, f"unexpected reply to {action}{why}: {scrub(text, self.key)}",
            outcome=CallOutcome.UNPARSABLE,
        )

    # ----------------------------------------------------------- balance, services, add

    def balance(self, data: Any) -> Balance:
        self.raise_for_error(data)
        if not isinstance(data, dict) or "balance" not in data:
            raise self.shape("balance", data)
        try:
            amount = to_decimal(data["balance"])
        except NumberOutOfBounds as exc:
            raise self.shape("balance", data, f"protocol error: balance {exc}") from None
        if amount is None:
            raise self.shape("balance", data, "balance is not a number")
        currency = to_text(data.get("currency")).upper() or None
        return Balance(amount, currency)

    def services(self, data: Any) -> list[UpstreamService]:
        """The readable entries of a ``services`` reply (the others are logged)."""
        catalog = self.catalog(data)
        for rejected in catalog.rejected:
            log.warning("upstream service entry %s skipped: %s", rejected.service, rejected.reason)
        return catalog.services

    def catalog(self, data: Any) -> Catalog:
        """A ``services`` reply: each entry read on its own; one that can't be read is
        rejected with its reason (one bad entry never spoils the others)."""
        self.raise_for_error(data)
        if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()) and data:
            entries: list[Any] = list(data.values())
        elif isinstance(data, list):
            entries = data
        else:
            raise self.shape("services", data)
        found: list[UpstreamService] = []
        rejected: list[RejectedService] = []
        for entry in entries:
            service = self._service(entry)
            if isinstance(service, UpstreamService):
                found.append(service)
            else:
                raw_id = entry.get("service", entry.get("id")) if isinstance(entry, dict) else entry
                quoted = scrub(to_text(raw_id), self.key)[:_ID_QUOTE_CHARS] or "?"
                rejected.append(RejectedService(quoted, service))
        return Catalog(found, rejected)

    @staticmethod
    def _service(entry: Any) -> UpstreamService | str:
        """The entry, or why it is unusable."""
        if not isinstance(entry, dict):
            return "not an object"
        service = to_id(entry.get("service", entry.get("id")))
        if service is None:
            return "no usable service id"
        numbers: dict[str, Any] = {}
        for name, read in (("rate", to_decimal), ("min", to_int), ("max", to_int)):
            try:
                numbers[name] = read(entry.get(name))
            except NumberOutOfBounds as exc:
                return f"protocol error: {name} {exc}"
            if numbers[name] is None:
                return f"{name} is missing or not a {'number' if name == 'rate' else 'whole number'}"
        rate, low, high = numbers["rate"], numbers["min"], numbers["max"]
        return UpstreamService(
            service=service,
            name=to_text(entry.get("name")),
            type=to_text(entry.get("type")) or "Default",
            category=to_text(entry.get("category")),
            rate=rate,
            min=low,
            max=high,
            refill=_listed_flag(entry, "refill"),
            cancel=_listed_flag(entry, "cancel"),
            dripfeed=_listed_flag(entry, "dripfeed"),
        )

    def order_id(self, data: Any) -> str:
        raw = data.get("order") if isinstance(data, dict) else None
        order = to_id(raw)
        if order is None and raw is not None:
            try:
                to_decimal(raw)
            except NumberOutOfBounds as exc:
                raise self.shape("add", data, f"protocol error: order id {exc}; the order may exist upstream") from None
        message = error_text(data)
        if message is not None and order is not None:
            # Contradictory: an order id AND an error. The order may exist: never read it as a refusal.
            raise self.shape("add", data, "an order id together with an error")
        self.raise_for_error(data)
        if order is None:
            raise self.shape("add", data, "no usable order id; the order may exist upstream")
        return order

    # ----------------------------------------------------------- order status

    def status_entry(self, entry: Any) -> UpstreamStatus | UpstreamError:
        """One status object (single reply or an entry of a multi reply)."""
        message = error_text(entry)
        if message is not None:
            return self.error(message)
        if not isinstance(entry, dict) or "status" not in entry:
            return self.shape("status", entry)
        raw_value = entry["status"]
        message = error_text(raw_value)
        if message is not None:
            return self.error(message)
        if isinstance(raw_value, (dict, list)):
            return self.shape("status", entry)
        raw = redact(to_text(raw_value), self.key)
        try:
            charge = to_decimal(entry.get("charge"))
            start_count, remains = to_int(entry.get("start_count")), to_int(entry.get("remains"))
        except NumberOutOfBounds as exc:
            field = next(name for name in ("charge", "start_count", "remains")
                         if _out_of_bounds(entry.get(name)))
            return self.shape("status", entry, f"protocol error: {field} {exc}")
        status = vocab.order_status(raw, self.status_codes)
        if status is None:
            log.warning("unmapped upstream order status %r kept as unknown", raw[:100])
        return UpstreamStatus(status=status, raw_status=raw, charge=charge, start_count=start_count, remains=remains)

    def multi_status(
        self, data: Any, ids: Sequence[str]
    ) -> dict[str, UpstreamStatus | UpstreamError] | None:
        """A multi-status reply, or ``None`` when ``data`` is not one (the panel ignored ``orders``)."""
        if isinstance(data, dict) and "status" in data and not _has_id_keys(data):
            if len(ids) == 1:
                return {ids[0]: self.status_entry(data)}
            return None
        entries = _entries_by_id(data, _ORDER_KEYS)
        if not entries:
            return None
        return _per_id(ids, entries, self.status_entry, lambda: self.shape("status", data, "no entry for this id"))

    # ----------------------------------------------------------- refill

    def refill_id(self, data: Any, order_id: str) -> str:
        self.raise_for_error(data)
        if isinstance(data, list):
            entries = _entries_by_id(data, _ORDER_KEYS, value_key="refill")
            data = {"refill": entries.get(to_id(order_id) or order_id)}
        raw = data.get("refill") if isinstance(data, dict) else None
        self.raise_for_error(raw)
        refill = to_id(raw)
        if refill is None:
            raise self.shape("refill", data, "no usable refill id; the refill may exist upstream")
        return refill

    def multi_refill(self, data: Any, ids: Sequence[str]) -> dict[str, str | UpstreamError]:
        self.raise_for_error(data)

        def one(raw: Any) -> str | UpstreamError:
            message = error_text(raw)
            if message is not None:
                return self.error(message)
            if isinstance(raw, dict) and "refill" in raw:
                return one(raw["refill"])
            refill = to_id(raw)
            return refill if refill is not None else self.shape("refill", raw, "no usable refill id")

        if isinstance(data, dict) and "refill" in data and not _has_id_keys(data):
            # The bare ``{"refill": "1"}`` of shopvn.pro / baostar: one id for the batch.
            result = one(data["refill"])
            return {order: result for order in ids}
        entries = _entries_by_id(data, _ORDER_KEYS, value_key="refill")
        if not entries:
            error = self.shape("refill", data)
            return {order: error for order in ids}
        return _per_id(ids, entries, one, lambda: self.shape("refill", data, "no entry for this id"))

    def refill_status_entry(self, raw: Any) -> RefillStatus | None | UpstreamError:
        message = error_text(raw)
        if message is not None:
            return self.error(message)
        if isinstance(raw, dict):
            if "status" not in raw:
                return self.shape("refill_status", raw)
            return self.refill_status_entry(raw["status"])
        if isinstance(raw, list):
            return self.shape("refill_status", raw)
        text = to_text(raw)
        status = vocab.refill_status(text)
        if status is None:
            log.warning("unmapped upstream refill status %r kept as unknown", scrub(text, self.key)[:100])
        return status

    def multi_refill_status(
        self, data: Any, ids: Sequence[str]
    ) -> dict[str, RefillStatus | None | UpstreamError] | None:
        if isinstance(data, dict) and "status" in data and not _has_id_keys(data):
            if len(ids) == 1:
                return {ids[0]: self.refill_status_entry(data)}
            return None
        entries = _entries_by_id(data, _REFILL_KEYS, value_key="status")
        if not entries:
            return None
        return _per_id(
            ids, entries, self.refill_status_entry, lambda: self.shape("refill_status", data, "no entry for this id")
        )

    # ----------------------------------------------------------- cancel

    def cancel(self, data: Any, ids: Sequence[str]) -> dict[str, UpstreamError | None]:
        self.raise_for_error(data)

        def one(raw: Any) -> UpstreamError | None:
            message = error_text(raw)
            if message is not None:
                return self.error(message)
            if isinstance(raw, dict) and "cancel" in raw:
                return one(raw["cancel"])
            accepted = to_bool(raw) if not isinstance(raw, (dict, list)) else None
            if accepted is True:
                return None
            if accepted is False and raw is not None:
                return UpstreamError(ErrorKind.REJECTED, f"cancel refused: {to_text(raw)}",
                                     outcome=CallOutcome.ERROR_REPLY)
            return self.shape("cancel", raw)

        if isinstance(data, dict) and "cancel" in data and not _has_id_keys(data):
            result = one(data["cancel"])
            return {order: result for order in ids}
        entries = _entries_by_id(data, _ORDER_KEYS, value_key="cancel")
        if not entries:
            error = self.shape("cancel", data)
            return {order: error for order in ids}
        return _per_id(ids, entries, one, lambda: self.shape("cancel", data, "no entry for this id"))


def _out_of_bounds(raw: Any) -> bool:
    try:
        to_decimal(raw)
    except NumberOutOfBounds:
        return True
    return False


def _has_id_keys(data: dict[str, Any]) -> bool:
    return any(to_id(k) is not None for k in data)


def _entries_by_id(data: Any, id_keys: tuple[str, ...], value_key: str | None = None) -> dict[str, Any]:
    """``{id: entry}`` from an object keyed by id, or a list of ``{order|refill: id, ...}``.

    For a list, the entry is the whole object, or its ``value_key`` field when given.
    """
    found: dict[str, Any] = {}
    if isinstance(data, dict):
        for name, entry in data.items():
            ident = to_id(name)
            if ident is not None:
                found[ident] = entry
    elif isinstance(data, list):
        for entry in data:
            if not isinstance(entry, dict):
                continue
            ident = next((to_id(entry[k]) for k in id_keys if k in entry and k != value_key), None)
            if ident is None:
                continue
            found[ident] = entry[value_key] if value_key is not None and value_key in entry else entry
    return found


def _per_id(
    ids: Sequence[str],
    entries: Mapping[str, Any],
    read: Callable[[Any], T],
    missing: Callable[[], UpstreamError],
) -> dict[str, T | UpstreamError]:
    result: dict[str, T | UpstreamError] = {}
    for ident in ids:
        canonical = to_id(ident) or ident.strip()
        if canonical in entries:
            result[ident] = read(entries[canonical])
        else:
            result[ident] = missing()
    return result
