"""The operator's reads for the admin website, and its bulk actions.

Every change an admin page makes goes through the same use cases as the CLI
(``accounts``, ``catalog``, ``orders``, ``refills``, ``funds``,
``providers``); the bulk actions here only apply one of them to each item of
a selection, each in its own transaction, and report each item's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence

from ..domain import fields as f
from ..domain.errors import InvalidField, NotFound, PanelError
from ..domain.money import MICROS_PER_UNIT, parse_amount
from ..domain.ordertypes import TYPE_SPECS, ServiceType, Units
from ..domain.pricing import charge_micros
from ..domain.status import Status
from ..domain.upstream_state import RESOLVABLE
from ..store import accounts as accounts_store
from ..store import catalog as catalog_store
from ..store import orders as orders_store
from ..store import payments as payments_store
from ..store import refills as refills_store
from ..store.orders import DayFigures, OrderFilter
from . import catalog, orders, providers
from .paging import DEFAULT_PAGE_ITEMS, Page, check_before_id, check_limit, page_of
from .panel import Panel

DAY_S = 86_400
CHART_DAYS = 30
ATTENTION_LISTED = 20
MAX_BULK_ITEMS = 500
MAX_PERCENT_CHANGE = Decimal(1000)
USER_SORTS = tuple(accounts_store.USER_SORTS)


# --------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Period:
    """The orders created in a period; money is theirs (charges net of their refunds)."""

    orders: int
    revenue_micros: int  # charges net of refunds
    cost_micros: int  # upstream cost of what was delivered, where the cost is known
    profit_micros: int  # revenue of the orders whose cost is known, minus that cost
    cost_known_orders: int


@dataclass(frozen=True)
class Day:
    day: int  # days since the epoch (UTC)
    orders: int
    revenue_micros: int


@dataclass(frozen=True)
class Dashboard:
    today: Period
    month: Period
    days: list[Day]  # the chart: one per day of the last CHART_DAYS, oldest first
    attention: list[Any]
    attention_count: int
    upstream_states: dict[str, int]
    pending_funds: int
    pending_funds_micros: int
    at_s: int


def delivered_cost_micros(cost_micros: int, type_: str, status: str, orders_n: int, units: int, remains: int) -> int:
    """The upstream cost of what was delivered: nothing of a Canceled order,
    the delivered part of a Partial one, all of the others (a flat type costs
    its rate per order, refunded in proportion like its charge)."""
    if status == Status.CANCELED.value:
        return 0
    flat = TYPE_SPECS[ServiceType(type_)].units is Units.FLAT
    if flat:
        whole = cost_micros * orders_n
        if status != Status.PARTIAL.value or not units:
            return whole
        return (whole * (units - remains) + units // 2) // units
    delivered = units - remains if status == Status.PARTIAL.value else units
    return charge_micros(cost_micros, delivered)


def _period(groups: list[DayFigures]) -> Period:
    orders_n = revenue = cost = known_revenue = known = 0
    for g in groups:
        orders_n += g.orders
        revenue += g.charged_micros - g.refunded_micros
        if g.cost_micros is not None:
            cost += delivered_cost_micros(g.cost_micros, g.type, g.status, g.orders, g.units, g.remains)
            known_revenue += g.charged_micros - g.refunded_micros
            known += g.orders
    return Period(orders_n, revenue, cost, known_revenue - cost, known)


async def dashboard(panel: Panel) -> Dashboard:
    """Today's and this month's figures, the last CHART_DAYS days, and what
    waits for the operator. The figures come from one grouped scan of the
    period's orders; the rest are counts."""
    now = panel.clock()
    today = now // DAY_S
    first_day = today - CHART_DAYS + 1
    moment = datetime.fromtimestamp(now, timezone.utc)
    month_first_day = int(datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp()) // DAY_S
    groups = await orders_store.daily_figures(panel.db, min(first_day, month_first_day) * DAY_S, DAY_S)
    per_day: dict[int, list[int]] = {}
    for g in groups:
        totals = per_day.setdefault(g.day, [0, 0])
        totals[0] += g.orders
        totals[1] += g.charged_micros - g.refunded_micros
    states = await orders_store.upstream_state_counts(panel.db)
    resolvable = sorted(state.value for state in RESOLVABLE)
    pending_n, pending_micros = await payments_store.pending_funds_total(panel.db)
    return Dashboard(
        today=_period([g for g in groups if g.day == today]),
        month=_period([g for g in groups if g.day >= month_first_day]),
        days=[Day(day, *per_day.get(day, (0, 0))) for day in range(first_day, today + 1)],
        attention=await orders_store.orders_in_states(panel.db, resolvable, ATTENTION_LISTED),
        attention_count=sum(states.get(state, 0) for state in resolvable),
        upstream_states=states,
        pending_funds=pending_n,
        pending_funds_micros=pending_micros,
        at_s=now,
    )


def _row_page(rows: list, limit: int) -> Page:
    """``page_of`` for database rows (keyed by name, not attributes); ``limit + 1`` rows were asked for."""
    items = list(rows[:limit])
    return Page(items, items[-1]["id"] if len(rows) > limit else None)


# ------------------------------------------------------------------- users


