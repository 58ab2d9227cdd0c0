"""Pure money rules: charge, refund, the status machine, rounding, parsing.

Every expected value is computed independently (``money_oracle``'s exact
fractions, or ``decimal`` with an explicit ROUND_HALF_UP), never by calling
the code under test a second time.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smmpanel.domain.errors import InvalidField, StatusMoveRefused
from smmpanel.domain.money import (
    MAX_AMOUNT_MICROS,
    display,
    from_micros,
    parse_amount,
    plain,
    to_micros,
)
from smmpanel.domain.pricing import charge_micros
from smmpanel.domain.status import Status, decide_move, refund_micros
from money_oracle import half_up

ALL = list(Status)
FINAL = {Status.PARTIAL, Status.CANCELED}

rates = st.integers(min_value=0, max_value=10**12)  # up to 1,000,000 units per 1000
unit_counts = st.integers(min_value=1, max_value=10**7)
charges = st.integers(min_value=0, max_value=10**15)


# ------------------------------------------------------------------ charge


@given(rate=rates, units=unit_counts)
@example(rate=1, units=500)  # 0.5 micro: half rounds up
@example(rate=1, units=499)  # 0.499 micro: rounds down
@example(rate=3, units=1500)  # 4.5 micros -> 5
@example(rate=999_999, units=1)
def test_charge_is_rate_times_units_over_1000_rounded_half_up(rate, units):
    assert charge_micros(rate, units) == half_up(rate * units, 1000)


@given(rate=rates, units=unit_counts)
def test_flat_charge_is_the_rate_whatever_the_units(rate, units):
    assert charge_micros(rate, units, flat=True) == rate


@given(rate=rates, a=unit_counts, b=unit_counts)
def test_more_units_never_cost_less(rate, a, b):
    lo, hi = sorted((a, b))
    assert charge_micros(rate, lo) <= charge_micros(rate, hi)


def test_charge_examples_in_currency_terms():
    # 0.9 per 1000, 1000 units -> 0.9
    assert charge_micros(to_micros(Decimal("0.9")), 1000) == 900_000
    # 1.5 per 1000, 1 unit -> 0.0015
    assert charge_micros(to_micros(Decimal("1.5")), 1) == 1_500
    # 0.0005 per 1000 and 1 unit is 0.0000005: exactly half a micro -> 1 micro
    assert charge_micros(to_micros(Decimal("0.0005")), 1) == 1
    assert charge_micros(to_micros(Decimal("0.000499")), 1) == 0


# ------------------------------------------------------------------ refund


@given(charge=charges, units=unit_counts, remains=st.integers(min_value=-(10**8), max_value=10**8) | st.none())
def test_partial_refund_is_pro_rata_clamped_and_never_above_the_charge(charge, units, remains):
    got = refund_micros(Status.PARTIAL, charge, units, remains)
    left = min(max(remains or 0, 0), units)
    assert got == half_up(charge * left, units)
    assert 0 <= got <= charge


@given(charge=charges, units=unit_counts, remains=st.integers(min_value=-(10**6), max_value=0))
def test_over_delivery_refunds_nothing(charge, units, remains):
    assert refund_micros(Status.PARTIAL, charge, units, remains) == 0


@given(charge=charges, units=unit_counts, extra=st.integers(min_value=0, max_value=10**8))
def test_remains_at_or_above_units_refunds_exactly_the_charge(charge, units, extra):
    assert refund_micros(Status.PARTIAL, charge, units, units + extra) == charge


@given(charge=charges, units=unit_counts, a=st.integers(-100, 10**7), b=st.integers(-100, 10**7))
def test_partial_refund_grows_with_remains(charge, units, a, b):
    lo, hi = sorted((a, b))
    assert refund_micros(Status.PARTIAL, charge, units, lo) <= refund_micros(Status.PARTIAL, charge, units, hi)


@given(charge=charges, units=st.integers(0, 10**7), remains=st.integers(-10, 10**7) | st.none())
def test_cancel_refunds_everything(charge, units, remains):
    assert refund_micros(Status.CANCELED, charge, units, remains) == charge


@given(charge=charges, units=unit_counts, remains=st.integers(-10, 10**7) | st.none(),
       status=st.sampled_from([s for s in ALL if s not in FINAL]))
def test_non_final_statuses_refund_nothing(charge, units, remains, status):
    assert refund_micros(status, charge, units, remains) == 0


def test_partial_refund_examples():
    # 1.5 charged for 1000, 250 not delivered -> 0.375 back
    assert refund_micros(Status.PARTIAL, 1_500_000, 1000, 250) == 375_000
    # 1 micro charged for 3 units, 1 left: 0.333 -> 0; 2 left: 0.667 -> 1
    assert refund_micros(Status.PARTIAL, 1, 3, 1) == 0
    assert refund_micros(Status.PARTIAL, 1, 3, 2) == 1
    # exactly half a micro rounds up
    assert refund_micros(Status.PARTIAL, 1, 2, 1) == 1
    # an order of zero units (should not exist) refunds nothing rather than dividing by zero
    assert refund_micros(Status.PARTIAL, 100, 0, 5) == 0


# ----------------------------------------------------------- status machine


@given(current=st.sampled_from(ALL), new=st.sampled_from(ALL), charge=charges, units=unit_counts,
       remains=st.integers(-1000, 10**7) | st.none())
def test_status_machine_rules(current, new, charge, units, remains):
    if current in FINAL:
        if new is current:
            move = decide_move(current, new, charge=charge, units=units, remains=remains)
            assert move.changed is False and move.refund_micros == 0 and move.status is current
        else:
            with pytest.raises(StatusMoveRefused) as info:
                decide_move(current, new, charge=charge, units=units, remains=remains)
            assert info.value.params == {"current": current.value, "new": new.value}
        return
    if current is Status.COMPLETED and new not in (Status.COMPLETED, Status.PARTIAL, Status.CANCELED):
        with pytest.raises(StatusMoveRefused):
            decide_move(current, new, charge=charge, units=units, remains=remains)
        return
    move = decide_move(current, new, charge=charge, units=units, remains=remains)
    assert move.changed is True and move.status is new
    if new is Status.CANCELED:
        assert move.refund_micros == charge
    elif new is Status.PARTIAL:
        assert move.refund_micros == half_up(charge * min(max(remains or 0, 0), units), units)
    else:
        assert move.refund_micros == 0
    assert 0 <= move.refund_micros <= charge


@pytest.mark.parametrize("current", [Status.PENDING, Status.PROCESSING, Status.IN_PROGRESS])
@pytest.mark.parametrize("new", ALL)
def test_active_orders_may_move_anywhere(current, new):
    assert decide_move(current, new, charge=10, units=10, remains=5).changed


@pytest.mark.parametrize("new", [Status.PENDING, Status.PROCESSING, Status.IN_PROGRESS])
def test_completed_never_goes_back_to_work(new):
    with pytest.raises(StatusMoveRefused):
        decide_move(Status.COMPLETED, new, charge=10, units=10, remains=0)


@given(steps=st.lists(st.tuples(st.sampled_from(ALL), st.integers(-50, 150) | st.none()), max_size=30),
       charge=charges, units=st.integers(1, 100))
def test_any_sequence_of_moves_refunds_at_most_the_charge_and_at_most_once(steps, charge, units):
    """Drive the machine like the store does: a refunding move happens once,
    and a status once final never changes again."""
    status, refunds = Status.PENDING, []
    for new, remains in steps:
        try:
            move = decide_move(status, new, charge=charge, units=units, remains=remains)
        except StatusMoveRefused:
            assert status in FINAL or status is Status.COMPLETED
            continue
        if status in FINAL:
            assert not move.changed and move.status is status
        if move.changed:
            status = move.status
            if move.refund_micros:
                refunds.append(move.refund_micros)
    assert len(refunds) <= 1
    assert sum(refunds) <= charge


# ------------------------------------------------------------------- money


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False,
                   places=9))
@example(Decimal("0.0000005"))
@example(Decimal("0.0000004999"))
@example(Decimal("-0.0000005"))
@example(Decimal("1.2345675"))
def test_to_micros_rounds_half_up_to_the_micro_unit(value):
    scaled = value * 1_000_000
    expected = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert to_micros(value) == expected
    # half up means: never more than half a micro away, a tie goes away from zero
    assert abs(Decimal(expected) - scaled) <= Decimal("0.5")


def test_rounding_rule_examples():
    assert to_micros(Decimal("0.0000005")) == 1
    assert to_micros(Decimal("0.00000049999")) == 0
    assert to_micros(Decimal("2.5000015")) == 2_500_002
    assert to_micros(Decimal("-0.0000005")) == -1  # ROUND_HALF_UP: ties away from zero


@given(st.integers(min_value=-MAX_AMOUNT_MICROS, max_value=MAX_AMOUNT_MICROS))
def test_micros_round_trip_exactly(micros):
    assert to_micros(from_micros(micros)) == micros
    assert to_micros(Decimal(plain(micros))) == micros


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_MICROS))
def test_parse_amount_accepts_exact_text_int_and_decimal(micros):
    text = plain(micros)
    assert to_micros(parse_amount(text, "amount")) == micros
    assert to_micros(parse_amount(Decimal(text), "amount")) == micros
    assert to_micros(parse_amount(f"  {text} ", "amount")) == micros


@given(st.integers(min_value=0, max_value=10**11))
def test_parse_amount_accepts_ints(units):
    assert parse_amount(units, "amount") == Decimal(units)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_amount_refuses_every_float(value):
    with pytest.raises(InvalidField) as info:
        parse_amount(value, "amount")
    assert info.value.params["field"] == "amount"
    assert info.value.params["rule"] == "decimal"


@pytest.mark.parametrize("raw", [True, False, None, [1], {"a": 1}, b"1", "", "abc", "1,5", "NaN", "Infinity",
                                 "-inf", "1.5.5", "0x10"])
def test_parse_amount_refuses_non_amounts(raw):
    with pytest.raises(InvalidField) as info:
        parse_amount(raw, "rate")
    assert info.value.params["field"] == "rate"


@given(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e9"), places=6))
def test_parse_amount_refuses_negatives_unless_allowed(value):
    with pytest.raises(InvalidField) as info:
        parse_amount(-value, "amount")
    assert info.value.params["rule"] == "not_negative"
    assert parse_amount(-value, "amount", allow_negative=True) == -value


def test_parse_amount_refuses_absurd_sizes_and_rounds_half_up():
    with pytest.raises(InvalidField) as info:
        parse_amount("100000000001", "amount")
    assert info.value.params["rule"] == "too_large"
    with pytest.raises(InvalidField):
        parse_amount("-100000000001", "amount", allow_negative=True)
    assert parse_amount("100000000000", "amount") == Decimal("100000000000")
    assert parse_amount("0.0000005", "amount") == Decimal("0.000001")
    assert parse_amount("0", "amount") == Decimal("0")
    for tiny in ("0.00000049", "-0.0000004"):  # would be stored as 0: refused, not silently zeroed
        with pytest.raises(InvalidField) as info:
            parse_amount(tiny, "amount", allow_negative=True)
        assert info.value.params == {"field": "amount", "rule": "rounds_to_zero"}
    assert parse_amount("1e-3", "amount") == Decimal("0.001")


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_MICROS),
       st.sampled_from([("USD", 5), ("VND", 0), ("RUB", 2), ("XYZ", 5)]))
def test_display_rounds_half_up_to_the_currency_decimals(micros, currency_decimals):
    currency, decimals = currency_decimals
    shown = display(micros, currency)
    exact = Decimal(micros) / 1_000_000
    expected = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    assert Decimal(shown) == expected
    assert len(shown.partition(".")[2]) == decimals


def test_display_examples():
    assert display(5, "USD") == "0.00001"  # 0.000005 -> half up
    assert display(4, "USD") == "0.00000"
    assert display(500_000, "VND") == "1"
    assert display(499_999, "VND") == "0"
    assert display(100_842_920, "USD") == "100.84292"
    assert plain(1_500_000) == "1.5" and plain(0) == "0" and plain(-5) == "-0.000005"


@given(st.integers(-(10**15), 10**15), st.sampled_from(["USD", "VND", "RUB", "XYZ"]))
def test_display_is_the_decimal_rounding_of_the_rule(micros, currency):
    """The fast integer formatter says exactly what Decimal's ROUND_HALF_UP says."""
    from decimal import ROUND_HALF_UP, Decimal

    from smmpanel.domain.money import CURRENCY_DECIMALS, DEFAULT_DECIMALS, display, from_micros

    exp = Decimal(1).scaleb(-CURRENCY_DECIMALS.get(currency, DEFAULT_DECIMALS))
    expected = from_micros(micros).quantize(exp, rounding=ROUND_HALF_UP) + 0  # + 0: no "-0.00"
    assert display(micros, currency) == str(expected)


@given(st.integers(min_value=-10**30, max_value=10**30), st.integers(min_value=1, max_value=10**12))
@example(5, 10)
@example(-5, 10)
@example(4999, 10_000)
def test_the_test_oracle_rounds_like_decimal_half_up(numerator, denominator):
    """The shared oracle (``money_oracle``) is itself the documented rule."""
    from decimal import localcontext

    with localcontext() as ctx:
        ctx.prec = 100
        expected = int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert half_up(numerator, denominator) == expected


def test_parse_decimal_keeps_every_digit_and_refuses_floats():
    from smmpanel.domain.money import parse_decimal

    assert parse_decimal("0.0000412", "fx") == Decimal("0.0000412")
    assert parse_decimal("-12.5", "markup", allow_negative=True) == Decimal("-12.5")
    for bad in (0.5, True, "1e999999", "NaN", "x"):
        with pytest.raises(InvalidField):
            parse_decimal(bad, "fx")
