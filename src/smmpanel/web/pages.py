"""The customer's pages: dashboard, new order, mass order, orders, refills,
funds, API documentation. Each handler only translates: the form into a use
case's parameters, its result or ``PanelError`` into a page. Prices,
validation and error texts are the API's own (``services``, ``domain``,
``api.messages``)."""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api.render import Dialect
from ..domain import fields as f
from ..domain.errors import IncorrectOrder, InvalidField, MissingAddFields, PanelError
from ..domain.money import parse_amount
from ..domain.ordertypes import SUBSCRIPTION_DELAYS, TYPE_SPECS, ServiceType, Units, form_fields
from ..domain.status import RefillStatus, Status
from ..domain.idempotency import KEY_FIELD
from ..services import accounts, catalog, funds, idempotency, orders, refills
from ..services.principal import Customer
from .bank import bank_block
from .core import Page, form_values, page

RECENT_ORDERS = 5
PAGE_ITEMS = 50
ORDER_FIELDS = ("link", "quantity", "comments", "usernames", "username", "hashtags", "hashtag", "keywords", "media",
                "answer_number", "groups", "min", "max", "posts", "old_posts", "delay", "expiry", "runs", "interval")
MULTILINE_FIELDS = frozenset({"comments", "usernames", "hashtags", "groups"})
MASS_ORDER_SEPARATOR = "|"


def customer_of(current: Page) -> Customer:
    assert current.session is not None
    return Customer.from_user_id(current.session.user_id)


def _before(current: Page) -> int | None:
    raw = current.request.query_params.get("before")
    return int(raw) if raw and raw.isdigit() and len(raw) <= 10 else None


# ---------------------------------------------------------------- dashboard


@page(signed_in=True)
async def dashboard(current: Page) -> Response:
    customer = customer_of(current)
    summary, recent = await asyncio.gather(  # on PostgreSQL the two reads overlap
        accounts.summary(current.panel, customer),
        orders.customer_orders(current.panel, customer, limit=RECENT_ORDERS),
    )
    return current.render("dashboard.html", summary=summary, recent=recent.items)


# -------------------------------------------------------------- new order


def _service_view(current: Page, row: Any) -> dict[str, Any]:
    type_ = ServiceType(row["type"])
    flat = TYPE_SPECS[type_].units is Units.FLAT
    rate = current.web.money(row["rate_micros"])
    per = current._("per order") if flat else current._("per 1000")
    return {
        "id": row["id"], "name": row["name"], "category": row["category"], "type": type_.value,
        "label": f"{row['id']} — {row['name']} — {rate} {per}",
        "fields": form_fields(type_, bool(row["dripfeed"])),
        "info": current._("Min %(min)s, max %(max)s.") % {"min": row["min"], "max": row["max"]}
                + (" " + row["description"] if row["description"] else ""),
        "min": row["min"], "max": row["max"], "description": row["description"],
    }


def _order_params(service: dict[str, Any] | None, form: Any) -> dict[str, Any]:
    """The use case's parameters: the chosen type's fields as typed."""
    params: dict[str, Any] = {"service": form.get("service", "")}
    for name in service["fields"] if service else ():
        value = form.get(name)
        if isinstance(value, str):
            params[name] = value
    return params


def _chosen(services: list[dict[str, Any]], raw: object) -> dict[str, Any] | None:
    if isinstance(raw, str) and raw.isdigit():
        for service in services:
            if service["id"] == int(raw):
                return service
    return services[0] if services else None


def _order_error_field(current: Page, exc: PanelError, service: dict[str, Any] | None, form: Any) -> str:
    if isinstance(exc, MissingAddFields):  # "service, link, quantity": point at the first one left empty
        for name in ("link", "quantity"):
            if service and name in service["fields"] and not str(form.get(name) or "").strip():
                return name
        return "form"
    name = current.error_field(exc)
    if name == "quantity" and service and "quantity" not in service["fields"]:
        # Counted types: the quantity is the number of lines of their list.
        return next((n for n in service["fields"] if n in MULTILINE_FIELDS), "form")
    return name if name in ("service", *(service["fields"] if service else ())) else "form"


