"""The operator's website under ``/admin``: only accounts with the operator
role get in (anyone else gets 403 on every URL, before any form is read).

Each handler only translates: a form into a use case's parameters (the same
use cases as the CLI, with ``actor=`` the operator's name), a result or a
``PanelError`` into a page. Reads come from ``services.admin``.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Awaitable, Callable

from starlette.responses import Response
from starlette.routing import Route

from ..client import UpstreamError
from ..domain.errors import InvalidField, NotFound, PanelError
from ..domain.fields import format_duration
from ..domain.money import from_micros, parse_amount, to_micros
from ..domain.ordertypes import ServiceType
from ..domain.pricing import below_cost, margin_percent
from ..domain.status import RefillStatus, Status
from ..domain.upstream_state import RESOLVABLE, UpstreamState
from ..services import accounts, admin, auth, catalog, funds, orders, payments, providers, refills, resend
from ..store.orders import OrderFilter
from .chart import daily_chart
from .core import Page, form_values, page

ADMIN_ROLE = "operator"
PAGE_ITEMS = 50
DASHBOARD_MAX_AGE_S = 30
SERVICE_FIELDS = ("name", "category", "type", "rate", "min", "max", "refill_days", "subscription_posts", "description")
SERVICE_FLAGS = ("refill", "cancel", "dripfeed", "enabled", "deny_duplicate_link")
NEW_SERVICE_VALUES = {"type": ServiceType.DEFAULT.value, "min": "10", "max": "10000", "enabled": "1"}
PROVIDER_FIELDS = ("name", "url", "key", "encoding", "currency", "fx", "timeout")
UNMATCHED = "unmatched"  # the payments status of transfers no customer could be matched to (services.payments)


def operator_page(handler: Callable[[Page], Awaitable[Response]]) -> Callable:
    """A signed-in operator's page; a customer gets 403 (its form is never read)."""

    @functools.wraps(handler)
    async def guarded(current: Page) -> Response:
        if current.session is None or current.session.role != ADMIN_ROLE:
            return current.render("error.html", status=403, title=current._("Not allowed"),
                                  text=current._("This page is for the panel's operators."))
        return await handler(current)

    return page(signed_in=True)(guarded)


def actor_of(current: Page) -> str:
    assert current.session is not None
    return current.session.name


def _int_param(current: Page, name: str) -> int:
    raw = current.request.path_params[name]
    return raw if 0 < raw <= 2**31 - 1 else 0


def _before(current: Page) -> int | None:
    raw = current.request.query_params.get("before")
    return int(raw) if raw and raw.isdigit() and len(raw) <= 10 else None


def _notice(current: Page, texts: dict[str, str]) -> str | None:
    return texts.get(current.request.query_params.get("done") or "")


def _not_found(current: Page, exc: PanelError) -> Response:
    return current.render("error.html", status=404, title=current._("Not found"), text=current.error_text(exc))


