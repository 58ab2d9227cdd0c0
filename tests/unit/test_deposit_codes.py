"""Deposit codes and finding them in what banks deliver; dong to panel money."""

from decimal import Decimal
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.domain.banktransfer import (
    CODE_ALPHABET,
    CODE_LENGTH,
    BankTerms,
    candidate_codes,
    new_code,
    normalise,
)
from smmpanel.domain.errors import InvalidField
from smmpanel.domain.vietqr import parse

codes = st.text(alphabet=CODE_ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)


def test_codes_use_only_unambiguous_characters():
    assert not set("01OIL") & set(CODE_ALPHABET)
    ticks = count()
    drawn = {new_code(lambda n: next(ticks) % n) for _ in range(50)}
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in drawn)
    assert len({new_code() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "content",
    [
        "SMMK7QX2M",
        "smmk7qx2m",
        "SMM K7QX2M",
        "S.M.M-K7Q X2M",
        "MBVCB.3278907687.SMMK7QX2M.CT tu 0123456789 NGUYEN VAN A toi 9999",
        "IBFT SMMK7QX2M chuyen tien nap tai khoan",
        "Nguyễn Văn A chuyển tiền SMM k7qx2m",
        "SMMK7QX2MNAPTIEN",  # the bank removed the space after the code
    ],
)
def test_the_code_is_found_despite_what_banks_do(content):
    assert "K7QX2M" in candidate_codes(content, "SMM")


def test_no_code_or_a_broken_code_is_not_found():
    assert candidate_codes("chuyen tien mua iphone", "SMM") == []
    assert candidate_codes("SMMK7QX", "SMM") == []  # too short: a code is never guessed from a part
    assert candidate_codes("SMMK7QX0M", "SMM") == []  # 0 is not in the alphabet
    assert candidate_codes(None, "SMM") == []


@given(codes, codes)
def test_no_code_ever_takes_another_codes_money(a, b):
    """Fixed length: the candidates in one customer's content are that
    customer's code and never another code unless it is written there too."""
    found = candidate_codes(f"CT SMM{a} nap tien", "SMM")
    assert a in found
    if b != a and f"SMM{b}" not in normalise(f"CT SMM{a} nap tien"):
        assert b not in found


def test_normalise_drops_diacritics_case_and_punctuation():
    assert normalise("Đỗ Thị Hà - SMM.k7qx2m!") == "DOTHIHASMMK7QX2M"


def _terms(**kw):
    return BankTerms(bin="970415", account="0011001932418", account_name="CONG TY SMM", **kw)


def test_conversion_follows_the_ledgers_rounding_rule():
    usd = _terms(vnd_rate=Decimal("0.0000393"))
    # 12,345 x 0.0000393 = 0.4851585 USD: half up to the micro-unit, once.
    assert usd.credit_micros(12_345) == 485_159
    assert _terms(vnd_rate=Decimal("0.00004")).credit_micros(50_000) == 2_000_000
    assert _terms().credit_micros(50_000) == 50_000_000_000  # a VND panel: dong for dong


def test_a_quote_carries_the_qr_for_the_exact_amount_and_content():
    terms = _terms(prefix="SMM", min_vnd=20_000, vnd_rate=Decimal("0.00004"))
    quote = terms.quote("K7QX2M", 75_000)
    assert (quote.content, quote.amount_vnd, quote.credit_micros) == ("SMMK7QX2M", 75_000, 3_000_000)
    assert quote.bank == "VietinBank (BIN 970415)"
    fields = parse(quote.qr_payload)
    assert fields["54"] == "75000" and fields["62"] == "0809SMMK7QX2M"
    assert "0006970415011300110019324180208QRIBFTTA" in fields["38"]
    for bad, rule in ((19_999, "at_least"), (0, "positive"), ("75000", "integer"), (10**11, "at_most")):
        with pytest.raises(InvalidField) as refused:
            terms.quote("K7QX2M", bad)
        assert refused.value.params["rule"] == rule
