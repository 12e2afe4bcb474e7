"""A deal's (or a quote's) line arithmetic: pure functions over integers, no database.

The rounding rule, the one every path uses (deal items, quotes, reports):

- Money is an integer count of the currency's minor unit; a quantity is integer thousandths
  (`quantity_milli`); a tax rate and a percent discount are integer basis points (20% is 2000).
- Each line is rounded on its own, half-even ("banker's rounding": 0.5 goes to the even
  neighbour), computed exactly with `decimal.Decimal` and `ROUND_HALF_EVEN`:
    gross    = round(quantity_milli × unit_price_minor / 1000)
    discount = round(gross × percent_bp / 10000)       for a percent discount
             = the amount itself                        for an amount discount (at most the gross)
    net      = gross − discount
    tax      = round(net × tax_rate_bp / 10000)
    total    = net + tax
- A deal's (or a quote's) totals are the sums of its lines' rounded figures, never a rounding of
  an unrounded sum: the lines a customer sees add up to the total they see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

QUANTITY_SCALE = 1000  # quantity_milli per unit (models/product.py)
BASIS_POINTS = 10_000  # basis points per 100%
PERCENT = "percent"
AMOUNT = "amount"


class LineError(ValueError):
    """A line that cannot be: a non-positive quantity, a discount over 100% or over the line."""


def round_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, exactly: the precision is set wide enough that
    dividing by a power of ten (the only denominators here) never rounds before the quantize."""
    with localcontext() as ctx:
        ctx.prec = max(28, len(str(abs(numerator))) + len(str(denominator)) + 2)
        quotient = Decimal(numerator) / Decimal(denominator)
        return int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Line:
    """One line's figures, all in minor units."""

    gross_minor: int
    discount_minor: int
    net_minor: int
    tax_minor: int

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_minor


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums of a deal's or a quote's lines: subtotal (gross), discount, net, tax and total."""

    subtotal_minor: int = 0
    discount_minor: int = 0
    net_minor: int = 0
    tax_minor: int = 0
    count: int = 0

    @property
    def total_minor(self) -> int:
        return self.net_minor + self.tax_minor


def line(*, quantity_milli: int, unit_price_minor: int, discount_kind: str | None = None,
         discount_value: int = 0, tax_rate_bp: int = 0) -> Line:
    """A line's gross, discount, net and tax by the rule in the module docstring; LineError when it
    cannot be (the message is one line a person can read)."""
    if quantity_milli <= 0:
        raise LineError("the quantity must be more than zero")
    if unit_price_minor < 0:
        raise LineError("the unit price must not be negative")
    if tax_rate_bp < 0:
        raise LineError("the tax rate must not be negative")
    gross = round_half_even(quantity_milli * unit_price_minor, QUANTITY_SCALE)
    discount = line_discount(gross, discount_kind, discount_value)
    net = gross - discount
    tax = round_half_even(net * tax_rate_bp, BASIS_POINTS)
    return Line(gross, discount, net, tax)


def line_discount(gross_minor: int, kind: str | None, value: int) -> int:
    """The discount of a line whose gross is `gross_minor`, in minor units."""
    if kind is None or value == 0:
        return 0
    if value < 0:
        raise LineError("a discount must not be negative")
    if kind == PERCENT:
        if value > BASIS_POINTS:
            raise LineError(f"a discount of {value / 100:g}% is over 100%")
        return round_half_even(gross_minor * value, BASIS_POINTS)
    if kind == AMOUNT:
        if value > gross_minor:
            raise LineError("the discount is larger than the line")
        return value
    raise LineError(f"unknown discount kind {kind!r}: percent or amount")


def totals(lines: Iterable[Line]) -> Totals:
    """The sums of these lines' rounded figures."""
    subtotal = discount = net = tax = count = 0
    for item in lines:
        subtotal += item.gross_minor
        discount += item.discount_minor
        net += item.net_minor
        tax += item.tax_minor
        count += 1
    return Totals(subtotal, discount, net, tax, count)
