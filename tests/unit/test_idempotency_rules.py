"""What an idempotency key may look like, and when two requests are the same
(``domain.idempotency``)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from smmpanel.domain import fields as f
from smmpanel.domain.errors import InvalidField
from smmpanel.domain.idempotency import KEY_FIELD, MAX_KEY_CHARS, fingerprint, parse_key


def _by_the_text_rules(raw: object) -> str:
    """The general rules alone (what ``parse_key`` must agree with on every input)."""
    key = f.text_by_rules(raw, KEY_FIELD, max_chars=MAX_KEY_CHARS)
    if not key:
        raise InvalidField(KEY_FIELD, "required")
    return key


def _outcome(parse, raw: object) -> object:
    try:
        return parse(raw)
    except InvalidField as exc:
        return ("refused", exc.params)


@pytest.mark.parametrize("raw", [
    "0b6f3f6e-8f1c-4a57-9a43-3b1f0f1e2d3c", "k", "a" * MAX_KEY_CHARS, "retry #2: order/55?x=1",
    " padded ", "tab\tinside", "\ttabbed", "a" * (MAX_KEY_CHARS + 1), "", " ", "line\nbreak", "esc\x1b[2J",
    "c1\x9b", "del\x7f", "ключ-😀", "\u200bzero-width", ["first", "last"], [], 12345, True, None, 1.5, {"a": 1},
])
def test_a_key_is_taken_or_refused_as_the_text_rules_say(raw):
    assert _outcome(parse_key, raw) == _outcome(_by_the_text_rules, raw)


@given(st.one_of(st.text(max_size=300), st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7f),
                                                  max_size=300)))
def test_any_text_key_is_taken_or_refused_as_the_text_rules_say(raw):
    assert _outcome(parse_key, raw) == _outcome(_by_the_text_rules, raw)


@given(st.one_of(st.text(max_size=120), st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=120)),
       st.integers(min_value=0, max_value=100), st.booleans())
def test_any_text_field_is_taken_or_refused_as_its_rules_say(raw, max_chars, multiline):
    def by(parse):
        return lambda value: parse(value, "comments", max_chars=max_chars, multiline=multiline)
    assert _outcome(by(f.parse_text), raw) == _outcome(by(f.text_by_rules), raw)


def test_a_key_names_its_field_and_rule_when_refused():
    with pytest.raises(InvalidField) as too_long:
        parse_key("k" * (MAX_KEY_CHARS + 1))
    assert too_long.value.params == {"field": KEY_FIELD, "rule": "too_long", "max": MAX_KEY_CHARS}
    with pytest.raises(InvalidField) as blank:
        parse_key("   ")
    assert blank.value.params == {"field": KEY_FIELD, "rule": "required"}


def test_the_same_request_has_the_same_fingerprint_however_its_values_were_sent():
    form = {"key": "k1", "action": "add", "service": "1", "quantity": "1000", "link": "https://x.test/p",
            KEY_FIELD: "abc"}
    as_json = {"key": "k2", "action": "add", "service": 1, "quantity": 1000, "link": "https://x.test/p"}
    assert fingerprint("add", form) == fingerprint("add", as_json)  # credentials and the key left out
    assert fingerprint("add", form) != fingerprint("add", {**form, "quantity": "1001"})
    assert fingerprint("add", form) != fingerprint("refill", form)
