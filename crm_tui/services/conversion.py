"""Money into the team's currency in SQL: one expression reports and board totals add up, exact in
integers and the same on SQLite and PostgreSQL.

`converted(amount, currency, on, team)` is `amount` (minor units of `currency`) in minor units of
`team`, at the rate in force on the day `on` (services/fx.py: the pair's latest rate with
valid_from <= on; else the inverse of the opposite pair's, 10^18 / rate_e9 half up), or NULL when
there is none. The same currency is the amount itself.

The arithmetic: value = amount x rate_e9 x 10^(t-d) / 10^9 / 10^(d-t) for a team currency of t
minor digits and a deal currency of d (JPY 0, USD 2, KWD 3), rounded half up (amounts are never
negative) to a whole minor unit. amount x rate_e9 overflows 64 bits for big amounts (10^12 x
10^11), so the product is taken in parts that each fit: with R = rate_e9 x 10^max(t-d, 0) split as
R1 x 10^9 + R0 and the amount as Ah x 10^9 + Al,
    amount x R / 10^9 = amount x R1 + Ah x R0 + (Al x R0) / 10^9,
where Al x R0 < 10^18. Exact as long as the converted amount itself fits a BIGINT.

`deal_day(...)` is the day a deal converts at: its close date (the UTC day of closed_at) when won
or lost, today (the team's) when open.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Date, case, func, literal, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import Grouping
from sqlalchemy.sql.functions import FunctionElement

from crm_tui.models import Deal
from crm_tui.models.product import FxRate

E9 = 10**9


class utc_day(FunctionElement):  # noqa: N801 - used like a SQL function
    """The UTC calendar day of a timestamp column, as each database compares it with a DATE."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element, compiler, **kw) -> str:
    # timestamps are stored as naive UTC text; date() gives 'YYYY-MM-DD', as dates are stored
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day)
def _utc_day_default(element, compiler, **kw) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def _n(value: int) -> Any:
    """An integer constant written into the SQL (never a parameter: its type is then plain)."""
    return literal_column(str(int(value)))


@lru_cache(maxsize=1)
def _odd_digits() -> dict[str, int]:
    """The currencies whose minor unit is not the cent (JPY 0, KWD 3, ...)."""
    from babel.numbers import get_currency_precision, list_currencies

    return {code: get_currency_precision(code) for code in sorted(list_currencies())
            if get_currency_precision(code) != 2}


def digits(code: str) -> int:
    return _odd_digits().get(code, 2)


def _by_digits(currency: Any, team: str, pick) -> Any:
    """A CASE over the deal's currency of pick(d - t), d its minor digits and t the team's: one
    WHEN per value, the codes written into the SQL (ISO codes from babel: letters only)."""
    t = digits(team)
    default = pick(2 - t)
    groups: dict[int, list[str]] = {}
    for code, d in _odd_digits().items():
        if pick(d - t) != default and code.isalpha():
            groups.setdefault(pick(d - t), []).append(code)
    if not groups:
        return _n(default)
    return case(*((currency.in_([literal_column(f"'{c}'") for c in codes]), _n(value))
                  for value, codes in sorted(groups.items())), else_=_n(default))


def _div(a: Any, b: Any) -> Any:
    """Integer division as both databases do it for integers (truncating; never negative here).
    SQLAlchemy's // would floor a float on PostgreSQL."""
    return Grouping(Grouping(a).op("/", return_type=BigInteger)(Grouping(b)))


def _mod(a: Any, b: Any) -> Any:
    return Grouping(Grouping(a).op("%", return_type=BigInteger)(Grouping(b)))


def _scaled(amount: Any, rate_e9: Any, up: Any, down: Any, down_e9: Any) -> Any:
    """amount x rate_e9 x up / 10^9 / down, half up, without a 64-bit overflow on the way."""
    r = rate_e9 * up
    r1, r0 = _div(r, _n(E9)), _mod(r, _n(E9))
    ah, al = _div(amount, _n(E9)), _mod(amount, _n(E9))
    p = al * r0
    whole = amount * r1 + ah * r0 + _div(p, _n(E9))  # floor(amount x r / 10^9)
    frac = _mod(p, _n(E9))  # its remainder, in 10^-9
    rest = _mod(whole, down) * _n(E9) + frac  # what the division by `down` leaves, in 10^-9
    # down x 10^9 is a constant of its own: on PostgreSQL 100 x 1000000000 would be an int4 product
    return _div(whole, down) + case((rest * _n(2) >= down_e9, _n(1)), else_=_n(0))


def converted(amount: Any, currency: Any, on: Any, team: str) -> Any:
    """`amount` in `currency` as minor units of `team` on day `on`; NULL when no rate is in force.
    Each direction is one correlated lookup of the pair's latest rate with valid_from <= on (an
    index range scan of uq_fx_rates_pair_date, newest first, one row)."""
    up = _by_digits(currency, team, lambda diff: 10 ** max(-diff, 0))
    down = _by_digits(currency, team, lambda diff: 10 ** max(diff, 0))
    down_e9 = _by_digits(currency, team, lambda diff: 10 ** max(diff, 0) * E9)
    direct = (select(_scaled(amount, FxRate.rate_e9, up, down, down_e9))
              .where(FxRate.base == currency, FxRate.quote == team, FxRate.valid_from <= on)
              .order_by(FxRate.valid_from.desc()).limit(1).scalar_subquery())
    inverse_rate = _div(_n(E9 * E9) + _div(FxRate.rate_e9, _n(2)), FxRate.rate_e9)
    inverse = (select(_scaled(amount, inverse_rate, up, down, down_e9))
               .where(FxRate.base == team, FxRate.quote == currency, FxRate.valid_from <= on)
               .order_by(FxRate.valid_from.desc()).limit(1).scalar_subquery())
    return case((currency == team, amount), else_=func.coalesce(direct, inverse))


def deal_day(today: date) -> Any:
    """The day a deal's amount converts at: its close day when closed, `today` when open."""
    return case((Deal.status == "open", literal(today, Date)),
                else_=func.coalesce(utc_day(Deal.closed_at), literal(today, Date)))


def deal_amount(team: str, today: date, amount: Any = None) -> Any:
    """A deal's amount (or another of its amounts, such as an item's net) in the team's currency."""
    return converted(Deal.amount_minor if amount is None else amount, Deal.currency, deal_day(today), team)
