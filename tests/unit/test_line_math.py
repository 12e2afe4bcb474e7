"""Line math: half-even per line in integer minor units, by hand and as properties (hypothesis)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_tui.services import line_math as lm


def _reference_half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2):
        return floor + 1
    return floor


@pytest.mark.parametrize(("num", "den", "expected"), [
    (2500, 1000, 2), (3500, 1000, 4), (-2500, 1000, -2), (2501, 1000, 3), (14999, 10_000, 1),
    (15000, 10_000, 2), (25000, 10_000, 2), (0, 1000, 0), (10**40 + 500, 1000, 10**37),
])
def test_round_half_even_by_hand(num, den, expected):
    assert lm.round_half_even(num, den) == expected


def test_a_line_by_hand():
    # 2.5 × 19.99 = 49.975 → 49.98 (half-even: ...7.5 goes to 8); 10% off 4.998 → 5.00; tax 20% of 44.98
    item = lm.line(quantity_milli=2500, unit_price_minor=1999, discount_kind="percent", discount_value=1000,
                   tax_rate_bp=2000)
    assert (item.gross_minor, item.discount_minor, item.net_minor, item.tax_minor) == (4998, 500, 4498, 900)
    assert item.total_minor == 5398


def test_half_even_not_half_up():
    # 0.5 × 1 cent = 0.5 cent → 0 (even); 1.5 × 1 cent = 1.5 → 2
    assert lm.line(quantity_milli=500, unit_price_minor=1).gross_minor == 0
    assert lm.line(quantity_milli=1500, unit_price_minor=1).gross_minor == 2
    # tax 5% of 10 cents = 0.5 → 0; of 30 cents = 1.5 → 2
    assert lm.line(quantity_milli=1000, unit_price_minor=10, tax_rate_bp=500).tax_minor == 0
    assert lm.line(quantity_milli=1000, unit_price_minor=30, tax_rate_bp=500).tax_minor == 2


def test_amount_discount_and_totals():
    a = lm.line(quantity_milli=2000, unit_price_minor=10_000, discount_kind="amount", discount_value=1500,
                tax_rate_bp=1000)
    b = lm.line(quantity_milli=1000, unit_price_minor=333, tax_rate_bp=1000)
    assert (a.gross_minor, a.discount_minor, a.net_minor, a.tax_minor) == (20_000, 1500, 18_500, 1850)
    t = lm.totals([a, b])
    assert (t.subtotal_minor, t.discount_minor, t.net_minor, t.tax_minor, t.count) == (20_333, 1500, 18_833, 1883, 2)
    assert t.total_minor == 18_833 + 1883
    assert lm.totals([]).total_minor == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"quantity_milli": 0}, "quantity must be more than zero"),
    ({"quantity_milli": -1000}, "quantity must be more than zero"),
    ({"discount_kind": "percent", "discount_value": 10_001}, "over 100%"),
    ({"discount_kind": "amount", "discount_value": 10_001}, "larger than the line"),
    ({"discount_kind": "amount", "discount_value": -1}, "must not be negative"),
    ({"unit_price_minor": -1}, "unit price must not be negative"),
])
def test_impossible_lines_are_refused(kwargs, message):
    with pytest.raises(lm.LineError, match=message):
        lm.line(**{"quantity_milli": 1000, "unit_price_minor": 10_000, **kwargs})


def test_a_full_discount_is_allowed():
    assert lm.line(quantity_milli=1000, unit_price_minor=999, discount_kind="percent",
                   discount_value=10_000).net_minor == 0
    assert lm.line(quantity_milli=1000, unit_price_minor=999, discount_kind="amount",
                   discount_value=999).net_minor == 0


quantities = st.integers(min_value=1, max_value=10**9)
prices = st.integers(min_value=0, max_value=10**12)
rates = st.integers(min_value=0, max_value=10_000)


@given(quantities, prices, rates, rates)
def test_percent_line_matches_exact_arithmetic(q, price, pct, tax):
    item = lm.line(quantity_milli=q, unit_price_minor=price, discount_kind="percent", discount_value=pct,
                   tax_rate_bp=tax)
    gross = _reference_half_even(Fraction(q * price, 1000))
    discount = _reference_half_even(Fraction(gross * pct, 10_000))
    assert (item.gross_minor, item.discount_minor) == (gross, discount)
    assert item.net_minor == gross - discount
    assert item.tax_minor == _reference_half_even(Fraction(item.net_minor * tax, 10_000))
    assert 0 <= item.discount_minor <= item.gross_minor
    assert item.net_minor >= 0 and item.tax_minor >= 0
    # a rounded figure is never more than half a minor unit from the exact one
    assert abs(Fraction(item.gross_minor) - Fraction(q * price, 1000)) <= Fraction(1, 2)


@given(quantities, prices, st.data())
def test_amount_discount_never_exceeds_the_line(q, price, data):
    gross = lm.line(quantity_milli=q, unit_price_minor=price).gross_minor
    value = data.draw(st.integers(min_value=0, max_value=gross + 10))
    if value > gross:
        with pytest.raises(lm.LineError):
            lm.line(quantity_milli=q, unit_price_minor=price, discount_kind="amount", discount_value=value)
    else:
        item = lm.line(quantity_milli=q, unit_price_minor=price, discount_kind="amount", discount_value=value)
        assert item.net_minor == gross - value


@given(st.lists(st.tuples(quantities, prices, rates), max_size=30))
def test_totals_are_the_sums_of_the_rounded_lines(rows):
    lines = [lm.line(quantity_milli=q, unit_price_minor=p, tax_rate_bp=t) for q, p, t in rows]
    t = lm.totals(lines)
    assert t.count == len(lines)
    assert t.subtotal_minor == sum(x.gross_minor for x in lines)
    assert t.total_minor == sum(x.total_minor for x in lines)
    assert t.net_minor == t.subtotal_minor - t.discount_minor