def _money_input(micros: int | None) -> str:
    """An amount as a form field shows it: exact, no trailing zeros."""
    if micros is None:
        return ""
    text = format(from_micros(micros), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --------------------------------------------------------------- dashboard


async def _kept(current: Page, key: str, compute: Callable[[], Awaitable[Any]]) -> Any:
    """``compute()``'s result, computed at most once per DASHBOARD_MAX_AGE_S in
    this process: for figures that scan a month of orders, too long to repeat
    on every view of a busy panel. ``?fresh=1`` recomputes."""
    state = current.request.app.state
    kept: dict[str, tuple[int, Any]] | None = getattr(state, "admin_kept", None)
    if kept is None:
        kept = state.admin_kept = {}
    now = current.panel.clock()
    at_s, value = kept.get(key, (None, None))
    if at_s is None or now - at_s >= DASHBOARD_MAX_AGE_S or current.request.query_params.get("fresh"):
        value = await compute()
        kept[key] = (now, value)
    return value


@operator_page
async def dashboard(current: Page) -> Response:
    figures: admin.Dashboard = await _kept(current, "dashboard", lambda: admin.dashboard(current.panel))
    views = await providers.list_providers(current.panel, live=False)
    chart = daily_chart(figures.days, current.web.show_money, current._, currency=current.web.currency)
    return current.render("admin_dashboard.html", admin=True, d=figures, providers=views, chart=chart,
                          max_age_s=DASHBOARD_MAX_AGE_S,
                          attention_state=min(state.value for state in RESOLVABLE))


# ------------------------------------------------------------------- users


@operator_page
async def user_list(current: Page) -> Response:
    query = current.request.query_params
    search = query.get("q", "")
    sort = query.get("sort") or "created"
    offset = int(query["offset"]) if query.get("offset", "").isdigit() and len(query["offset"]) < 9 else 0
    errors: dict[str, str] = {}
    try:
        rows = await admin.find_users(current.panel, search=search, sort=sort, offset=offset, limit=PAGE_ITEMS + 1)
    except PanelError as exc:
        errors, rows, sort = current.errors_of(exc), [], "created"
    return current.render("admin_users.html", admin=True, users=rows[:PAGE_ITEMS], more=len(rows) > PAGE_ITEMS,
                          search=search, sort=sort, sorts=admin.USER_SORTS, offset=offset, page_items=PAGE_ITEMS,
                          errors=errors, status=400 if errors else 200)


async def _user_page(current: Page, user_id: int, *, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None, status: int = 200, confirm_rate: bool = False,
                     new_key: accounts.RotatedKey | None = None) -> Response:
    try:
        user = await admin.user(current.panel, user_id)
    except NotFound as exc:
        return _not_found(current, exc)
    statement = await admin.statement_of(current.panel, user_id, before_id=_before(current), limit=PAGE_ITEMS)
    recent = await admin.find_orders(current.panel, OrderFilter(user=user["name"]), limit=PAGE_ITEMS)
    rates = await admin.custom_rates(current.panel, user_id)
    services = await catalog.all_services(current.panel)
    key = await accounts.key_view(current.panel, user_id)
    notice = _notice(current, {
        "funds": current._("Funds added."), "active": current._("Account updated."),
        "role": current._("Role changed."), "rate": current._("Custom rate saved."),
        "rate_cleared": current._("Custom rate removed."),
    })
    return current.render("admin_user.html", admin=True, u=user, statement=statement, orders_found=recent,
                          rates=rates, services=services, errors=errors or {}, values=values or {}, notice=notice,
                          roles=auth.ROLES, first_page=_before(current) is None, status=status,
                          confirm_rate=confirm_rate, key=key, new_key=new_key,
                          max_grace=format_duration(accounts.MAX_KEY_GRACE_S))


@operator_page
async def user_detail(current: Page) -> Response:
    return await _user_page(current, _int_param(current, "user_id"))


async def _user_name(current: Page, user_id: int) -> str:
    return (await admin.user(current.panel, user_id))["name"]


@operator_page
async def user_add_funds(current: Page) -> Response:
    form = await current.form()
    user_id = _int_param(current, "user_id")
    values = form_values(form, ("amount", "note"))
    try:
        name = await _user_name(current, user_id)
        raw = values.get("amount", "").strip()
        if not raw:
            raise InvalidField("amount", "required")
        amount: Decimal = parse_amount(raw, "amount", allow_negative=True)
        await accounts.add_funds(current.panel, name, amount, values.get("note") or None, actor=actor_of(current))
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _user_page(current, user_id, errors=current.errors_of(exc, "amount"), values=values, status=400)
    return current.redirect(f"/admin/users/{user_id}?done=funds")


@operator_page
async def user_set_active(current: Page) -> Response:
    form = await current.form()
    user_id = _int_param(current, "user_id")
    try:
        await accounts.set_active(current.panel, await _user_name(current, user_id), form.get("active") == "1")
    except NotFound as exc:
        return _not_found(current, exc)
    return current.redirect(f"/admin/users/{user_id}?done=active")


@operator_page
async def user_rotate_key(current: Page) -> Response:
    """A new API key, shown on the page this once (never in a redirect's URL)."""
    form = await current.form()
    user_id = _int_param(current, "user_id")
    values = form_values(form, ("grace",))
    try:
        await _user_name(current, user_id)
        raw = values.get("grace", "").strip()
        grace_s = accounts.parse_grace(raw, "grace") if raw else 0
        rotated = await accounts.rotate_key(current.panel, user_id, actor=actor_of(current), grace_s=grace_s)
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _user_page(current, user_id, errors=current.errors_of(exc, "grace"), values=values, status=400)
    return await _user_page(current, user_id, new_key=rotated)


@operator_page
async def user_set_role(current: Page) -> Response:
    form = await current.form()
    user_id = _int_param(current, "user_id")
    try:
        await auth.set_role(current.panel, await _user_name(current, user_id), str(form.get("role") or ""))
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _user_page(current, user_id, errors=current.errors_of(exc, "role"), status=400)
    return current.redirect(f"/admin/users/{user_id}?done=role")


@operator_page
async def user_set_rate(current: Page) -> Response:
    form = await current.form()
    user_id = _int_param(current, "user_id")
    values = form_values(form, ("service", "rate"))
    try:
        name = await _user_name(current, user_id)
        service_id = int(values["service"]) if values.get("service", "").isdigit() else 0
        service = await catalog.service(current.panel, service_id)
        if form.get("clear"):
            await accounts.set_custom_rate(current.panel, name, service_id, None)
            return current.redirect(f"/admin/users/{user_id}?done=rate_cleared")
        raw = values.get("rate", "").strip()
        if not raw:
            raise InvalidField("rate", "required")
        rate = parse_amount(raw, "rate")
        if below_cost(to_micros(rate), service["cost_micros"]) and not form.get("confirm"):
            return await _user_page(current, user_id, values=values, status=409, confirm_rate=True,
                                    errors={"rate": _below_cost_text(current, service["cost_micros"])})
        await accounts.set_custom_rate(current.panel, name, service_id, rate)
    except NotFound as exc:
        if exc.params.get("what") == "user":
            return _not_found(current, exc)
        return await _user_page(current, user_id, errors={"service": current.error_text(exc)}, values=values,
                                status=400)
    except PanelError as exc:
        return await _user_page(current, user_id, errors=current.errors_of(exc, "rate"), values=values, status=400)
    return current.redirect(f"/admin/users/{user_id}?done=rate")


def _below_cost_text(current: Page, cost_micros: int) -> str:
    return current._("This rate is below the upstream cost (%(cost)s): every order loses money. "
                     "Tick “Sell below cost” to save it anyway.") % {"cost": current.web.money(cost_micros)}


# ---------------------------------------------------------------- services


def _service_rows(current: Page, rows: list) -> list[dict[str, Any]]:
    return [{**dict(row), "margin": margin_percent(row["rate_micros"], row["cost_micros"]),
             "below_cost": below_cost(row["rate_micros"], row["cost_micros"])} for row in rows]


async def _services_page(current: Page, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                         status: int = 200, bulk: Any = None) -> Response:
    rows = _service_rows(current, await admin.services(current.panel))
    categories: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        categories.setdefault(row["category"], []).append(row)
    notice = _notice(current, {"created": current._("Service created."), "saved": current._("Service saved."),
                               "bulk": current._("Rates changed."), "moved": current._("Moved.")})
    return current.render("admin_services.html", admin=True, categories=categories, errors=errors or {},
                          values=values or NEW_SERVICE_VALUES,
                          types=[t.value for t in ServiceType], flags=SERVICE_FLAGS, notice=notice, status=status,
                          bulk=bulk)


@operator_page
async def service_list(current: Page) -> Response:
    return await _services_page(current)


def _service_changes(form: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in SERVICE_FIELDS}
    for flag in SERVICE_FLAGS:
        changes[flag] = "1" if form.get(flag) else "0"
    if not changes["description"]:
        changes.pop("description")
    for optional in ("refill_days", "subscription_posts"):
        if not changes[optional]:
            changes.pop(optional)
    return changes


@operator_page
async def service_create(current: Page) -> Response:
    form = await current.form()
    values = form_values(form, (*SERVICE_FIELDS, *SERVICE_FLAGS))
    try:
        service_id = await catalog.add_service(current.panel, **_service_changes(form))
    except PanelError as exc:
        return await _services_page(current, errors=current.errors_of(exc), values=values, status=400)
    return current.redirect(f"/admin/services?done=created#s{service_id}")


async def _service_form(current: Page, service_id: int, *, values: dict[str, str] | None = None,
                        errors: dict[str, str] | None = None, status: int = 200, confirm: bool = False) -> Response:
    try:
        row = await catalog.service(current.panel, service_id)
    except NotFound as exc:
        return _not_found(current, exc)
    if values is None:
        values = {name: str(row[name] if row[name] is not None else "") for name in SERVICE_FIELDS
                  if name not in ("rate", "category")}
        values.update(rate=_money_input(row["rate_micros"]), category=row["category"])
        values.update({flag: "1" for flag in SERVICE_FLAGS if row[flag]})
    return current.render("admin_service.html", admin=True, s=row, values=values, errors=errors or {},
                          types=[t.value for t in ServiceType], flags=SERVICE_FLAGS, status=status, confirm=confirm,
                          margin=margin_percent(row["rate_micros"], row["cost_micros"]))


@operator_page
async def service_edit(current: Page) -> Response:
    return await _service_form(current, _int_param(current, "service_id"))


@operator_page
async def service_save(current: Page) -> Response:
    form = await current.form()
    service_id = _int_param(current, "service_id")
    values = form_values(form, (*SERVICE_FIELDS, *SERVICE_FLAGS))
    try:
        row = await catalog.service(current.panel, service_id)
        changes = _service_changes(form)
        rate = parse_amount(changes.get("rate") or "", "rate")
        if below_cost(to_micros(rate), row["cost_micros"]) and not form.get("confirm"):
            return await _service_form(current, service_id, values=values, status=409, confirm=True,
                                       errors={"rate": _below_cost_text(current, row["cost_micros"])})
        await catalog.set_service(current.panel, service_id, changes)
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _service_form(current, service_id, values=values, errors=current.errors_of(exc), status=400)
    return current.redirect(f"/admin/services?done=saved#s{service_id}")


@operator_page
async def service_toggle(current: Page) -> Response:
    form = await current.form()
    service_id = _int_param(current, "service_id")
    try:
        await catalog.set_service(current.panel, service_id, {"enabled": "1" if form.get("enabled") == "1" else "0"})
    except NotFound as exc:
        return _not_found(current, exc)
    return current.redirect(f"/admin/services?done=saved#s{service_id}")


@operator_page
async def service_bulk(current: Page) -> Response:
    form = await current.form()
    values = form_values(form, ("percent",))
    try:
        outcome = await admin.bulk_change_rates(current.panel, form.getlist("ids"), values.get("percent", ""))
    except PanelError as exc:
        return await _services_page(current, errors=current.errors_of(exc, "percent"), values=None, status=400)
    if outcome.failed:
        return await _services_page(current, bulk=outcome, status=400)
    return current.redirect("/admin/services?done=bulk")


async def _move(current: Page, what: str, path_param: str, anchor: str) -> Response:
    form = await current.form()
    item_id = _int_param(current, path_param)
    try:
        await catalog.move(current.panel, what, item_id, str(form.get("to") or ""), actor=actor_of(current))
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _services_page(current, errors={"move": current.error_text(exc)}, status=400)
    return current.redirect(f"/admin/services?done=moved#{anchor}{item_id}")


@operator_page
async def service_move(current: Page) -> Response:
    return await _move(current, "service", "service_id", "s")


@operator_page
async def category_move(current: Page) -> Response:
    return await _move(current, "category", "category_id", "c")


# --------------------------------------------------------------- providers


@operator_page
async def provider_list(current: Page) -> Response:
    return await _providers_page(current)


async def _providers_page(current: Page, *, values: dict[str, str] | None = None,
                          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    views = await providers.list_providers(current.panel, live=True)
    notice = _notice(current, {"added": current._("Provider added."), "removed": current._("Provider removed.")})
    return current.render("admin_providers.html", admin=True, providers=views, values=values or {"encoding": "auto"},
                          errors=errors or {}, status=status, notice=notice)


def _decimal_or_none(raw: str | None, name: str) -> Decimal | None:
    return parse_amount(raw, name) if raw and raw.strip() else None


def _int_or_none(raw: str | None, name: str) -> int | None:
    if not raw or not raw.strip():
        return None
    if not raw.strip().isdigit() or len(raw.strip()) > 6:
        raise InvalidField(name, "integer")
    return int(raw)


@operator_page
async def provider_add(current: Page) -> Response:
    form = await current.form()
    values = form_values(form, PROVIDER_FIELDS)
    try:
        for required in ("name", "url", "key"):
            if not values.get(required, "").strip():
                raise InvalidField(required, "required")
        options: dict[str, Any] = {"encoding": values.get("encoding") or "auto",
                                   "currency": values.get("currency", "").strip() or None}
        if (fx := _decimal_or_none(values.get("fx"), "fx")) is not None:
            options["fx"] = fx
        if (timeout := _int_or_none(values.get("timeout"), "timeout")) is not None:
            options["timeout_s"] = timeout
        await providers.add_provider(current.panel, values["name"].strip(), values["url"].strip(),
                                     values["key"].strip(), **options)
    except PanelError as exc:
        values.pop("key", None)  # a secret is never written back into a page
        return await _providers_page(current, values=values, errors=current.errors_of(exc), status=400)
    return current.redirect(f"/admin/providers/{values['name'].strip()}?done=added")


async def _provider_page(current: Page, name: str, *, errors: dict[str, str] | None = None,
                         values: dict[str, str] | None = None, status: int = 200, report: Any = None) -> Response:
    try:
        row = await providers.provider_named(current.panel, name)
    except NotFound as exc:
        return _not_found(current, exc)
    offered, offered_error = [], None
    if current.request.query_params.get("catalog"):
        try:
            offered = await admin.upstream_catalog(current.panel, name)
        except PanelError as exc:
            offered_error = current.error_text(exc)
        except UpstreamError as exc:  # an upstream failure is shown, not raised: the page still works
            offered_error = str(exc)
    ours = {s["provider_service"]: s for s in await admin.services(current.panel) if s["provider"] == name}
    notice = _notice(current, {"added": current._("Provider added."), "saved": current._("Provider saved."),
                               "synced": current._("Services synced."), "imported": current._("Services imported.")})
    return current.render("admin_provider.html", admin=True, p=row, offered=offered, offered_error=offered_error,
                          ours=ours, errors=errors or {}, values=values or {"fx": row["fx"],
                                                                           "url": row["url"],
                                                                           "markup": "25"},
                          status=status, notice=notice, report=report)


@operator_page
async def provider_detail(current: Page) -> Response:
    return await _provider_page(current, current.request.path_params["name"])


@operator_page
async def provider_save(current: Page) -> Response:
    form = await current.form()
    name = current.request.path_params["name"]
    values = form_values(form, ("url", "key", "fx", "timeout"))
    try:
        await providers.update_provider(
            current.panel, name, url=values.get("url", "").strip() or None, key=values.get("key", "").strip() or None,
            fx=_decimal_or_none(values.get("fx"), "fx"), timeout_s=_int_or_none(values.get("timeout"), "timeout"))
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        values.pop("key", None)
        return await _provider_page(current, name, errors=current.errors_of(exc), values=values, status=400)
    return current.redirect(f"/admin/providers/{name}?done=saved")


async def _upstream_call(current: Page, name: str, call: Callable[[], Awaitable[Any]]) -> Response | Any:
    try:
        return await call()
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _provider_page(current, name, errors=current.errors_of(exc), status=400)
    except UpstreamError as exc:  # the upstream's own failure (network, protocol): shown to the operator
        return await _provider_page(current, name, errors={"form": str(exc)}, status=502)


@operator_page
async def provider_import(current: Page) -> Response:
    form = await current.form()
    name = current.request.path_params["name"]
    chosen = [v for v in form.getlist("services") if isinstance(v, str)]
    values = form_values(form, ("markup", "category_prefix"))

    async def run() -> Any:
        if not chosen:
            raise InvalidField("services", "required")
        markup = parse_amount(values.get("markup") or "0", "markup", allow_negative=True)
        return await providers.import_services(current.panel, name, markup_percent=markup, only=chosen,
                                               category_prefix=values.get("category_prefix", ""))

    result = await _upstream_call(current, name, run)
    if isinstance(result, Response):
        return result
    return current.redirect(f"/admin/providers/{name}?done=imported")


@operator_page
async def provider_sync(current: Page) -> Response:
    await current.form()
    name = current.request.path_params["name"]
    result = await _upstream_call(current, name, lambda: providers.sync_services(current.panel, name))
    if isinstance(result, Response):
        return result
    return current.redirect(f"/admin/providers/{name}?done=synced")


@operator_page
async def provider_remove(current: Page) -> Response:
    await current.form()
    name = current.request.path_params["name"]
    try:
        await providers.remove_provider(current.panel, name)
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _provider_page(current, name, errors={"remove": current.error_text(exc)}, status=400)
    return current.redirect("/admin/providers?done=removed")


# ------------------------------------------------------------------ orders


def _day_start_s(raw: str | None, name: str) -> int | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidField(name, "one_of", allowed="YYYY-MM-DD") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


ORDER_FILTERS = ("status", "upstream_state", "user", "service", "provider", "since", "until", "q")


def _order_filter(query: Any) -> OrderFilter:
    service = query.get("service") or None
    if service is not None and (not service.isdigit() or len(service) > 10):
        raise InvalidField("service", "integer")
    until = _day_start_s(query.get("until"), "until")
    return OrderFilter(
        status=query.get("status") or None,
        upstream_state=UpstreamState.parse(query["upstream_state"]).value if query.get("upstream_state") else None,
        user=query.get("user") or None, service_id=int(service) if service else None,
        provider=query.get("provider") or None, since_s=_day_start_s(query.get("since"), "since"),
        until_s=until + admin.DAY_S if until is not None else None, search=query.get("q") or None,
    )


async def _orders_page(current: Page, *, bulk: Any = None, errors: dict[str, str] | None = None,
                       status: int = 200, resent: Any = None, resend_values: dict[str, str] | None = None) -> Response:
    query = current.request.query_params
    errors = dict(errors or {})
    found = None
    try:
        found = await admin.find_orders(current.panel, _order_filter(query), before_id=_before(current),
                                        limit=PAGE_ITEMS)
    except PanelError as exc:
        errors.update(current.errors_of(exc))
        status = 400
    filters = {name: query.get(name, "") for name in ORDER_FILTERS}
    provider_names = [v.row["name"] for v in await providers.list_providers(current.panel, live=False)]
    notice = _notice(current, {"bulk": current._("Statuses set.")})
    return current.render("admin_orders.html", admin=True, found=found, filters=filters, errors=errors,
                          statuses=[s.value for s in Status], states=[s.value for s in UpstreamState],
                          providers=provider_names, resent=resent, resend_values=resend_values or {},
                          first_page=_before(current) is None, bulk=bulk, status=status, notice=notice)


@operator_page
async def order_list(current: Page) -> Response:
    return await _orders_page(current)


@operator_page
async def order_bulk(current: Page) -> Response:
    form = await current.form()
    try:
        outcome = await admin.bulk_set_status(current.panel, form.getlist("ids"), str(form.get("status") or ""),
                                              actor=actor_of(current))
    except PanelError as exc:
        return await _orders_page(current, errors=current.errors_of(exc, "bulk"), status=400)
    if outcome.failed:
        return await _orders_page(current, bulk=outcome, status=400)
    return current.redirect("/admin/orders?done=bulk")


@operator_page
async def order_resend(current: Page) -> Response:
    """Each selected order moved to the chosen provider and service, or refused
    with its reason: the page lists both."""
    form = await current.form()
    values = form_values(form, ("provider", "provider_service"))
    try:
        outcome = await resend.resend_each(current.panel, admin.check_selection(form.getlist("ids")),
                                           values.get("provider", ""), values.get("provider_service", ""),
                                           actor=actor_of(current))
    except PanelError as exc:
        return await _orders_page(current, errors=current.errors_of(exc, "resend"), status=400,
                                  resend_values=values)
    return await _orders_page(current, resent=outcome, resend_values=values)


async def _order_page(current: Page, order_id: int, *, errors: dict[str, str] | None = None,
                      values: dict[str, str] | None = None, status: int = 200) -> Response:
    try:
        order = await orders.order(current.panel, order_id)
        history = await orders.history(current.panel, order_id)
    except NotFound as exc:
        return _not_found(current, exc)
    notice = _notice(current, {"status": current._("Status set."), "resolved": current._("Order resolved.")})
    return current.render("admin_order.html", admin=True, o=order, history=history, errors=errors or {},
                          values=values or {"status": order["status"]}, statuses=[s.value for s in Status],
                          resolvable=order["upstream_state"] in RESOLVABLE, notice=notice, status=status)


@operator_page
async def order_detail(current: Page) -> Response:
    return await _order_page(current, _int_param(current, "order_id"))


@operator_page
async def order_set_status(current: Page) -> Response:
    form = await current.form()
    order_id = _int_param(current, "order_id")
    values = form_values(form, ("status", "remains", "start_count"))
    try:
        remains = _int_or_none(values.get("remains"), "remains")
        start_count = _int_or_none(values.get("start_count"), "start_count")
        await orders.operator_set_status(current.panel, order_id, values.get("status", ""), actor=actor_of(current),
                                         remains=remains, start_count=start_count)
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _order_page(current, order_id, errors=current.errors_of(exc, "status"), values=values,
                                 status=400)
    return current.redirect(f"/admin/orders/{order_id}?done=status")


@operator_page
async def order_resolve(current: Page) -> Response:
    form = await current.form()
    order_id = _int_param(current, "order_id")
    how = form.get("resolution")
    values = form_values(form, ("provider_order",))
    try:
        await orders.resolve(current.panel, order_id, actor=actor_of(current),
                             provider_order=values.get("provider_order", "") if how == "provider_order" else None,
                             requeue=how == "requeue", cancel=how == "cancel")
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return await _order_page(current, order_id, errors=current.errors_of(exc, "resolve"), values=values,
                                 status=400)
    return current.redirect(f"/admin/orders/{order_id}?done=resolved")


# ----------------------------------------------------------------- refills


@operator_page
async def refill_list(current: Page) -> Response:
    status = current.request.query_params.get("status") or None
    errors: dict[str, str] = {}
    found = None
    try:
        if status is not None:
            status = RefillStatus.parse(status).value
        found = await admin.find_refills(current.panel, status=status, before_id=_before(current), limit=PAGE_ITEMS)
    except PanelError as exc:
        errors = current.errors_of(exc)
    notice = _notice(current, {"status": current._("Refill updated.")})
    return current.render("admin_refills.html", admin=True, found=found, errors=errors, filter_status=status or "",
                          refill_statuses=[s.value for s in RefillStatus], first_page=_before(current) is None,
                          notice=notice, status=400 if errors else 200)


@operator_page
async def refill_set_status(current: Page) -> Response:
    form = await current.form()
    refill_id = _int_param(current, "refill_id")
    try:
        await refills.operator_set_status(current.panel, refill_id, str(form.get("status") or ""))
    except NotFound as exc:
        return _not_found(current, exc)
    except PanelError as exc:
        return current.render("error.html", status=400, title=current._("Refill not changed"),
                              text=current.error_text(exc))
    return current.redirect("/admin/refills?done=status")


# ------------------------------------------------------------------- funds


async def _funds_page(current: Page, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    pending = await funds.pending_requests(current.panel)
    unmatched = await payments.list_payments(current.panel, UNMATCHED)
    notice = _notice(current, {"approved": current._("Request approved: the balance is credited."),
                               "rejected": current._("Request rejected."),
                               "assigned": current._("Transfer credited to the customer."),
                               "dismissed": current._("Transfer dismissed.")})
    return current.render("admin_funds.html", admin=True, pending=pending, unmatched=unmatched,
                          bank=current.web.settings.bank is not None, errors=errors or {}, notice=notice,
                          status=status)


@operator_page
async def funds_list(current: Page) -> Response:
    return await _funds_page(current)


async def _decide(current: Page, done: str, decide: Callable[[Any], Awaitable[Any]]) -> Response:
    """A decision on a funds request or a transfer (its use case refuses a second one)."""
    form = await current.form()
    try:
        await decide(form)
    except PanelError as exc:
        return await _funds_page(current, errors={"form": current.error_text(exc)}, status=409)
    return current.redirect(f"/admin/funds?done={done}")


@operator_page
async def funds_approve(current: Page) -> Response:
    return await _decide(current, "approved", lambda form: funds.approve(
        current.panel, _int_param(current, "request_id"), actor_of(current)))


@operator_page
async def funds_reject(current: Page) -> Response:
    return await _decide(current, "rejected", lambda form: funds.reject(
        current.panel, _int_param(current, "request_id"), actor_of(current), str(form.get("note") or "")))


async def _assign(current: Page, form: Any) -> int:
    bank = current.web.settings.bank
    if bank is None:
        raise InvalidField("payment", "one_of", allowed="bank transfers configured (SMMPANEL_VIETQR_*)")
    return await payments.assign(current.panel, bank, _int_param(current, "payment_id"), str(form.get("user") or ""),
                                 actor_of(current), str(form.get("note") or "") or None)


@operator_page
async def payment_assign(current: Page) -> Response:
    return await _decide(current, "assigned", lambda form: _assign(current, form))


@operator_page
async def payment_dismiss(current: Page) -> Response:
    return await _decide(current, "dismissed", lambda form: payments.dismiss(
        current.panel, _int_param(current, "payment_id"), actor_of(current), str(form.get("note") or "")))


ROUTES = [
    Route("/admin", dashboard, methods=["GET"]),
    Route("/admin/users", user_list, methods=["GET"]),
    Route("/admin/users/{user_id:int}", user_detail, methods=["GET"]),
    Route("/admin/users/{user_id:int}/funds", user_add_funds, methods=["POST"]),
    Route("/admin/users/{user_id:int}/active", user_set_active, methods=["POST"]),
    Route("/admin/users/{user_id:int}/role", user_set_role, methods=["POST"]),
    Route("/admin/users/{user_id:int}/key", user_rotate_key, methods=["POST"]),
    Route("/admin/users/{user_id:int}/rates", user_set_rate, methods=["POST"]),
    Route("/admin/services", service_list, methods=["GET"]),
    Route("/admin/services", service_create, methods=["POST"]),
    Route("/admin/services/bulk", service_bulk, methods=["POST"]),
    Route("/admin/services/{service_id:int}", service_edit, methods=["GET"]),
    Route("/admin/services/{service_id:int}", service_save, methods=["POST"]),
    Route("/admin/services/{service_id:int}/enabled", service_toggle, methods=["POST"]),
    Route("/admin/services/{service_id:int}/move", service_move, methods=["POST"]),
    Route("/admin/categories/{category_id:int}/move", category_move, methods=["POST"]),
    Route("/admin/providers", provider_list, methods=["GET"]),
    Route("/admin/providers", provider_add, methods=["POST"]),
    Route("/admin/providers/{name}", provider_detail, methods=["GET"]),
    Route("/admin/providers/{name}", provider_save, methods=["POST"]),
    Route("/admin/providers/{name}/import", provider_import, methods=["POST"]),
    Route("/admin/providers/{name}/sync", provider_sync, methods=["POST"]),
    Route("/admin/providers/{name}/remove", provider_remove, methods=["POST"]),
    Route("/admin/orders", order_list, methods=["GET"]),
    Route("/admin/orders/bulk", order_bulk, methods=["POST"]),
    Route("/admin/orders/resend", order_resend, methods=["POST"]),
    Route("/admin/orders/{order_id:int}", order_detail, methods=["GET"]),
    Route("/admin/orders/{order_id:int}/status", order_set_status, methods=["POST"]),
    Route("/admin/orders/{order_id:int}/resolve", order_resolve, methods=["POST"]),
    Route("/admin/refills", refill_list, methods=["GET"]),
    Route("/admin/refills/{refill_id:int}/status", refill_set_status, methods=["POST"]),
    Route("/admin/funds", funds_list, methods=["GET"]),
    Route("/admin/funds/{request_id:int}/approve", funds_approve, methods=["POST"]),
    Route("/admin/funds/{request_id:int}/reject", funds_reject, methods=["POST"]),
    Route("/admin/payments/{payment_id:int}/assign", payment_assign, methods=["POST"]),
    Route("/admin/payments/{payment_id:int}/dismiss", payment_dismiss, methods=["POST"]),
]
