"""Date buckets that give the same numbers on SQLite and PostgreSQL: local-midnight edges worked out
here, compared against in SQL (a nested CASE, or a small table of [lo, hi) rows to join)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Integer, String, and_, case, literal, select, union_all

from crm_tui.errors import InvalidInput
from crm_tui.models.base import UTCDateTime
from crm_tui.services.reports.periods import Period, local_midnight, month_start, quarter_start


MAX_BUCKETS = 120


@dataclass(frozen=True)
class Buckets:
    """The consecutive parts of a period (days, weeks starting Monday, months or quarters)."""

    grain: str
    starts: tuple[date, ...]  # each bucket's own first day (a week's Monday), for labels
    edges: tuple[date, ...]  # len(starts) + 1 days: the period's start, the inner edges, its end

    def instants(self, zone: tzinfo) -> tuple[datetime, ...]:
        return tuple(local_midnight(day, zone) for day in self.edges)

    def range(self, index: int, zone: tzinfo) -> tuple[datetime, datetime]:
        return local_midnight(self.edges[index], zone), local_midnight(self.edges[index + 1], zone)

    def days(self, index: int) -> tuple[date, date]:
        return self.edges[index], self.edges[index + 1]


def buckets(period: Period, grain: str) -> Buckets:
    if grain == "day":
        first, step = period.start, timedelta(days=1)
    elif grain == "week":
        first = period.start - timedelta(days=period.start.weekday())
        step: Any = timedelta(days=7)
    elif grain == "month":
        first, step = month_start(period.start), relativedelta(months=1)
    elif grain == "quarter":
        first, step = quarter_start(period.start), relativedelta(months=3)
    else:
        raise InvalidInput(f"invalid grain {grain!r}: choose day, week, month or quarter")
    starts, edges = [], [period.start]
    current = first
    while current < period.end:
        starts.append(current)
        nxt = current + step
        edges.append(min(nxt, period.end))
        current = nxt
        if len(starts) > MAX_BUCKETS:
            raise InvalidInput(f"the period is too long for {'dai' if grain == 'day' else grain}ly figures (at most {MAX_BUCKETS}); shorten it")
    return Buckets(grain, tuple(starts), tuple(edges))


def bucket_index(column: Any, inner_edges: Sequence[Any]) -> Any:
    """The index of the bucket `column` falls in, given the edges between buckets: a CASE that
    halves the edges at each level, so a row costs log2(buckets) comparisons. Rows must already be
    limited to the period. The edges are bound as the column's own type (UTC text on SQLite)."""
    def build(lo: int, hi: int) -> Any:  # buckets lo..hi; edges[lo..hi-1] separate them
        if lo == hi:
            return literal(lo, Integer)
        mid = (lo + hi + 1) // 2
        return case((column < inner_edges[mid - 1], build(lo, mid - 1)), else_=build(mid, hi))
    return build(0, len(inner_edges))


def bucket_expr(column: Any, b: Buckets, zone: tzinfo | None) -> Any:
    inner = b.instants(zone)[1:-1] if zone is not None else b.edges[1:-1]
    return bucket_index(column, inner)


def bucket_table(b: Buckets, zone: tzinfo, name: str = "edges") -> Any:
    """The buckets as a small table (i, lo, hi) of UTC instants, to join to a fact table with
    `lo <= t AND t < hi`: each bucket is then an index range scan, and the GROUP BY is on i."""
    bounds = b.instants(zone)
    rows = [select(literal(i, Integer).label("i"), literal(bounds[i], UTCDateTime).label("lo"),
                   literal(bounds[i + 1], UTCDateTime).label("hi")) for i in range(len(b.starts))]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def constant_rows(name: str, values: Sequence[str]) -> Any:
    """A one-column table of strings (value), to join to."""
    rows = [select(literal(value, String).label("value")) for value in values]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def in_range(column: Any, start: Any, end: Any) -> Any:
    return and_(column >= start, column < end)


def bucket_label(kind: str, day: date) -> str:
    if kind == "month":
        return f"{day:%b %Y}"
    if kind == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if kind == "week":
        return f"{day:%b %d}"
    return day.isoformat()
