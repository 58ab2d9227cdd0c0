"""How each simulated panel behaves: one ``Profile`` per seed page, plus ``standard``.

================ ======== ========= =========================================================
profile          encoding numbers   actions / quirks
================ ======== ========= =========================================================
like3s           JSON     numbers   services, balance, add, addBulk, status (single),
                                    orders (multi); NO refill, refill_status, cancel;
                                    Vietnamese errors; VND; services lack type/category
shopvn           form     strings   services, balance, add, status (single + multi),
                                    refill (multi replies bare ``{"refill": "1"}``),
                                    refill_status; no cancel; "Incorrect refill ID"
baostar          JSON     strings   as shopvn, but multi-status entries carry only
                                    ``{"status": ...}``; a form body gets a PHP warning page
subpro           form     strings   as shopvn
68smm            form     strings   full Perfect Panel: refill lists, cancel, runs/interval,
                                    every order type (a Custom Comments service)
standard         form,    strings   everything of the spec (``orders`` too); reads the query
                 JSON               string, form and JSON bodies
================ ======== ========= =========================================================

A JSON-only panel ignores the query string and a form body (it sees no key:
``Incorrect request``, or garbage for baostar); a form panel sees no key in a
JSON body. So ``ProviderClient.detect_encoding`` has something to detect.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Mapping

ALL_ACTIONS = frozenset(
    {"services", "balance", "add", "addBulk", "status", "orders", "refill", "refill_status", "cancel"}
)
BASIC_ACTIONS = frozenset({"services", "balance", "add", "status", "refill", "refill_status"})


@dataclass(frozen=True)
class SimService:
    id: int
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool = False
    cancel: bool = False
    dripfeed: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    encodings: frozenset[str]  # request bodies understood: "form", "json"
    reads_query: bool  # PHP ``$_REQUEST``: query parameters count too
    garbage_on_bad_body: bool  # a body it cannot read gets a PHP warning page, not a JSON error
    numbers_as_strings: bool  # money and counts as JSON strings ("standard") or numbers ("like3s")
    language: str  # "en" or "vi"
    currency: str
    money_places: int  # decimals of a charge
    actions: frozenset[str]
    multi_status_entries_full: bool  # False: multi-status entries are ``{"status": ...}`` only
    multi_refill_list: bool  # False: multi refill replies a bare ``{"refill": "<id>"}``
    refill_id_as_string: bool  # single refill reply: ``{"refill": "1"}`` vs ``{"refill": 1}``
    status_has_currency: bool
    dripfeed: bool  # ``runs``/``interval`` honoured on add
    service_fields: tuple[str, ...]
    services: tuple[SimService, ...]
    balance: Decimal
    first_order_id: int
    status_takes_orders: bool = True  # False: ``status`` reads ``order`` only (Like3s uses ``action=orders``)
    text_overrides: Mapping[str, str] = field(default_factory=dict)


_SHORT_FIELDS = ("service", "name", "type", "category", "rate", "min", "max", "refill")

_VN_SERVICES = (
    SimService(1, "Facebook views", "Default", "Facebook", Decimal("2.5"), 200, 10000, refill=True),
    SimService(2, "Tiktok views", "Default", "Tiktok", Decimal("4"), 10, 1500),
)

LIKE3S = Profile(
    name="like3s",
    encodings=frozenset({"json"}),
    reads_query=False,
    garbage_on_bad_body=False,
    numbers_as_strings=False,
    language="vi",
    currency="VND",
    money_places=0,
    actions=frozenset({"services", "balance", "add", "addBulk", "status", "orders"}),
    multi_status_entries_full=True,
    multi_refill_list=True,
    refill_id_as_string=False,
    status_has_currency=True,
    dripfeed=False,
    service_fields=("service", "name", "rate", "min", "max", "refill"),
    services=(
        SimService(101, "Like Post Facebook", "Default", "Facebook", Decimal("25000"), 50, 50000),
        SimService(102, "View Video Facebook", "Default", "Facebook", Decimal("1234.5"), 100, 1000000),
    ),
    balance=Decimal("100000"),
    first_order_id=987654,
    status_takes_orders=False,
)

SHOPVN = Profile(
    name="shopvn",
    encodings=frozenset({"form"}),
    reads_query=True,
    garbage_on_bad_body=False,
    numbers_as_strings=True,
    language="en",
    currency="VND",
    money_places=5,
    actions=BASIC_ACTIONS,
    multi_status_entries_full=True,
    multi_refill_list=False,
    refill_id_as_string=True,
    status_has_currency=False,
    dripfeed=False,
    service_fields=_SHORT_FIELDS,
    services=_VN_SERVICES,
    balance=Decimal("343423"),
    first_order_id=99999,
    text_overrides={"refill_not_found": "Incorrect refill ID"},
)

BAOSTAR = Profile(
    name="baostar",
    encodings=frozenset({"json"}),
    reads_query=False,
    garbage_on_bad_body=True,
    numbers_as_strings=True,
    language="en",
    currency="VND",
    money_places=5,
    actions=BASIC_ACTIONS,
    multi_status_entries_full=False,
    multi_refill_list=False,
    refill_id_as_string=True,
    status_has_currency=False,
    dripfeed=False,
    service_fields=_SHORT_FIELDS,
    services=(
        SimService(1, "Facebook views", "Default", "Facebook", Decimal("2.5"), 200, 10000, refill=True),
        SimService(2, "Facebook likes", "Default", "Facebook", Decimal("10.8"), 50, 5000),
    ),
    balance=Decimal("343423"),
    first_order_id=99999,
)

# subpro.vn publishes the very page shopvn.pro does (seeds 001 and 003).
SUBPRO = replace(SHOPVN, name="subpro")

SMM68 = Profile(
    name="68smm",
    encodings=frozenset({"form"}),
    reads_query=True,
    garbage_on_bad_body=False,
    numbers_as_strings=True,
    language="en",
    currency="USD",
    money_places=5,
    actions=ALL_ACTIONS - {"addBulk", "orders"},
    multi_status_entries_full=True,
    multi_refill_list=True,
    refill_id_as_string=True,
    status_has_currency=True,
    dripfeed=True,
    service_fields=_SHORT_FIELDS + ("cancel",),
    services=(
        SimService(1, "Followers", "Default", "First Category", Decimal("0.90"), 50, 10000, refill=True, cancel=True),
        SimService(2, "Comments", "Custom Comments", "Second Category", Decimal("8"), 10, 1500, cancel=True),
        SimService(3, "Likes", "Default", "First Category", Decimal("0.5"), 10, 50000),
    ),
    balance=Decimal("100.84292"),
    first_order_id=23501,
)

STANDARD = Profile(
    name="standard",
    encodings=frozenset({"form", "json"}),
    reads_query=True,
    garbage_on_bad_body=False,
    numbers_as_strings=True,
    language="en",
    currency="USD",
    money_places=5,
    actions=ALL_ACTIONS,
    multi_status_entries_full=True,
    multi_refill_list=True,
    refill_id_as_string=True,
    status_has_currency=True,
    dripfeed=True,
    service_fields=_SHORT_FIELDS + ("cancel", "dripfeed"),
    services=(
        SimService(1, "Followers", "Default", "Instagram", Decimal("0.90"), 50, 10000, True, True, True),
        SimService(2, "Custom Comments", "Custom Comments", "Instagram", Decimal("8"), 10, 1500, cancel=True),
        SimService(3, "Story Package", "Package", "Instagram", Decimal("5"), 1, 1),
        SimService(4, "Mentions list", "Mentions Custom List", "Instagram", Decimal("3"), 10, 1000),
        SimService(5, "Views", "Default", "TikTok", Decimal("0.01"), 100, 1000000, dripfeed=True),
    ),
    balance=Decimal("1000"),
    first_order_id=1,
)

PROFILES: Mapping[str, Profile] = {p.name: p for p in (LIKE3S, SHOPVN, BAOSTAR, SUBPRO, SMM68, STANDARD)}