async def find_users(panel: Panel, *, search: str | None = None, sort: str = "created", offset: int = 0,
                     limit: int = DEFAULT_PAGE_ITEMS) -> list:
    if sort not in accounts_store.USER_SORTS:
        raise InvalidField("sort", "one_of", allowed=", ".join(accounts_store.USER_SORTS))
    return await accounts_store.users_page(panel.db, search=(search or "").strip() or None, sort=sort,
                                  offset=max(0, offset), limit=check_limit(limit))


async def user(panel: Panel, user_id: int):
    row = await accounts_store.user_by_id(panel.db, user_id)
    if row is None:
        raise NotFound(what="user", name=str(user_id))
    return row


async def custom_rates(panel: Panel, user_id: int) -> list:
    return await accounts_store.custom_rates_of(panel.db, user_id)


async def user_funds_requests(panel: Panel, user_id: int, *, limit: int = DEFAULT_PAGE_ITEMS) -> list:
    return await payments_store.funds_requests_of(panel.db, user_id, check_limit(limit))


# ------------------------------------------------------------------ orders


async def find_orders(panel: Panel, wanted: OrderFilter, *, before_id: int | None = None,
                      limit: int = DEFAULT_PAGE_ITEMS) -> Page:
    limit, before_id = check_limit(limit), check_before_id(before_id)
    if wanted.status is not None:
        wanted = replace(wanted, status=Status.parse(wanted.status).value)
    if wanted.search and not wanted.search.strip().isdigit():
        await orders.index_new_links(panel)
    rows = await orders_store.orders_page(panel.db, wanted, before_id=before_id, limit=limit + 1)
    return _row_page(rows, limit)


@dataclass
class BulkOutcome:
    done: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    failed: dict[int, PanelError] = field(default_factory=dict)


def check_selection(ids: Sequence[Any], name: str = "ids") -> list[int]:
    chosen = list(dict.fromkeys(f.parse_int(raw, name) for raw in ids))
    if not chosen:
        raise InvalidField(name, "required")
    if len(chosen) > MAX_BULK_ITEMS:
        raise InvalidField(name, "too_many", max=MAX_BULK_ITEMS)
    return chosen


async def bulk_set_status(panel: Panel, ids: Sequence[Any], status: str, *, actor: str) -> BulkOutcome:
    """``orders.operator_set_status`` on each order (its own refund rules, its own transaction)."""
    Status.parse(status)
    outcome = BulkOutcome()
    for order_id in check_selection(ids):
        try:
            changed = await orders.operator_set_status(panel, order_id, status, actor=actor)
        except PanelError as exc:
            outcome.failed[order_id] = exc
        else:
            (outcome.done if changed else outcome.unchanged).append(order_id)
    return outcome


# ---------------------------------------------------------------- services


def scaled_rate(rate_micros: int, percent: Decimal) -> int:
    """``rate × (1 + percent/100)``, rounded half up to the micro-unit."""
    return int((Decimal(rate_micros) * (100 + percent) / 100).quantize(Decimal(1), ROUND_HALF_UP))


async def bulk_change_rates(panel: Panel, ids: Sequence[Any], percent: Any) -> BulkOutcome:
    """Raise (or lower) the rate of each chosen service by ``percent`` through
    ``catalog.set_service``."""
    change = parse_amount(percent, "percent", allow_negative=True)
    if change <= -100 or change > MAX_PERCENT_CHANGE:
        raise InvalidField("percent", "range", min=-99, max=MAX_PERCENT_CHANGE)
    outcome = BulkOutcome()
    for service_id in check_selection(ids):
        try:
            row = await catalog.service(panel, service_id)
            new_rate = Decimal(scaled_rate(row["rate_micros"], change)) / MICROS_PER_UNIT
            await catalog.set_service(panel, service_id, {"rate": str(new_rate)})
        except PanelError as exc:
            outcome.failed[service_id] = exc
        else:
            outcome.done.append(service_id)
    return outcome


async def services(panel: Panel) -> list:
    return await catalog_store.services_with_providers(panel.db)


# ----------------------------------------------------------------- refills


async def find_refills(panel: Panel, *, status: str | None = None, before_id: int | None = None,
                       limit: int = DEFAULT_PAGE_ITEMS) -> Page:
    limit, before_id = check_limit(limit), check_before_id(before_id)
    rows = await refills_store.refills_page(panel.db, status=status, before_id=before_id, limit=limit + 1)
    return _row_page(rows, limit)


async def statement_of(panel: Panel, user_id: int, *, before_id: int | None = None,
                       limit: int = DEFAULT_PAGE_ITEMS) -> Page:
    """Any account's statement (a disabled one's too), newest first."""
    limit, before_id = check_limit(limit), check_before_id(before_id)
    return page_of(await accounts_store.ledger_of(panel.db, user_id, before_id=before_id, limit=limit + 1), limit)


async def upstream_catalog(panel: Panel, name: str, *,
                           make_client: providers.ClientFactory = providers.client_for) -> list:
    """The upstream's own service list (to choose what to import)."""
    row = await providers.provider_named(panel, name)
    async with make_client(row) as client:
        return await client.services()
