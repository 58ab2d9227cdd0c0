"""Upstream panels: registering them, importing and syncing their catalog.

Prices: our rate = upstream rate x fx x (1 + markup/100), rounded by the one
money rule (``domain.pricing.resale_rate_micros``). ``cost_micros`` keeps the
upstream rate converted into the panel currency; the markup is kept per
service, so a sync moves a customer price only by that rule.
"""

from __future__ import annotations

from functools import partial

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, NamedTuple, Sequence

from ..client import MAX_IDS_PER_CALL, MULTI_STATUS_ACTIONS, ProviderClient, UpstreamError, UpstreamService
from ..domain.breaker import Breaker
from ..settings import private_upstreams_allowed
from ..domain.errors import AlreadyExists, InvalidField, NotFound, UpstreamFailed
from ..domain.resale import duplicated, resale_terms
from ..secrets import seal, unseal
from ..store import catalog as catalog_store, upstream
from ..store.db import IntegrityError
from .panel import Panel

DEFAULT_TIMEOUT_S = 30
DEFAULT_MAX_IDS = 100
DEFAULT_CONCURRENCY = 4
MAX_TIMEOUT_S = 600
MAX_CONCURRENCY = 64  # parallel calls to one upstream
ENCODINGS = ("form", "json")

ClientFactory = Callable[[Any], ProviderClient]


def client_for(provider: Any, **overrides: Any) -> ProviderClient:
    """The default factory: a real HTTP client for a provider row (tests pass
    ``transport=`` through ``overrides``)."""
    options: dict[str, Any] = {
        "encoding": provider["encoding"],
        "timeout_s": provider["timeout_s"],
        "max_ids": provider["max_ids"],
        "multi_status_action": provider["multi_status_action"],
    }
    if "transport" not in overrides:
        options["allow_private"] = private_upstreams_allowed()
    options.update(overrides)
    return ProviderClient(provider["url"], unseal(provider["key_sealed"]), **options)


def check_call_limits(*, timeout_s: int | None = None, max_ids: int | None = None,
                      concurrency: int | None = None) -> None:
    """The one rule for a provider's call settings, at ``providers add`` and
    ``providers set`` alike: a value the client would refuse never gets stored
    (the worker could not build that provider's client)."""
    for field_name, value, low, high in (("timeout", timeout_s, 1, MAX_TIMEOUT_S),
                                         ("max_ids", max_ids, 1, MAX_IDS_PER_CALL),
                                         ("concurrency", concurrency, 1, MAX_CONCURRENCY)):
        if value is not None and not low <= value <= high:
            raise InvalidField(field_name, "range", min=low, max=high)


async def provider_named(panel: Panel, name: str) -> Any:
    row = await upstream.provider_by_name(panel.db, name)
    if row is None:
        raise NotFound(what="provider", name=name)
    return row


async def add_provider(
    panel: Panel,
    name: str,
    url: str,
    key: str,
    *,
    encoding: str = "auto",
    currency: str | None = None,
    fx: Decimal = Decimal(1),
    timeout_s: int = DEFAULT_TIMEOUT_S,
    max_ids: int = DEFAULT_MAX_IDS,
    concurrency: int = DEFAULT_CONCURRENCY,
    make_client: Callable[..., ProviderClient] | None = None,
) -> Any:
    """Register an upstream; detect its encoding with a harmless ``balance``."""
    if not url.startswith(("http://", "https://")):
        raise InvalidField("url", "one_of", allowed="http://…, https://…")
    if encoding not in ("auto", *ENCODINGS):
        raise InvalidField("encoding", "one_of", allowed="auto, form, json")
    if fx <= 0:
        raise InvalidField("fx", "not_negative")
    check_call_limits(timeout_s=timeout_s, max_ids=max_ids, concurrency=concurrency)
    if await upstream.provider_by_name(panel.db, name) is not None:
        raise AlreadyExists(what="provider", name=name)
    if make_client is None:
        make_client = partial(ProviderClient, allow_private=private_upstreams_allowed())
    if encoding == "auto":
        async with make_client(url, key, encoding="form", timeout_s=timeout_s) as probe:
            encoding = await probe.detect_encoding()
    async with make_client(url, key, encoding=encoding, timeout_s=timeout_s) as client:
        balance = await client.balance()
    values = {
        "name": name,
        "url": url,
        "key_sealed": seal(key),
        "encoding": encoding,
        "currency": (currency or balance.currency or panel.currency).upper(),
        "fx": str(fx),
        "timeout_s": timeout_s,
        "max_ids": max_ids,
        "concurrency": concurrency,
        "balance_text": str(balance.amount),
        "balance_checked_at_s": panel.clock(),
    }
    async with panel.db.transaction() as tx:
        try:
            await upstream.insert_provider(tx, values, panel.clock())
        except IntegrityError:
            raise AlreadyExists(what="provider", name=name) from None
    return await provider_named(panel, name)