ORDER_KEY_BYTES = 16  # each order form shown carries its own idempotency key


async def _order_page(current: Page, *, values: dict[str, str], errors: dict[str, str], status: int = 200,
                      charge: str | None = None, placed: Any = None, balance: str | None = None) -> Response:
    rows = await catalog.customer_services(current.panel, customer_of(current))
    services = [_service_view(current, row) for row in rows]
    chosen = _chosen(services, values.get("service"))
    categories = list(dict.fromkeys(s["category"] for s in services))
    category = values.get("category") or (chosen["category"] if chosen else "")
    return current.render(
        "order.html", status=status, services=services, chosen=chosen, categories=categories, category=category,
        values=values, errors=errors, charge=charge, placed=placed, balance=balance, all_fields=ORDER_FIELDS,
        multiline=MULTILINE_FIELDS, delays=sorted(SUBSCRIPTION_DELAYS),
        order_key=secrets.token_urlsafe(ORDER_KEY_BYTES),
    )


@page(signed_in=True)
async def new_order(current: Page) -> Response:
    query = current.request.query_params
    values = {k: v for k, v in (("service", query.get("service")), ("category", query.get("category"))) if v}
    placed = balance = None
    if query.get("placed", "").isdigit():
        customer = customer_of(current)
        try:
            placed = await orders.customer_order(current.panel, customer, int(query["placed"]))
        except PanelError:
            placed = None
        else:
            balance = current.web.money((await accounts.summary(current.panel, customer)).balance_micros)
    return await _order_page(current, values=values, errors={}, placed=placed, balance=balance)


@page(signed_in=True)
async def place_order(current: Page) -> Response:
    form = await current.form()
    customer = customer_of(current)
    rows = await catalog.customer_services(current.panel, customer)
    services = [_service_view(current, row) for row in rows]
    chosen = _chosen(services, form.get("service"))
    values = form_values(form, ("service", "category", *ORDER_FIELDS))
    params = _order_params(chosen, form)
    try:
        if form.get("quote"):
            charge = current.web.money(await orders.quote(current.panel, customer, params))
            return await _order_page(current, values=values, errors={}, charge=charge)
        if form.get(KEY_FIELD):
            order_id = await idempotency.place_order(current.panel, customer, form.get(KEY_FIELD), params)
        else:
            order_id = await orders.place_order(current.panel, customer, params)
    except PanelError as exc:
        field = _order_error_field(current, exc, chosen, form)
        return await _order_page(current, values=values, errors={field: current.error_text(exc)}, status=400)
    return current.redirect(f"/order?service={chosen['id'] if chosen else ''}&placed={order_id}")


@page(signed_in=True)
async def order_charge(current: Page) -> Response:
    """The live charge of the order form (its script asks as the customer types)."""
    form = await current.form()
    customer = customer_of(current)
    rows = await catalog.customer_services(current.panel, customer)
    chosen = _chosen([_service_view(current, row) for row in rows], form.get("service"))
    try:
        micros = await orders.quote(current.panel, customer, _order_params(chosen, form))
    except PanelError as exc:
        return JSONResponse({"charge": None, "error": current.error_text(exc)})
    return JSONResponse({"charge": current.web.money(micros)})


# ------------------------------------------------------------- mass order


def _mass_lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


