"""The API's form decoder is urllib's, pair for pair, only faster."""

from urllib.parse import parse_qsl

from hypothesis import given, strategies as st

from smmpanel.api.transport import parse_form, parse_query

# Text biased towards what a form holds: separators, escapes, plus signs, and
# broken escapes ("%", "%4", "%zz"), beside arbitrary unicode.
_FORM_TEXT = st.text(alphabet=st.sampled_from("ab=&%+2C4Fzé€ \x00;") | st.characters(), max_size=60)


@given(_FORM_TEXT)
def test_parse_form_is_parse_qsl(text):
    assert parse_form(text) == parse_qsl(text, keep_blank_values=True)


def test_fields_are_decoded_only_where_needed():
    assert parse_form("key=a+b&link=https%3A%2F%2Fx.com%2Fp%3Fids%3D10%2C20&&flag&empty=") == [
        ("key", "a b"), ("link", "https://x.com/p?ids=10,20"), ("flag", ""), ("empty", "")]


def test_repeated_fields_become_lists_and_bracketed_ones_always_do():
    into = {}
    parse_query(b"orders=1&orders=2&links[]=only&action=status", into)
    assert into == {"orders": ["1", "2"], "links": ["only"], "action": "status"}