async def update_provider(
    panel: Panel,
    name: str,
    *,
    url: str | None = None,
    key: str | None = None,
    encoding: str | None = None,
    fx: Decimal | None = None,
    timeout_s: int | None = None,
    max_ids: int | None = None,
    concurrency: int | None = None,
    multi_status: str | None = None,
) -> Any:
    """Change a provider's settings (a rotated key, a moved URL...). A new fx
    reprices its services at the next ``sync``. ``multi_status`` sets how
    statuses are asked (and ends a fallback the worker made)."""
    row = await provider_named(panel, name)
    check_call_limits(timeout_s=timeout_s, max_ids=max_ids, concurrency=concurrency)
    values: dict[str, Any] = {}
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise InvalidField("url", "one_of", allowed="http://…, https://…")
        values["url"] = url
    if key is not None:
        values["key_sealed"] = seal(key)
    if encoding is not None:
        if encoding not in ENCODINGS:
            raise InvalidField("encoding", "one_of", allowed="form, json")
        values["encoding"] = encoding
    if fx is not None:
        if fx <= 0:
            raise InvalidField("fx", "not_negative")
        values["fx"] = str(fx)
    for column, value in (("timeout_s", timeout_s), ("max_ids", max_ids), ("concurrency", concurrency)):
        if value is not None:
            values[column] = value
    if multi_status is not None:
        if multi_status not in MULTI_STATUS_ACTIONS:
            raise InvalidField("multi_status", "one_of", allowed=", ".join(MULTI_STATUS_ACTIONS))
        values.update(multi_status_action=multi_status, multi_status_retry_at_s=None)
    if values:
        async with panel.db.transaction() as tx:
            await upstream.update_provider(tx, row["id"], **values)
    return await provider_named(panel, name)


@dataclass
class ProviderView:
    row: Any
    balance: str | None
    balance_error: str | None
    orders: dict[str, int]
    breaker: str  # closed | open | half-open (see domain.breaker)


def breaker_state(panel: Panel, row: Any) -> str:
    return Breaker(panel.clock, failures=row["breaker_failures"], open_for_s=row["breaker_open_for_s"],
                   open_until_s=row["breaker_open_until_s"]).state()


async def list_providers(panel: Panel, *, live: bool = True, make_client: ClientFactory = client_for) -> list[ProviderView]:
    """Every provider with its upstream balance (asked now when ``live``) and
    how many of its orders wait in each state (waiting_funds, needs_attention...)."""
    views = []
    for row in await upstream.list_providers(panel.db):
        balance, error = row["balance_text"], None
        if live:
            try:
                async with make_client(row) as client:
                    got = await client.balance()
                balance = str(got.amount)
                async with panel.db.transaction() as tx:
                    await upstream.update_provider(tx, row["id"], balance_text=balance,
                                                   balance_checked_at_s=panel.clock())
            except UpstreamError as exc:
                error = f"{exc.kind.value}: {exc.detail}"
        counts = await upstream.provider_order_counts(panel.db, row["id"])
        views.append(ProviderView(row, balance, error, {state.value: n for state, n in counts.items()},
                                  breaker_state(panel, row)))
    return views


async def remove_provider(panel: Panel, name: str) -> None:
    """Retire a provider: its services are disabled; refused while any of its
    orders is unsettled (they still need it)."""
    row = await provider_named(panel, name)
    busy = await upstream.provider_unsettled_counts(panel.db, row["id"])
    if busy:
        raise InvalidField("provider", "has_unsettled_orders",
                           counts=", ".join(f"{k.value}: {v}" for k, v in busy.items()))
    now = panel.clock()
    async with panel.db.transaction() as tx:
        await catalog_store.disable_provider_services(tx, row["id"])
        await upstream.update_provider(tx, row["id"], removed_at_s=now, name=f"{name}~removed-{row['id']}")


@dataclass
class Imported:
    service: int
    provider_service: str
    name: str
    type: str
    category: str
    rate_micros: int
    cost_micros: int
    min: int
    max: int
    created: bool


class Skipped(NamedTuple):
    """A catalog entry left out of an import or sync, and why."""

    provider_service: str
    reason: str


def _service_values(item: UpstreamService, fx: Decimal, markup: Decimal) -> dict[str, Any] | str:
    """Our columns for an upstream entry, or why it can't be sold (``domain.resale``)."""
    terms = resale_terms(item.type, item.rate, item.min, item.max, fx, markup)
    if isinstance(terms, str):
        return terms
    values: dict[str, Any] = {
        "type": terms.type.value,
        "rate_micros": terms.rate_micros,
        "cost_micros": terms.cost_micros,
        "markup_percent": str(markup),
        "min": terms.min,
        "max": terms.max,
    }
    # A flag the upstream's list doesn't carry is left as the operator set it
    # (off for a new import).
    for flag in ("refill", "cancel", "dripfeed"):
        if getattr(item, flag) is not None:
            values[flag] = getattr(item, flag)
    return values