@page(signed_in=True)
async def mass_order(current: Page) -> Response:
    if current.request.method == "GET":
        return current.render("mass_order.html", values={}, errors={}, results=None)
    form = await current.form()
    text = str(form.get("orders") or "")
    values = {"orders": text}
    lines = _mass_lines(text)
    errors: dict[str, str] = {}
    if not lines:
        errors["orders"] = current.error_text(InvalidField("orders", "required"))
    elif len(lines) > f.MAX_LINKS_PER_BULK:
        errors["orders"] = current.error_text(InvalidField("orders", "too_many", max=f.MAX_LINKS_PER_BULK))
    if errors:
        return current.render("mass_order.html", status=400, values=values, errors=errors, results=None)
    customer = customer_of(current)
    results = []
    for number, line in lines:
        parts = [part.strip() for part in line.split(MASS_ORDER_SEPARATOR)]
        if len(parts) != 3:
            results.append({"line": number, "text": line, "order": None,
                            "error": current._("Expected: service_id | link | quantity")})
            continue
        service, link, quantity = parts
        try:
            order_id = await orders.place_order(current.panel, customer,
                                                {"service": service, "link": link, "quantity": quantity})
            order = await orders.customer_order(current.panel, customer, order_id)
            results.append({"line": number, "text": line, "order": order_id,
                            "charge": current.web.money(order.charge_micros), "error": None})
        except PanelError as exc:
            results.append({"line": number, "text": line, "order": None, "error": current.error_text(exc)})
    return current.render("mass_order.html", values=values, errors={}, results=results)


# ------------------------------------------------------------------ orders


@page(signed_in=True)
async def order_list(current: Page) -> Response:
    query = current.request.query_params
    status = query.get("status") or None
    search = query.get("q") or None
    errors: dict[str, str] = {}
    try:
        found = await orders.customer_orders(current.panel, customer_of(current), status=status, search=search,
                                             before_id=_before(current), limit=PAGE_ITEMS)
    except PanelError as exc:
        errors = current.errors_of(exc)
        found = None
    return current.render("orders.html", status=400 if errors else 200, found=found, errors=errors,
                          filter_status=status or "", search=search or "", statuses=[s.value for s in Status],
                          first_page=_before(current) is None)


async def _order_detail(current: Page, order_id: int, *, notice: str | None = None, error: str | None = None,
                        status: int = 200) -> Response:
    customer = customer_of(current)
    try:
        order = await orders.customer_order(current.panel, customer, order_id)
    except IncorrectOrder as exc:
        return current.render("error.html", status=404, title=current._("Order not found"),
                              text=current.error_text(exc))
    service = await catalog.service(current.panel, order.service_id)
    can_refill = (refills.refusal(order.status, order.created_at_s, service, current.panel.clock()) is None
                  and not await refills.has_active(current.panel, order))
    return current.render("order_detail.html", status=status, order=order, can_refill=can_refill,
                          can_cancel=orders.may_cancel(order, service), notice=notice, error=error)


def _order_id(current: Page) -> int:
    raw = current.request.path_params["order_id"]
    return raw if 0 < raw <= 2**31 - 1 else 0


@page(signed_in=True)
async def order_detail(current: Page) -> Response:
    done = current.request.query_params.get("done")
    notice = {"refill": current._("Refill requested."), "cancel": current._("Cancel accepted.")}.get(done or "")
    return await _order_detail(current, _order_id(current), notice=notice)


async def _order_action(current: Page, action: str) -> Response:
    await current.form()
    order_id = _order_id(current)
    customer = customer_of(current)
    if action == "refill":
        outcome: Any = (await refills.request(current.panel, customer, [order_id]))[order_id]
    else:
        outcome = (await orders.cancel(current.panel, customer, [order_id]))[order_id]
    if isinstance(outcome, IncorrectOrder):
        return current.render("error.html", status=404, title=current._("Order not found"),
                              text=current.error_text(outcome))
    if isinstance(outcome, PanelError):
        return await _order_detail(current, order_id, error=current.error_text(outcome), status=400)
    return current.redirect(f"/orders/{order_id}?done={action}")


@page(signed_in=True)
async def order_refill(current: Page) -> Response:
    return await _order_action(current, "refill")


@page(signed_in=True)
async def order_cancel(current: Page) -> Response:
    return await _order_action(current, "cancel")


@page(signed_in=True)
async def refill_list(current: Page) -> Response:
    found = await refills.customer_refills(current.panel, customer_of(current), before_id=_before(current),
                                           limit=PAGE_ITEMS)
    return current.render("refills.html", found=found, first_page=_before(current) is None,
                          refill_statuses=[s.value for s in RefillStatus])


# ------------------------------------------------------------------- funds


