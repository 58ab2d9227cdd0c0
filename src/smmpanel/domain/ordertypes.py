"""Order types (spec section 3): what ``add`` takes for each, and what it costs.

``build_order`` turns the raw parameters of an ``add`` call into an
``OrderDraft`` or raises the error a customer should see. It is pure: the
service it validates against is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Mapping

from . import fields as f
from .errors import (
    BadLink,
    InvalidField,
    MissingAddFields,
    QuantityTooHigh,
    QuantityTooLow,
)
from .money import MAX_AMOUNT_MICROS, plain
from .pricing import charge_micros

MAX_LINK_CHARS = 2048
MAX_RUNS = 1000
# What one order may count and cost. Checked before any debit: beyond these a
# number is a typo or an attack, and would overflow the databases' 64-bit
# columns (a charge of rate 30000 x 10^12 units) inside a shared commit.
MAX_ORDER_UNITS = 10**15
MAX_ORDER_CHARGE_MICROS = MAX_AMOUNT_MICROS
INTERVAL_MINUTES = (1, 1440)
SUBSCRIPTION_DELAYS = frozenset({0, 5, 10, 15, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420, 480, 540, 600})
DEFAULT_SUBSCRIPTION_POSTS = 10

_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)
_HANDLE = re.compile(r"@?[\w.\-]{1,100}")


class ServiceType(str, Enum):
    DEFAULT = "Default"
    PACKAGE = "Package"
    SEO = "SEO"
    CUSTOM_COMMENTS = "Custom Comments"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    COMMENT_LIKES = "Comment Likes"
    COMMENT_REPLIES = "Comment Replies"
    POLL = "Poll"
    INVITES_FROM_GROUPS = "Invites from Groups"
    SUBSCRIPTIONS = "Subscriptions"

    @classmethod
    def parse(cls, text: str) -> "ServiceType":
        for member in cls:
            if member.value.lower() == text.strip().lower():
                return member
        raise InvalidField("type", "one_of", allowed=", ".join(m.value for m in cls))


class Units(Enum):
    QUANTITY = "quantity"  # charged per unit of `quantity`
    FLAT = "flat"  # the rate is the price of one package
    LINES = "lines"  # charged per non-empty line of a text field
    SUBSCRIPTION = "subscription"  # max x posts, reserved up front


@dataclass(frozen=True)
class TypeSpec:
    units: Units
    needs_link: bool = True
    texts: tuple[str, ...] = ()  # required single-line fields
    lines_field: str | None = None  # the multi-line field that is counted or required
    optional: tuple[str, ...] = ()  # kept when given


_DEFAULT_OPTIONAL = ("comments", "minutes", "list", "suggest", "search")
# Required texts that are lists, one entry per line (\n or \r\n), not counted.
LIST_TEXTS = frozenset({"hashtags", "groups"})

TYPE_SPECS: dict[ServiceType, TypeSpec] = {
    ServiceType.DEFAULT: TypeSpec(Units.QUANTITY, optional=_DEFAULT_OPTIONAL),
    ServiceType.PACKAGE: TypeSpec(Units.FLAT),
    ServiceType.SEO: TypeSpec(Units.QUANTITY, texts=("keywords",)),
    ServiceType.CUSTOM_COMMENTS: TypeSpec(Units.LINES, lines_field="comments"),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: TypeSpec(Units.FLAT, lines_field="comments"),
    ServiceType.MENTIONS: TypeSpec(Units.QUANTITY, lines_field="usernames"),
    ServiceType.MENTIONS_WITH_HASHTAGS: TypeSpec(Units.QUANTITY, lines_field="usernames", texts=("hashtags",)),
    ServiceType.MENTIONS_CUSTOM_LIST: TypeSpec(Units.LINES, lines_field="usernames"),
    ServiceType.MENTIONS_HASHTAG: TypeSpec(Units.QUANTITY, texts=("hashtag",)),
    ServiceType.MENTIONS_USER_FOLLOWERS: TypeSpec(Units.QUANTITY, texts=("username",)),
    ServiceType.MENTIONS_MEDIA_LIKERS: TypeSpec(Units.QUANTITY, texts=("media",)),
    ServiceType.COMMENT_LIKES: TypeSpec(Units.QUANTITY, texts=("username",)),
    ServiceType.COMMENT_REPLIES: TypeSpec(Units.LINES, lines_field="comments", texts=("username",)),
    ServiceType.POLL: TypeSpec(Units.QUANTITY, texts=("answer_number",)),
    ServiceType.INVITES_FROM_GROUPS: TypeSpec(Units.QUANTITY, texts=("groups",)),
    ServiceType.SUBSCRIPTIONS: TypeSpec(Units.SUBSCRIPTION, needs_link=False, texts=("username",)),
}


@dataclass(frozen=True)
class ServiceTerms:
    """What validation needs to know of a service, as this customer sees it."""

    id: int
    type: ServiceType
    rate_micros: int  # per 1000 units (flat types: per order), custom rate applied
    min: int
    max: int
    dripfeed: bool
    subscription_posts: int = DEFAULT_SUBSCRIPTION_POSTS


@dataclass(frozen=True)
class OrderDraft:
    service_id: int
    type: ServiceType
    link: str
    quantity: int  # per run; for LINES the line count; for FLAT 1
    runs: int | None
    interval: int | None
    units: int  # what is charged for, and what `remains` counts down from
    charge_micros: int
    params: dict[str, object] = field(default_factory=dict)  # every type-specific value


def check_link(raw: object) -> str:
    text = f.first(raw)
    if not isinstance(text, str):
        raise BadLink()
    text = text.strip()
    # No whitespace check of its own: neither pattern below matches any.
    if not text or len(text) > MAX_LINK_CHARS or f.has_hidden_chars(text):
        raise BadLink()
    if _URL.fullmatch(text) or _HANDLE.fullmatch(text):
        return text
    raise BadLink()


def _present(params: Mapping[str, object], name: str) -> bool:
    value = params.get(name)
    if value is None:
        return False
    if isinstance(value, str) and not value.strip():
        return False
    if isinstance(value, list) and not value:
        return False
    return True


def _check_quantity(quantity: int, terms: ServiceTerms) -> None:
    if quantity < terms.min:
        raise QuantityTooLow(min=terms.min)
    if quantity > terms.max:
        raise QuantityTooHigh(max=terms.max)


def build_order(terms: ServiceTerms, params: Mapping[str, object]) -> OrderDraft:
    """Validate an ``add`` call against a service; price it. Raises on bad input."""
    spec = TYPE_SPECS[terms.type]
    kept: dict[str, object] = {}

    link = ""
    if spec.needs_link:
        if not _present(params, "link"):
            raise MissingAddFields()
        link = check_link(params["link"])

    for name in spec.texts:
        if not _present(params, name):
            raise InvalidField(name, "required")
        if name in LIST_TEXTS:
            items = f.parse_lines(params[name], name)
            if not items:
                raise InvalidField(name, "required")
            kept[name] = "\n".join(items)
        else:
            kept[name] = f.parse_text(params[name], name)

    lines: list[str] = []
    if spec.lines_field:
        if not _present(params, spec.lines_field):
            raise InvalidField(spec.lines_field, "required")
        lines = f.parse_lines(params[spec.lines_field], spec.lines_field)
        if not lines:
            raise InvalidField(spec.lines_field, "required")
        kept[spec.lines_field] = "\n".join(lines)

    for name in spec.optional:
        if _present(params, name):
            if name == "minutes":
                kept[name] = f.parse_int(params[name], name, lo=1, hi=100_000)
            else:
                kept[name] = f.parse_text(params[name], name, max_chars=f.MAX_TEXT_CHARS, multiline=True)

    runs = interval = None
    if spec.units is Units.QUANTITY:
        if not _present(params, "quantity"):
            raise MissingAddFields()
        quantity = f.parse_int(params["quantity"], "quantity")
        _check_quantity(quantity, terms)
        units = quantity
        if _present(params, "runs") or _present(params, "interval"):
            runs, interval = _dripfeed(terms, params)
            units = quantity * runs
    elif spec.units is Units.LINES:
        quantity = units = len(lines)
        _check_quantity(quantity, terms)
    elif spec.units is Units.FLAT:
        quantity = units = 1
    else:
        quantity, units = _subscription(terms, params, kept)

    if spec.units is not Units.QUANTITY and (_present(params, "runs") or _present(params, "interval")):
        raise InvalidField("runs", "dripfeed_unavailable")

    charge = charge_micros(terms.rate_micros, units, flat=spec.units is Units.FLAT)
    if units > MAX_ORDER_UNITS or charge > MAX_ORDER_CHARGE_MICROS:
        raise InvalidField("quantity", "order_too_large", max_units=MAX_ORDER_UNITS,
                           max_charge=plain(MAX_ORDER_CHARGE_MICROS))
    return OrderDraft(
        service_id=terms.id,
        type=terms.type,
        link=link,
        quantity=quantity,
        runs=runs,
        interval=interval,
        units=units,
        charge_micros=charge,
        params=kept,
    )


def _dripfeed(terms: ServiceTerms, params: Mapping[str, object]) -> tuple[int, int]:
    if not terms.dripfeed:
        raise InvalidField("runs", "dripfeed_unavailable")
    if not _present(params, "runs"):
        raise InvalidField("runs", "required")
    if not _present(params, "interval"):
        raise InvalidField("interval", "required")
    runs = f.parse_int(params["runs"], "runs", lo=2, hi=MAX_RUNS)
    interval = f.parse_int(params["interval"], "interval", lo=INTERVAL_MINUTES[0], hi=INTERVAL_MINUTES[1])
    return runs, interval


def _subscription(terms: ServiceTerms, params: Mapping[str, object], kept: dict[str, object]) -> tuple[int, int]:
    for name in ("min", "max"):
        if not _present(params, name):
            raise InvalidField(name, "required")
    lo = f.parse_int(params["min"], "min")
    hi = f.parse_int(params["max"], "max")
    if lo > hi:
        raise InvalidField("min", "not_above", other="max")
    _check_quantity(lo, terms)
    _check_quantity(hi, terms)
    kept["min"], kept["max"] = lo, hi
    posts = terms.subscription_posts
    if _present(params, "posts"):
        posts = f.parse_int(params["posts"], "posts", lo=1, hi=terms.subscription_posts)
        kept["posts"] = posts
    if _present(params, "old_posts"):
        kept["old_posts"] = f.parse_int(params["old_posts"], "old_posts", lo=0, hi=terms.subscription_posts)
    delay = f.parse_int(params.get("delay", 0) if _present(params, "delay") else 0, "delay")
    if delay not in SUBSCRIPTION_DELAYS:
        raise InvalidField("delay", "one_of", allowed=", ".join(str(d) for d in sorted(SUBSCRIPTION_DELAYS)))
    kept["delay"] = delay
    if _present(params, "expiry"):
        text = f.parse_text(params["expiry"], "expiry")
        try:
            datetime.strptime(text, "%d/%m/%Y")
        except ValueError:
            raise InvalidField("expiry", "date_dmy") from None
        kept["expiry"] = text
    return hi, hi * posts


def upstream_params(
    type_: ServiceType, link: str, quantity: int, runs: int | None, interval: int | None, params: dict[str, object]
) -> dict[str, object]:
    """What ``add`` sends upstream for an order: the same parameters the
    customer gave us (spec section 3), with the upstream's service id added by
    the caller. Counted and flat types send no ``quantity``: the upstream
    derives it, as we do."""
    spec = TYPE_SPECS[type_]
    out: dict[str, object] = {}
    if spec.needs_link:
        out["link"] = link
    if spec.units is Units.QUANTITY:
        out["quantity"] = quantity
        if runs:
            out["runs"] = runs
            out["interval"] = interval
    out.update(params)
    return out


SUBSCRIPTION_FIELDS = ("username", "min", "max", "posts", "old_posts", "delay", "expiry")
DRIPFEED_FIELDS = ("runs", "interval")


def form_fields(type_: ServiceType, dripfeed: bool) -> tuple[str, ...]:
    """The fields an order form shows for a service of this type, in order:
    exactly what ``build_order`` reads (Default's rarely used optional
    extras aside), drip-feed only where the service allows it."""
    spec = TYPE_SPECS[type_]
    if spec.units is Units.SUBSCRIPTION:
        return SUBSCRIPTION_FIELDS
    out: list[str] = ["link"] if spec.needs_link else []
    if spec.units is Units.QUANTITY:
        out.append("quantity")
    if spec.lines_field:
        out.append(spec.lines_field)
    out.extend(spec.texts)
    if spec.units is Units.QUANTITY and dripfeed:
        out.extend(DRIPFEED_FIELDS)
    return tuple(out)