async def _fetch_catalog(provider: Any, make_client: ClientFactory) -> tuple[dict[str, UpstreamService], list[Skipped]]:
    """The upstream's readable, unambiguous entries by id, and the entries left out with their reason.

    An id listed twice is ambiguous (which price is true?): every copy is left out."""
    try:
        async with make_client(provider) as client:
            catalog = await client.catalog()
    except UpstreamError as exc:
        raise UpstreamFailed(provider=provider["name"], action="services", detail=str(exc)) from None
    skipped = [Skipped(r.service, r.reason) for r in catalog.rejected]
    twice = duplicated([item.service for item in catalog.services] + [r.service for r in catalog.rejected])
    skipped = [entry for entry in skipped if entry.provider_service not in twice]
    skipped.extend(Skipped(sid, f"service id listed {n} times upstream") for sid, n in twice.items())
    usable = {item.service: item for item in catalog.services if item.service not in twice}
    return usable, skipped


async def import_services(
    panel: Panel,
    name: str,
    *,
    markup_percent: Decimal = Decimal(0),
    only: Sequence[str] | None = None,
    category_prefix: str = "",
    make_client: ClientFactory = client_for,
) -> tuple[list[Imported], list[Skipped]]:
    """Copy an upstream catalog into ours with a markup. Re-importing a service
    updates it (idempotent). An entry that can't be sold (unreadable, a
    duplicate id, a negative rate or one that rounds to 0, limits or prices
    past our columns) is skipped with its reason; the rest imports. Returns
    (imported, skipped)."""
    if markup_percent <= -100:
        raise InvalidField("markup", "at_least", min=-99)
    provider = await provider_named(panel, name)
    catalog, unusable = await _fetch_catalog(provider, make_client)
    wanted = set(only) if only else None
    skipped = [entry for entry in unusable if wanted is None or entry.provider_service in wanted]
    fx = Decimal(provider["fx"])
    existing = {row["provider_service"]: row for row in await upstream.provider_services(panel.db, provider["id"])}
    imported = []
    now = panel.clock()
    async with panel.db.transaction() as tx:
        for item in catalog.values():
            if wanted is not None and item.service not in wanted:
                continue
            values = _service_values(item, fx, markup_percent)
            if isinstance(values, str):
                skipped.append(Skipped(item.service, values))
                continue
            category = (category_prefix + (item.category or "Other")).strip() or "Other"
            values["name"] = item.name[:200] or f"{name} {item.service}"
            values["category_id"] = await catalog_store.ensure_category(tx, category)
            old = existing.get(item.service)
            if old is None:
                values.update(provider_id=provider["id"], provider_service=item.service, enabled=True)
                service_id = await catalog_store.insert_service(tx, values, now)
            else:
                service_id = old["id"]
                await catalog_store.update_service(tx, service_id, values)
            imported.append(Imported(service_id, item.service, values["name"], values["type"], category,
                                     values["rate_micros"], values["cost_micros"], values["min"], values["max"],
                                     old is None))
        if wanted:
            listed = set(catalog) | {entry.provider_service for entry in unusable}
            skipped.extend(Skipped(sid, "not offered upstream") for sid in sorted(wanted - listed))
    return imported, skipped


@dataclass
class SyncReport:
    updated: list[int]
    disabled: list[int]
    price_changes: list[tuple[int, int, int]]  # service, old rate, new rate
    # Entries of the upstream's list left out, with why; a service of ours whose entry is
    # among them keeps its terms (an unreadable entry is not "gone upstream").
    skipped: list[Skipped] = field(default_factory=list)


async def sync_services(panel: Panel, name: str, *, make_client: ClientFactory = client_for) -> SyncReport:
    """Refresh limits, flags and costs of imported services; disable the ones
    gone upstream. Customer prices move only by each service's own markup.
    ``report.skipped`` lists the entries that can't be read or are listed
    twice, and services of ours whose new terms can't be sold: those keep
    their terms (and stay enabled): an unreadable entry is not "gone"."""
    provider = await provider_named(panel, name)
    catalog, unusable = await _fetch_catalog(provider, make_client)
    listed_unusable = {entry.provider_service for entry in unusable}
    fx = Decimal(provider["fx"])
    report = SyncReport([], [], [], list(unusable))
    async with panel.db.transaction() as tx:
        for row in await upstream.provider_services(tx, provider["id"]):
            item = catalog.get(row["provider_service"])
            if item is None:
                if row["enabled"] and row["provider_service"] not in listed_unusable:
                    await catalog_store.update_service(tx, row["id"], {"enabled": False})
                    report.disabled.append(row["id"])
                continue
            markup = Decimal(row["markup_percent"] or "0")
            values = _service_values(item, fx, markup)
            if isinstance(values, str):
                report.skipped.append(Skipped(item.service, values))
                continue
            values.pop("type")
            if values["rate_micros"] != row["rate_micros"]:
                report.price_changes.append((row["id"], row["rate_micros"], values["rate_micros"]))
            await catalog_store.update_service(tx, row["id"], values)
            report.updated.append(row["id"])
    return report