async def _funds_page(current: Page, *, values: dict[str, str], errors: dict[str, str], notice: str | None = None,
                      status: int = 200) -> Response:
    customer = customer_of(current)
    summary, statement, requests = await asyncio.gather(
        accounts.summary(current.panel, customer),
        accounts.statement(current.panel, customer, before_id=_before(current), limit=PAGE_ITEMS),
        funds.customer_requests(current.panel, customer),
    )
    return current.render("funds.html", status=status, summary=summary, statement=statement, requests=requests,
                          values=values, errors=errors, notice=notice, first_page=_before(current) is None,
                          **await bank_block(current, customer))


@page(signed_in=True)
async def funds_page(current: Page) -> Response:
    notice = current._("Request sent. An operator will check your payment.") \
        if current.request.query_params.get("requested") else None
    return await _funds_page(current, values={}, errors={}, notice=notice)


@page(signed_in=True)
async def request_funds(current: Page) -> Response:
    form = await current.form()
    values = form_values(form, ("amount", "reference"))
    try:
        raw_amount = values.get("amount", "").strip()
        if not raw_amount:
            raise InvalidField("amount", "required")
        amount: Decimal = parse_amount(raw_amount, "amount")
        await funds.request_funds(current.panel, customer_of(current), amount, values.get("reference"))
    except PanelError as exc:
        return await _funds_page(current, values=values, errors=current.errors_of(exc), status=400)
    return current.redirect("/funds?requested=1")


# ---------------------------------------------------------------- API docs


def _doc_example_replies(dialect: Dialect) -> dict[str, str]:
    """Example replies rendered by the API's own dialect code, so the docs show this panel's shapes."""
    sample = {"id": 23501, "net_micros": 278_190, "status": "Partial", "start_count": 3572, "remains": 157}

    def dump(value: Any) -> str:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()

    return {
        "balance": dump({"balance": dialect.money(100_842_920), "currency": dialect.currency}),
        "add": dump({"order": 23501}),
        "status": dump(dialect.status(sample)),
        "multi": dump({"23501": dialect.status(sample), "10": {"error": "Incorrect order ID"}}),
        "refill": dump({"refill": dialect.id_text(1)}),
        "refill_status": dump({"status": "Completed"}),
        "cancel": dump([{"order": 23501, "cancel": 1}]),
    }


@page(signed_in=False)
async def api_docs(current: Page) -> Response:
    settings = current.web.settings
    dialect = Dialect(settings.dialect, settings.currency)
    rows = await catalog.public_services(current.panel)
    services = [dialect.service(row) for row in rows]
    types: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = types.setdefault(row["type"], {"fields": form_fields(ServiceType(row["type"]), True), "ids": []})
        entry["ids"].append(row["id"])
    example = next((s for s in services if s["type"] == ServiceType.DEFAULT.value), services[0] if services else None)
    base = str(current.request.base_url).rstrip("/")
    return current.render(
        "api_docs.html", api_url=f"{base}/api/v2", dialect=settings.dialect, services=services, types=types,
        example=example, replies=_doc_example_replies(dialect),
        services_json=orjson.dumps(services[:2], option=orjson.OPT_INDENT_2).decode(),
    )


ROUTES = [
    Route("/", dashboard, methods=["GET"]),
    Route("/order", new_order, methods=["GET"]),
    Route("/order", place_order, methods=["POST"]),
    Route("/order/charge", order_charge, methods=["POST"]),
    Route("/mass-order", mass_order, methods=["GET", "POST"]),
    Route("/orders", order_list, methods=["GET"]),
    Route("/orders/{order_id:int}", order_detail, methods=["GET"]),
    Route("/orders/{order_id:int}/refill", order_refill, methods=["POST"]),
    Route("/orders/{order_id:int}/cancel", order_cancel, methods=["POST"]),
    Route("/refills", refill_list, methods=["GET"]),
    Route("/funds", funds_page, methods=["GET"]),
    Route("/funds", request_funds, methods=["POST"]),
    Route("/api-docs", api_docs, methods=["GET"]),
]
