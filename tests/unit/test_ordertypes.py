"""``build_order`` for every service type, and the request-field parsers
(spec sections 1 and 3)."""

from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.domain import fields as f
from smmpanel.domain.errors import (
    BadLink,
    InvalidField,
    InvalidIdList,
    MissingAddFields,
    QuantityTooHigh,
    QuantityTooLow,
)
from smmpanel.domain.ordertypes import (
    DEFAULT_SUBSCRIPTION_POSTS,
    SUBSCRIPTION_DELAYS,
    ServiceTerms,
    ServiceType,
    Units,
    TYPE_SPECS,
    build_order,
    check_link,
)

LINK = "https://instagram.com/p/abc123"
RATE = 1_234_567  # 1.234567 per 1000 units (flat types: per order)


def terms(type_: ServiceType, *, min_: int = 1, max_: int = 1000, dripfeed: bool = False, rate: int = RATE,
          posts: int = DEFAULT_SUBSCRIPTION_POSTS) -> ServiceTerms:
    return ServiceTerms(id=7, type=type_, rate_micros=rate, min=min_, max=max_, dripfeed=dripfeed,
                        subscription_posts=posts)


def per_1000(rate: int, units: int) -> int:
    return int((Decimal(rate) * units / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# A complete, valid `add` for each type, and what it must cost: (params, units).
VALID: dict[ServiceType, tuple[dict, int]] = {
    ServiceType.DEFAULT: ({"link": LINK, "quantity": "100"}, 100),
    ServiceType.PACKAGE: ({"link": LINK}, 1),
    ServiceType.SEO: ({"link": LINK, "quantity": 50, "keywords": "buy likes"}, 50),
    ServiceType.CUSTOM_COMMENTS: ({"link": LINK, "comments": "nice\r\n\r\ngreat\nwow\n"}, 3),
    ServiceType.CUSTOM_COMMENTS_PACKAGE: ({"link": LINK, "comments": "a\nb"}, 1),
    ServiceType.MENTIONS: ({"link": LINK, "quantity": "20", "usernames": "alice\nbob"}, 20),
    ServiceType.MENTIONS_WITH_HASHTAGS: (
        {"link": LINK, "quantity": "30", "usernames": "alice\nbob", "hashtags": "#one #two"}, 30),
    ServiceType.MENTIONS_CUSTOM_LIST: ({"link": LINK, "usernames": "\n".join(f"user{i}" for i in range(12))}, 12),
    ServiceType.MENTIONS_HASHTAG: ({"link": LINK, "quantity": "40", "hashtag": "#sale"}, 40),
    ServiceType.MENTIONS_USER_FOLLOWERS: ({"link": LINK, "quantity": "50", "username": "celebrity"}, 50),
    ServiceType.MENTIONS_MEDIA_LIKERS: ({"link": LINK, "quantity": "60", "media": "https://instagram.com/p/x"}, 60),
    ServiceType.COMMENT_LIKES: ({"link": LINK, "quantity": "70", "username": "commenter"}, 70),
    ServiceType.COMMENT_REPLIES: ({"link": LINK, "username": "commenter", "comments": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk"},
                                  11),
    ServiceType.POLL: ({"link": LINK, "quantity": "80", "answer_number": "2"}, 80),
    ServiceType.INVITES_FROM_GROUPS: ({"link": LINK, "quantity": "90", "groups": "group1"}, 90),
    ServiceType.SUBSCRIPTIONS: ({"username": "someone", "min": "10", "max": "100"}, 100 * DEFAULT_SUBSCRIPTION_POSTS),
}

# The parameters without which each type must refuse (besides `service`).
REQUIRED: dict[ServiceType, list[str]] = {
    ServiceType.DEFAULT: ["link", "quantity"],
    ServiceType.PACKAGE: ["link"],
    ServiceType.SEO: ["link", "quantity", "keywords"],
    ServiceType.CUSTOM_COMMENTS: ["link", "comments"],
    ServiceType.CUSTOM_COMMENTS_PACKAGE: ["link", "comments"],
    ServiceType.MENTIONS: ["link", "quantity", "usernames"],
    ServiceType.MENTIONS_WITH_HASHTAGS: ["link", "quantity", "usernames", "hashtags"],
    ServiceType.MENTIONS_CUSTOM_LIST: ["link", "usernames"],
    ServiceType.MENTIONS_HASHTAG: ["link", "quantity", "hashtag"],
    ServiceType.MENTIONS_USER_FOLLOWERS: ["link", "quantity", "username"],
    ServiceType.MENTIONS_MEDIA_LIKERS: ["link", "quantity", "media"],
    ServiceType.COMMENT_LIKES: ["link", "quantity", "username"],
    ServiceType.COMMENT_REPLIES: ["link", "username", "comments"],
    ServiceType.POLL: ["link", "quantity", "answer_number"],
    ServiceType.INVITES_FROM_GROUPS: ["link", "quantity", "groups"],
    ServiceType.SUBSCRIPTIONS: ["username", "min", "max"],
}

FLAT = {ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE}


def test_every_service_type_is_covered():
    assert set(VALID) == set(ServiceType) == set(REQUIRED) == set(TYPE_SPECS)


@pytest.mark.parametrize("type_", list(ServiceType), ids=lambda t: t.value)
def test_valid_order_is_priced_by_its_units(type_):
    params, units = VALID[type_]
    draft = build_order(terms(type_), params)
    assert draft.units == units
    assert draft.service_id == 7 and draft.type is type_
    expected = RATE if type_ in FLAT else per_1000(RATE, units)
    assert draft.charge_micros == expected
    assert draft.runs is None and draft.interval is None
    if type_ is ServiceType.SUBSCRIPTIONS:
        assert draft.link == ""
    else:
        assert draft.link == LINK


@pytest.mark.parametrize(
    "type_,name", [(t, n) for t, names in REQUIRED.items() for n in names], ids=lambda v: getattr(v, "value", v)
)
@pytest.mark.parametrize("absent", ["missing", "empty", "blank"])
def test_each_required_parameter_is_required(type_, name, absent):
    params = dict(VALID[type_][0])
    if absent == "missing":
        del params[name]
    else:
        params[name] = "" if absent == "empty" else "   "
    with pytest.raises((MissingAddFields, InvalidField)) as info:
        build_order(terms(type_), params)
    if name in ("link", "quantity"):
        # The classic message clients pattern-match: "Missing required fields: service, link, quantity"
        assert isinstance(info.value, MissingAddFields)
    else:
        assert isinstance(info.value, InvalidField)
        assert info.value.params == {"field": name, "rule": "required"}


def test_type_specific_values_are_kept_with_the_order():
    draft = build_order(terms(ServiceType.MENTIONS_WITH_HASHTAGS), VALID[ServiceType.MENTIONS_WITH_HASHTAGS][0])
    assert draft.params == {"usernames": "alice\nbob", "hashtags": "#one #two"}
    draft = build_order(terms(ServiceType.CUSTOM_COMMENTS), VALID[ServiceType.CUSTOM_COMMENTS][0])
    assert draft.params == {"comments": "nice\ngreat\nwow"}
    draft = build_order(terms(ServiceType.DEFAULT), {"link": LINK, "quantity": 100, "minutes": "30",
                                                      "comments": "x\ny"})
    assert draft.params == {"minutes": 30, "comments": "x\ny"}


def test_comments_as_a_json_array_count_one_per_entry():
    draft = build_order(terms(ServiceType.CUSTOM_COMMENTS, min_=1), {"link": LINK, "comments": ["a", "", "b", "c"]})
    assert draft.units == 3


# ------------------------------------------------------------ min / max


@pytest.mark.parametrize("type_", [t for t, spec in TYPE_SPECS.items() if spec.units is Units.QUANTITY],
                         ids=lambda t: t.value)
@given(quantity=st.integers(min_value=0, max_value=5000))
def test_quantity_must_lie_within_min_and_max(type_, quantity):
    params = {**VALID[type_][0], "quantity": quantity}
    t = terms(type_, min_=10, max_=1000)
    if quantity < 10:
        with pytest.raises(QuantityTooLow) as info:
            build_order(t, params)
        assert info.value.params == {"min": 10}
    elif quantity > 1000:
        with pytest.raises(QuantityTooHigh) as info:
            build_order(t, params)
        assert info.value.params == {"max": 1000}
    else:
        draft = build_order(t, params)
        assert draft.units == draft.quantity == quantity
        assert draft.charge_micros == per_1000(RATE, quantity)


@pytest.mark.parametrize("type_,field", [(ServiceType.CUSTOM_COMMENTS, "comments"),
                                         (ServiceType.MENTIONS_CUSTOM_LIST, "usernames"),
                                         (ServiceType.COMMENT_REPLIES, "comments")], ids=str)
@given(count=st.integers(min_value=1, max_value=30))
def test_line_counted_types_check_the_count_against_min_and_max(type_, field, count):
    params = {**VALID[type_][0], field: "\n".join(f"line {i}" for i in range(count))}
    t = terms(type_, min_=5, max_=20)
    if count < 5:
        with pytest.raises(QuantityTooLow):
            build_order(t, params)
    elif count > 20:
        with pytest.raises(QuantityTooHigh):
            build_order(t, params)
    else:
        assert build_order(t, params).units == count


def test_flat_types_ignore_quantity_and_min():
    draft = build_order(terms(ServiceType.PACKAGE, min_=100, max_=200), {"link": LINK, "quantity": "5"})
    assert draft.units == 1 and draft.charge_micros == RATE


@pytest.mark.parametrize("bad", ["12abc", 1.5, -3, "-3", "1.0", True, "1e3", [], "  ", "١٢"])
def test_quantity_of_the_wrong_type_is_refused_naming_the_field(bad):
    with pytest.raises((InvalidField, MissingAddFields)) as info:
        build_order(terms(ServiceType.DEFAULT), {"link": LINK, "quantity": bad})
    if isinstance(info.value, InvalidField):
        assert info.value.params["field"] == "quantity"


# ------------------------------------------------------------- drip-feed


@given(quantity=st.integers(10, 1000), runs=st.integers(2, 1000), interval=st.integers(1, 1440))
def test_dripfeed_charges_quantity_times_runs(quantity, runs, interval):
    draft = build_order(terms(ServiceType.DEFAULT, dripfeed=True),
                        {"link": LINK, "quantity": str(quantity), "runs": runs, "interval": str(interval)})
    assert (draft.quantity, draft.runs, draft.interval) == (quantity, runs, interval)
    assert draft.units == quantity * runs
    assert draft.charge_micros == per_1000(RATE, quantity * runs)


def test_dripfeed_min_max_apply_per_run_not_to_the_total():
    draft = build_order(terms(ServiceType.DEFAULT, max_=1000, dripfeed=True),
                        {"link": LINK, "quantity": 1000, "runs": 5, "interval": 10})
    assert draft.units == 5000
    with pytest.raises(QuantityTooHigh):
        build_order(terms(ServiceType.DEFAULT, max_=1000, dripfeed=True),
                    {"link": LINK, "quantity": 1001, "runs": 2, "interval": 10})
    with pytest.raises(QuantityTooLow):
        build_order(terms(ServiceType.DEFAULT, min_=10, dripfeed=True),
                    {"link": LINK, "quantity": 9, "runs": 100, "interval": 10})


@pytest.mark.parametrize("runs,interval,field", [
    (1, 10, "runs"), (0, 10, "runs"), (1001, 10, "runs"), ("2.5", 10, "runs"), (-2, 10, "runs"),
    (2, 0, "interval"), (2, 1441, "interval"), (2, "abc", "interval"),
    (2, None, "interval"), (None, 10, "runs"),
])
def test_bad_dripfeed_values_are_refused_naming_the_field(runs, interval, field):
    params = {"link": LINK, "quantity": 100}
    if runs is not None:
        params["runs"] = runs
    if interval is not None:
        params["interval"] = interval
    with pytest.raises(InvalidField) as info:
        build_order(terms(ServiceType.DEFAULT, dripfeed=True), params)
    assert info.value.params["field"] == field


@pytest.mark.parametrize("runs,interval", [(2, 1), (1000, 1440)])
def test_dripfeed_bounds_are_inclusive(runs, interval):
    draft = build_order(terms(ServiceType.DEFAULT, dripfeed=True),
                        {"link": LINK, "quantity": 10, "runs": runs, "interval": interval})
    assert draft.runs == runs and draft.interval == interval


@pytest.mark.parametrize("params", [{"runs": 2, "interval": 10}, {"runs": 2}, {"interval": 10}])
def test_dripfeed_needs_the_service_flag(params):
    with pytest.raises(InvalidField) as info:
        build_order(terms(ServiceType.DEFAULT, dripfeed=False), {"link": LINK, "quantity": 100, **params})
    assert info.value.params == {"field": "runs", "rule": "dripfeed_unavailable"}


@pytest.mark.parametrize("type_", [t for t in ServiceType if TYPE_SPECS[t].units is not Units.QUANTITY],
                         ids=lambda t: t.value)
def test_dripfeed_is_refused_for_types_not_charged_per_quantity(type_):
    with pytest.raises(InvalidField) as info:
        build_order(terms(type_, dripfeed=True), {**VALID[type_][0], "runs": 2, "interval": 10})
    assert info.value.params["rule"] == "dripfeed_unavailable"


def test_empty_runs_and_interval_mean_no_dripfeed():
    draft = build_order(terms(ServiceType.DEFAULT), {"link": LINK, "quantity": 100, "runs": "", "interval": ""})
    assert draft.runs is None and draft.units == 100


# --------------------------------------------------------- subscriptions


@given(lo=st.integers(10, 1000), hi=st.integers(10, 1000), posts=st.none() | st.integers(1, 10),
       delay=st.sampled_from(sorted(SUBSCRIPTION_DELAYS)))
def test_subscription_reserves_max_times_posts(lo, hi, posts, delay):
    params = {"username": "someone", "min": lo, "max": str(hi), "delay": str(delay)}
    if posts is not None:
        params["posts"] = posts
    t = terms(ServiceType.SUBSCRIPTIONS, posts=10)
    if lo > hi:
        with pytest.raises(InvalidField) as info:
            build_order(t, params)
        assert info.value.params["field"] == "min"
        return
    draft = build_order(t, params)
    expected_posts = 10 if posts is None else posts
    assert draft.units == hi * expected_posts
    assert draft.quantity == hi
    assert draft.charge_micros == per_1000(RATE, hi * expected_posts)
    assert draft.params["delay"] == delay
    assert draft.params["min"] == lo and draft.params["max"] == hi
    assert draft.params["username"] == "someone"


def test_subscription_posts_default_comes_from_the_service():
    draft = build_order(terms(ServiceType.SUBSCRIPTIONS, posts=3), {"username": "u", "min": 10, "max": 20})
    assert draft.units == 60
    assert draft.params["delay"] == 0


def test_subscription_posts_above_the_service_cap_are_refused():
    with pytest.raises(InvalidField) as info:
        build_order(terms(ServiceType.SUBSCRIPTIONS, posts=3), {"username": "u", "min": 10, "max": 20, "posts": 4})
    assert info.value.params["field"] == "posts"


@given(delay=st.integers(0, 1000))
def test_subscription_delay_must_be_one_of_the_listed_values(delay):
    params = {"username": "u", "min": 10, "max": 20, "delay": delay}
    if delay in SUBSCRIPTION_DELAYS:
        assert build_order(terms(ServiceType.SUBSCRIPTIONS), params).params["delay"] == delay
    else:
        with pytest.raises(InvalidField) as info:
            build_order(terms(ServiceType.SUBSCRIPTIONS), params)
        assert info.value.params["field"] == "delay" and info.value.params["rule"] == "one_of"


@pytest.mark.parametrize("expiry,ok", [
    ("31/12/2030", True), ("01/02/2031", True), ("1/2/2031", True), ("29/02/2028", True),
    ("29/02/2027", False), ("31/02/2030", False), ("2030-12-31", False), ("12/31/2030", False),
    ("31/12/30", False), ("tomorrow", False), ("31/12/2030 10:00", False),
])
def test_subscription_expiry_is_a_d_m_y_date(expiry, ok):
    params = {"username": "u", "min": 10, "max": 20, "expiry": expiry}
    if ok:
        assert build_order(terms(ServiceType.SUBSCRIPTIONS), params).params["expiry"] == expiry
    else:
        with pytest.raises(InvalidField) as info:
            build_order(terms(ServiceType.SUBSCRIPTIONS), params)
        assert info.value.params == {"field": "expiry", "rule": "date_dmy"}


def test_subscription_min_and_max_each_respect_the_service_range():
    with pytest.raises(QuantityTooLow):
        build_order(terms(ServiceType.SUBSCRIPTIONS, min_=10), {"username": "u", "min": 5, "max": 20})
    with pytest.raises(QuantityTooHigh):
        build_order(terms(ServiceType.SUBSCRIPTIONS, max_=1000), {"username": "u", "min": 10, "max": 1001})


def test_subscription_needs_no_link_and_old_posts_is_bounded():
    draft = build_order(terms(ServiceType.SUBSCRIPTIONS, posts=5),
                        {"username": "u", "min": 10, "max": 20, "old_posts": "5"})
    assert draft.link == "" and draft.params["old_posts"] == 5
    with pytest.raises(InvalidField) as info:
        build_order(terms(ServiceType.SUBSCRIPTIONS, posts=5), {"username": "u", "min": 10, "max": 20, "old_posts": 6})
    assert info.value.params["field"] == "old_posts"


# ------------------------------------------------------------------ links

GOOD_LINKS = [
    "https://instagram.com/p/abc123",
    "http://example.com",
    "HTTPS://EXAMPLE.COM/Path?x=1&y=2#frag",
    "https://www.facebook.com/groups/123/permalink/456/",
    "https://t.me/channel",
    "https://xn--80ak6aa92e.com/",
    "https://vi.wikipedia.org/wiki/Tiếng_Việt",
    "@user.name",
    "user_name-01",
    "Tiếng",
    "a" * 100,
    "https://example.com/" + "x" * 2000,
]

BAD_LINKS = [
    "", "   ", "ftp://example.com/file", "https://", "https://localhost", "javascript:alert(1)",
    "https://example.com/a b", "https://exa mple.com", "a\tb", "user\nname", "x\x00y", "https://example.com/\x7f",
    "https://example.com/\x1b[31m", "https://example.com/\x9b31m", "https://example.com/a\x85b",
    "https://example.com/a\u2028b", "a" * 101, "https://example.com/" + "x" * 2040, "<script>", "user name",
    "http:/example.com", "example.com/path", None, 123, True, ["", "a b"], {"u": 1},
]


@pytest.mark.parametrize("link", GOOD_LINKS, ids=lambda s: s[:40])
def test_good_links_are_kept_as_given(link):
    assert check_link(link) == link
    assert build_order(terms(ServiceType.DEFAULT), {"link": link, "quantity": 100}).link == link


@pytest.mark.parametrize("link", BAD_LINKS, ids=lambda s: repr(s)[:40])
def test_bad_links_are_refused(link):
    with pytest.raises((BadLink, MissingAddFields)):
        build_order(terms(ServiceType.DEFAULT), {"link": link, "quantity": 100})
    if isinstance(link, str) and link.strip():
        with pytest.raises(BadLink):
            check_link(link)


def test_surrounding_whitespace_is_trimmed_and_the_last_repeated_value_wins():
    assert check_link("  https://example.com/p \n") == "https://example.com/p"
    assert check_link(["https://a.com/1", "https://b.com/2"]) == "https://b.com/2"


@given(st.characters(codec="utf-8").filter(lambda c: unicodedata.category(c) == "Cc" or c.isspace()))
def test_no_control_character_or_whitespace_inside_a_link(ch):
    for link in (f"https://example.com/a{ch}b", f"user{ch}name"):
        with pytest.raises(BadLink):
            check_link(link)


@given(st.text(min_size=1, max_size=60))
def test_an_accepted_link_is_an_http_url_or_a_handle_without_controls(text):
    try:
        link = check_link(text)
    except BadLink:
        return
    assert link == text.strip()
    assert not any(unicodedata.category(c) == "Cc" or c.isspace() for c in link)
    assert link.lower().startswith(("http://", "https://")) or len(link.lstrip("@")) <= 100


# ------------------------------------------------ request field parsers (spec 1)


@pytest.mark.parametrize("raw,value", [
    (101, 101), ("101", 101), (" 101 ", 101), ("0", 0), (0, 0), ("007", 7), (["5", "9"], 9),
    ("999999999999999999", 999_999_999_999_999_999),
])
def test_parse_int_accepts_json_numbers_and_digit_strings(raw, value):
    assert f.parse_int(raw, "quantity") == value


@pytest.mark.parametrize("raw", [
    "12abc", 1.5, 1.0, -3, "-3", "+3", "1e3", "0x10", "1_000", "1,000", "", " ", None, True, False, "true",
    "١٢", "1.5", [], {}, "1234567890123456789",
])
def test_parse_int_rejects_everything_else_naming_the_field(raw):
    with pytest.raises(InvalidField) as info:
        f.parse_int(raw, "quantity")
    assert info.value.params["field"] == "quantity"


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_parse_int_round_trips_numbers_and_strings(n):
    assert f.parse_int(n, "x") == n
    assert f.parse_int(str(n), "x") == n


@given(st.integers(max_value=-1))
def test_parse_int_rejects_negatives(n):
    with pytest.raises(InvalidField):
        f.parse_int(n, "x")
    with pytest.raises(InvalidField):
        f.parse_int(str(n), "x")


def test_parse_int_bounds_name_the_rule():
    with pytest.raises(InvalidField) as info:
        f.parse_int("1", "runs", lo=2, hi=10)
    assert info.value.params == {"field": "runs", "rule": "range", "min": 2, "max": 10}
    with pytest.raises(InvalidField) as info:
        f.parse_int("1", "runs", lo=2)
    assert info.value.params == {"field": "runs", "rule": "at_least", "min": 2}
    with pytest.raises(InvalidField) as info:
        f.parse_int("11", "runs", hi=10)
    assert info.value.params == {"field": "runs", "rule": "at_most", "max": 10}


@pytest.mark.parametrize("raw,value", [
    (True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False), ("true", True),
    ("false", False), (" true ", True), ("TRUE", True), ("False", False), (["0", "1"], True),
])
def test_parse_flag_accepts(raw, value):
    assert f.parse_flag(raw, "refill") is value


@pytest.mark.parametrize("raw", [2, -1, 1.0, 0.0, "2", "yes", "no", "on", "off", "t", "", None, "1.0", [], {}])
def test_parse_flag_rejects(raw):
    with pytest.raises(InvalidField) as info:
        f.parse_flag(raw, "refill")
    assert info.value.params == {"field": "refill", "rule": "flag"}


@pytest.mark.parametrize("raw,ids", [
    ("1,2,3", [1, 2, 3]),
    ("1, 2 ,3", [1, 2, 3]),
    ("1\n2\r\n3", [1, 2, 3]),
    ("3,1,3,1", [3, 1]),
    ([1, 2, 3], [1, 2, 3]),
    (["1", "2"], [1, 2]),
    (["1,2", "3"], [1, 2, 3]),
    (42, [42]),
    ("42", [42]),
    ("1,,2,", [1, 2]),
])
def test_parse_id_list_accepts(raw, ids):
    assert [v for _, v in f.parse_id_list(raw, "orders")] == ids


def test_parse_id_list_keeps_each_id_as_sent_for_keying_replies():
    assert f.parse_id_list("007,7,8", "orders") == [("007", 7), ("7", 7), ("8", 8)]


@pytest.mark.parametrize("raw", [
    "", " ", ",", "1,a", "1;2", "1 2", "1.5", "-1", "1,-2", [1.5], [True], [None], ["x"], "0x1", None, [],
    [[1, 2]], "1e3",
])
def test_parse_id_list_rejects_with_the_format_error(raw):
    with pytest.raises(InvalidIdList) as info:
        f.parse_id_list(raw, "orders")
    assert info.value.params == {"field": "orders"}


def test_parse_id_list_refuses_more_than_100_ids_instead_of_cutting():
    assert len(f.parse_id_list(",".join(str(i) for i in range(1, 101)), "orders")) == 100
    with pytest.raises(InvalidField) as info:
        f.parse_id_list(",".join(str(i) for i in range(1, 102)), "orders")
    assert info.value.params == {"field": "orders", "rule": "too_many", "max": 100}
    with pytest.raises(InvalidField):
        f.parse_id_list(list(range(1, 102)), "refills")


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=100))
def test_parse_id_list_answers_each_distinct_id_once_in_order(ids):
    got = [v for _, v in f.parse_id_list(",".join(map(str, ids)), "orders")]
    assert got == list(dict.fromkeys(ids))
    assert [v for _, v in f.parse_id_list(ids, "orders")] == got


@pytest.mark.parametrize("raw", ["a\x00b", "a\x1bb", "a\x7fb", "a\x9bb"])
def test_text_fields_refuse_control_characters(raw):
    with pytest.raises(InvalidField) as info:
        f.parse_text(raw, "username")
    assert info.value.params == {"field": "username", "rule": "control_chars"}


def test_single_line_text_refuses_newlines_and_long_text():
    with pytest.raises(InvalidField):
        build_order(terms(ServiceType.COMMENT_LIKES), {"link": LINK, "quantity": 100, "username": "a\nb"})
    with pytest.raises(InvalidField) as info:
        build_order(terms(ServiceType.SEO), {"link": LINK, "quantity": 100, "keywords": "k" * 501})
    assert info.value.params["rule"] == "too_long"
