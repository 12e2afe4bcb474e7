"""Reports: the eight numbers a sales team runs on, each a few GROUP BY queries whose date buckets
give the same answer on SQLite and PostgreSQL, and keyset pages of the deals or contacts behind a row.

Buckets: SQLite has no time zone database, so no SQL date function can say which local month a
UTC instant falls in. Instead the bucket edges (local midnights of each month or week, in the
team's zone) are worked out here with zoneinfo, and the query compares timestamps against them,
which both databases evaluate the same. Over the big tables (activities, contacts) the edges are a
small table of [lo, hi) rows joined to the facts, so each bucket is one index range scan
(`bucket_table`); over the few thousand deals a nested CASE (a binary search) is as good.

Money: every sum is over integer minor units, in one currency (deals in other currencies are
counted in the report's notes, not added in); weighted amounts sum amount x probability exactly
and divide by 100 once, at the end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import (Integer, String, and_, case, cast, func, literal, literal_column, null, or_, select,
                        union_all)
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import UTC, resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, Company, Contact, Deal, Goal, Pipeline, Stage, Task, User
from crm_tui.models.base import UTCDateTime
from crm_tui.models.schemas import ContactRow, DealRow
from crm_tui.services import permissions
from crm_tui.services import pipelines as pipeline_service
from crm_tui.services.common import Actor
from crm_tui.services import deals as deal_service
from crm_tui.services import tasks as task_service
from crm_tui.services import validation as v
from crm_tui.services.dates import DateOrderError, parse_day
from crm_tui.services.paging import Page, SortKey, keyset_page

MAX_BUCKETS = 120
KINDS = ("call", "email", "meeting", "note")
CONVERTED_LIFECYCLES = ("customer", "former")
STALE_ROWS = 100
NO_VALUE = ""  # a drill-down's source or lost reason that was left empty (NULL in the database)
NO_TEAM = "(no team)"
# what the per-owner reports can group by instead of the owner (`crm report NAME --by team`)
GROUPINGS = ("owner", "team")


# --- periods --------------------------------------------------------------------------------

PRESETS = ("this-month", "last-month", "this-quarter", "last-quarter", "this-year", "last-year")
DEFAULT_PRESET = "this-quarter"
_STEP = {"month": relativedelta(months=1), "quarter": relativedelta(months=3), "year": relativedelta(years=1)}


@dataclass(frozen=True)
class Period:
    """Calendar days in the team's zone: from `start` up to, not including, `end`."""

    start: date
    end: date
    kind: str  # month, quarter, year or custom
    preset: str | None = None

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        if self.kind == "quarter":
            return f"{self.start.year} Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return f"{self.start.year}"
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"

    def shift(self, steps: int) -> Period:
        """The period as long, `steps` later (earlier when negative); no longer a preset."""
        if self.kind in _STEP:
            return Period(self.start + _STEP[self.kind] * steps, self.end + _STEP[self.kind] * steps, self.kind)
        length = self.end - self.start
        return Period(self.start + length * steps, self.end + length * steps, "custom")

    def instants(self, zone: tzinfo) -> tuple[datetime, datetime]:
        return local_midnight(self.start, zone), local_midnight(self.end, zone)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The UTC instant a local day begins (a local day can be 23 or 25 hours long)."""
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone).astimezone(UTC)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def preset_period(preset: str, *, now: datetime, zone: tzinfo) -> Period:
    key = (preset or "").strip().lower().replace("_", "-").replace(" ", "-")
    if key not in PRESETS:
        raise InvalidInput(f"invalid period {preset!r}: choose one of {', '.join(PRESETS)}, or give --from and --to")
    which, kind = key.split("-")
    today = resolve_now(now).astimezone(zone).date()
    start = {"month": _month_start(today), "quarter": _quarter_start(today), "year": today.replace(month=1, day=1)}[kind]
    if which == "last":
        start -= _STEP[kind]
    return Period(start, start + _STEP[kind], kind, key)


def resolve_period(*, preset: str | None = None, start: date | str | None = None, end: date | str | None = None,
                   now: datetime, zone: tzinfo, order: str | None = None) -> Period:
    """A preset, or a custom range of days (`end` included, as people say "to the 30th"), typed as
    the user writes dates (`order`: their date_order)."""
    if start is None and end is None:
        return preset_period(preset or DEFAULT_PRESET, now=now, zone=zone)
    if preset:
        raise InvalidInput("give a period or a date range (--from/--to), not both")
    if start is None:
        raise InvalidInput("give --from too: the range needs a first day")
    first = _day(start, now, zone, "--from", order)
    last = _day(end, now, zone, "--to", order) if end is not None else resolve_now(now).astimezone(zone).date()
    if last < first:
        raise InvalidInput(f"the range ends ({last}) before it starts ({first})")
    return Period(first, last + timedelta(days=1), "custom")


def _day(value: date | str, now: datetime, zone: tzinfo, label: str, order: str | None) -> date:
    if isinstance(value, date):
        return value
    try:
        return parse_day(str(value), now=now, zone=zone, order=order)
    except DateOrderError as exc:
        raise InvalidInput(f"{label}: {exc.message}") from None
    except InvalidInput:
        raise InvalidInput(f"{label}: can't read {value!r} as a day; use e.g. 2026-11-01") from None


# --- buckets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buckets:
    """The consecutive parts of a period (months, quarters or weeks starting Monday)."""

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
    if grain == "week":
        first = period.start - timedelta(days=period.start.weekday())
        step: Any = timedelta(days=7)
    elif grain == "month":
        first, step = _month_start(period.start), relativedelta(months=1)
    elif grain == "quarter":
        first, step = _quarter_start(period.start), relativedelta(months=3)
    else:
        raise InvalidInput(f"invalid grain {grain!r}: choose week, month or quarter")
    starts, edges = [], [period.start]
    current = first
    while current < period.end:
        starts.append(current)
        nxt = current + step
        edges.append(min(nxt, period.end))
        current = nxt
        if len(starts) > MAX_BUCKETS:
            raise InvalidInput(f"the period is too long for {grain}ly figures (at most {MAX_BUCKETS}); shorten it")
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


def _bucket_expr(column: Any, b: Buckets, zone: tzinfo | None) -> Any:
    inner = b.instants(zone)[1:-1] if zone is not None else b.edges[1:-1]
    return bucket_index(column, inner)


def bucket_table(b: Buckets, zone: tzinfo, name: str = "edges") -> Any:
    """The buckets as a small table (i, lo, hi) of UTC instants, to join to a fact table with
    `lo <= t AND t < hi`: each bucket is then an index range scan, and the GROUP BY is on i."""
    bounds = b.instants(zone)
    rows = [select(literal(i, Integer).label("i"), literal(bounds[i], UTCDateTime).label("lo"),
                   literal(bounds[i + 1], UTCDateTime).label("hi")) for i in range(len(b.starts))]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def _constants(name: str, values: Sequence[str]) -> Any:
    """A one-column table of strings (value), to join to."""
    rows = [select(literal(value, String).label("value")) for value in values]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def _in_range(column: Any, start: Any, end: Any) -> Any:
    return and_(column >= start, column < end)


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    # text, int, money (minor units of the report's currency), percent, days, week, month, quarter
    kind: str = "text"


@dataclass(frozen=True)
class Drill:
    """What lies under a report row: the filter of a deal or contact list (see drill_page)."""

    entity: str  # "deal" or "contact"
    title: str
    status: tuple[str, ...] = ()
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    currency: str | None = None
    created: tuple[datetime, datetime] | None = None
    closed: tuple[datetime, datetime] | None = None
    expected: tuple[date, date] | None = None
    lost_reason: str | None = None  # NO_VALUE: no reason given
    source: str | None = None  # NO_VALUE: no source
    converted: bool = False
    stale: tuple[tuple[int, datetime], ...] = ()  # (stage id, entered before) pairs
    touched_by: int | None = None  # contacts with an activity by this user in `touched`
    team: str | None = None  # deals owned by users of this team (NO_VALUE: of no team)
    touched: tuple[datetime, datetime] | None = None
    sort: str = "amount"


@dataclass
class Row:
    values: dict[str, Any]
    drill: Drill | None = None


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row]
    total: dict[str, Any] | None = None


@dataclass
class Chart:
    """Bars per label; one or two series (the second is drawn beside the first)."""

    title: str
    labels: list[str]
    series: list[tuple[str, list[int]]]
    kind: str = "int"  # how to print the values: int, money or percent
    over_time: bool = False  # labels are consecutive periods (drawn as columns)


@dataclass
class Report:
    name: str
    title: str
    period: Period
    currency: str
    owner_id: int | None
    pipeline_id: int | None
    tables: list[Table]
    chart: Chart | None = None
    notes: list[str] = field(default_factory=list)
    zone: str = "UTC"
    owner_login: str | None = None
    uses_period: bool = True
    by: str = "owner"

    @property
    def heading(self) -> str:
        """"Forecast · 2026 Q4 · everyone · USD": what was asked, in one line."""
        when = self.period.label if self.uses_period else "now"
        who = f"owner {self.owner_login}" if self.owner_id is not None else "everyone"
        if self.by != "owner":
            who += f", by {self.by}"
        return f"{self.title} · {when} · {who} · {self.currency}"

    @property
    def table(self) -> Table:
        return self.tables[0]

    def find_table(self, key: str | None) -> Table:
        if key is None:
            return self.tables[0]
        for table in self.tables:
            if table.key == key:
                return table
        raise InvalidInput(f"report {self.name} has no table {key!r}: choose one of "
                           f"{', '.join(t.key for t in self.tables)}")


@dataclass(frozen=True)
class Scope:
    """What every report is asked for."""

    period: Period
    zone: tzinfo
    now: datetime
    currency: str
    owner_id: int | None = None
    pipeline_id: int | None = None
    grain: str | None = None
    by: str = "owner"  # or "team": rows per team of the owners, not per owner


# --- shared pieces of the queries ------------------------------------------------------------


def _int(value: Any) -> int:
    """SUM() is numeric on PostgreSQL (a Decimal) and an int on SQLite; NULL when nothing summed."""
    return int(value or 0)


def _weighted(amount_x_probability: Any) -> int:
    """sum(amount x probability %) / 100, rounded half up to a whole minor unit, exactly."""
    return int((Decimal(_int(amount_x_probability)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _pct(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _days(seconds: int | Decimal, count: int) -> float | None:
    if not count:
        return None
    return float((Decimal(seconds) / count / 86400).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _deal_conditions(scope: Scope, *, currency: bool = True) -> list:
    conditions = [Deal.archived.is_(False)]
    if scope.owner_id is not None:
        conditions.append(Deal.owner_id == scope.owner_id)
    if scope.pipeline_id is not None:
        conditions.append(Deal.pipeline_id == scope.pipeline_id)
    if currency:
        conditions.append(Deal.currency == scope.currency)
    return conditions


def _currency_note(session: Session, scope: Scope, *extra: Any) -> list[str]:
    """Deals the same filters found in other currencies: said, never added in."""
    rows = session.execute(
        select(Deal.currency, func.count()).where(*_deal_conditions(scope, currency=False), *extra,
                                                  Deal.currency != scope.currency)
        .group_by(Deal.currency).order_by(Deal.currency)).all()
    if not rows:
        return []
    parts = ", ".join(f"{count:,} in {code}" for code, count in rows)
    return [f"Amounts are in {scope.currency}; not included: {parts} (see --currency)."]


def epoch_seconds(column: Any, dialect: str) -> Any:
    """Whole seconds since 1970 (floored), the same integer on both databases."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def _logins(session: Session, ids: set[int | None]) -> dict[int | None, str]:
    known = {i for i in ids if i is not None}
    found = dict(session.execute(select(User.id, User.login).where(User.id.in_(known))).all()) if known else {}
    return {**found, None: "(nobody)"}


def _who(scope: Scope, owner: Any) -> Any:
    """What a per-owner report groups by: the owner's id, or (by team) the owner's team, NO_VALUE
    for none; a correlated lookup, so the GROUP BY is the same on SQLite and PostgreSQL."""
    if scope.by != "team":
        return owner
    return func.coalesce(select(User.team).where(User.id == owner).scalar_subquery(), NO_VALUE)


def _names(session: Session, scope: Scope, keys: set) -> dict:
    """The label of each group key: the owner's login, or the team's name."""
    if scope.by == "team":
        return {k: (k or NO_TEAM) for k in keys if k is not None}
    return _logins(session, keys)


def _drill_who(scope: Scope, key: Any) -> dict:
    """The drill-down filter of one group: its owner (never "nobody"), or its team."""
    return {"team": key} if scope.by == "team" else {"owner_id": key}


def _money_cols(*pairs: tuple[str, str]) -> list[Column]:
    return [Column(key, title, "money") for key, title in pairs]


# --- 1. pipeline by stage -------------------------------------------------------------------


def pipeline_report(session: Session, scope: Scope) -> Report:
    """Open deals now per stage (count, amount, weighted), and the conversion from each stage to
    the next among the deals added in the period."""
    pipeline = pipeline_service.resolve_pipeline(session, scope.pipeline_id)
    scope = replace(scope, pipeline_id=pipeline.id)
    open_stages = [s for s in pipeline.stages if s.kind == "open"]
    open_rows = session.execute(
        select(Deal.stage_id, func.count(), func.sum(Deal.amount_minor), func.sum(Deal.amount_minor * Stage.probability))
        .join(Stage, Stage.id == Deal.stage_id)
        .where(*_deal_conditions(scope), Deal.status == "open")
        .group_by(Deal.stage_id)).all()
    by_stage = {stage_id: (count, _int(amount), _weighted(weighted)) for stage_id, count, amount, weighted in open_rows}
    reached = _funnel(session, scope, [s.position for s in open_stages])
    rows, chart_amount, chart_weighted = [], [], []
    for i, stage in enumerate(open_stages):
        count, amount, weighted = by_stage.get(stage.id, (0, 0, 0))
        nxt = reached[i + 1] if i + 1 < len(open_stages) else reached[-1]
        rows.append(Row({"stage": stage.name, "probability": stage.probability, "deals": count, "amount_minor": amount,
                         "weighted_minor": weighted, "reached": reached[i], "conversion": _pct(nxt, reached[i])},
                        Drill("deal", f"{stage.name}: open deals", status=("open",), stage_id=stage.id,
                              owner_id=scope.owner_id, currency=scope.currency)))
        chart_amount.append(amount)
        chart_weighted.append(weighted)
    total = {"stage": "Total", "deals": sum(r.values["deals"] for r in rows),
             "amount_minor": sum(r.values["amount_minor"] for r in rows),
             "weighted_minor": sum(r.values["weighted_minor"] for r in rows),
             "reached": reached[0] if reached else 0, "conversion": _pct(reached[-1], reached[0]) if reached else None}
    columns = [Column("stage", "Stage"), Column("probability", "Prob %", "int"), Column("deals", "Open", "int"),
               *_money_cols(("amount_minor", "Amount"), ("weighted_minor", "Weighted")),
               Column("reached", "Reached", "int"), Column("conversion", "→ next", "percent")]
    notes = [f"Open deals as of now in {pipeline.name}; “Reached” and “→ next” follow the deals added "
             f"{scope.period.label} (the last stage's “→ next” is to won)."]
    notes += _currency_note(session, scope, Deal.status == "open")
    return Report("pipeline", "Pipeline by stage", scope.period, scope.currency, scope.owner_id, pipeline.id,
                  [Table("stages", "Open deals by stage", columns, rows, total)],
                  Chart("Amount and weighted by stage", [s.name for s in open_stages],
                        [("amount", chart_amount), ("weighted", chart_weighted)], "money"), notes)


def _funnel(session: Session, scope: Scope, positions: list[int]) -> list[int]:
    """How many deals added in the period reached each open stage, and (last) were won.

    A deal reached every stage up to the furthest one it has been in: an open deal its current
    stage, a won deal all of them, a lost deal the furthest stage its stage-change log names
    (the first stage when the log says nothing). "Added in the period" is the deal's created_at,
    which for an imported deal is the opening date its file gave (see importing.kinds.DealRows), so
    imported history counts by the same rule: an imported open deal reached its stage and those
    before it, an imported won deal all of them, an imported lost deal (no log) the first."""
    if not positions:
        return [0]
    start, end = scope.period.instants(scope.zone)
    won_mark = max(positions) + 1
    logged = aliased(Stage)
    arrow = " → "
    furthest_logged = (
        select(func.max(logged.position))
        .select_from(Activity)
        .join(logged, and_(logged.pipeline_id == Deal.pipeline_id, logged.kind == "open",
                           func.substr(Activity.subject, 1, func.length(logged.name) + len(arrow))
                           == logged.name + arrow))
        # the kind written out, not bound, so the partial index of stage changes serves it
        .where(Activity.deal_id == Deal.id, Activity.kind == literal_column("'stage_change'"))
        .scalar_subquery()
    )
    added = [*_deal_conditions(scope, currency=False), _in_range(Deal.created_at, start, end)]
    # two arms, so the log is read (and costed: PostgreSQL would JIT-compile a query it thinks
    # reads the log for every deal) only for the lost deals
    inner = union_all(
        select(case((Deal.status == "won", won_mark), else_=Stage.position).label("furthest")).select_from(Deal)
        .join(Stage, Stage.id == Deal.stage_id).where(*added, Deal.status.in_(("won", "open"))),
        select(func.coalesce(furthest_logged, min(positions)).label("furthest"))
        .where(*added, Deal.status.not_in(("won", "open"))),
    ).subquery()
    counts = dict(session.execute(select(inner.c.furthest, func.count()).group_by(inner.c.furthest)).all())
    marks = [*positions, won_mark]
    return [sum(n for pos, n in counts.items() if pos is not None and pos >= mark) for mark in marks]


# --- 2. forecast ----------------------------------------------------------------------------


def forecast_report(session: Session, scope: Scope) -> Report:
    """Open deals by month of expected close (raw and weighted), beside the amount won each month."""
    b = buckets(scope.period, "month")
    start, end = scope.period.instants(scope.zone)
    idx = _bucket_expr(Deal.expected_close, b, None).label("b")
    inner = (select(idx, Deal.amount_minor, (Deal.amount_minor * Stage.probability).label("ap")).select_from(Deal)
             .join(Stage, Stage.id == Deal.stage_id)
             .where(*_deal_conditions(scope), Deal.status == "open",
                    _in_range(Deal.expected_close, scope.period.start, scope.period.end))
             .subquery())
    open_by = {i: (n, _int(a), _weighted(w)) for i, n, a, w in session.execute(
        select(inner.c.b, func.count(), func.sum(inner.c.amount_minor), func.sum(inner.c.ap)).group_by(inner.c.b))}
    won_idx = _bucket_expr(Deal.closed_at, b, scope.zone).label("b")
    won_inner = (select(won_idx, Deal.amount_minor)
                 .where(*_deal_conditions(scope), Deal.status == "won", _in_range(Deal.closed_at, start, end))
                 .subquery())
    won_by = {i: (n, _int(a)) for i, n, a in session.execute(
        select(won_inner.c.b, func.count(), func.sum(won_inner.c.amount_minor)).group_by(won_inner.c.b))}
    rows = []
    for i, month in enumerate(b.starts):
        count, amount, weighted = open_by.get(i, (0, 0, 0))
        won_count, won = won_by.get(i, (0, 0))
        rows.append(Row({"month": month, "open": count, "amount_minor": amount, "weighted_minor": weighted,
                         "won_deals": won_count, "won_minor": won},
                        Drill("deal", f"Open deals expected to close {month:%B %Y}", status=("open",),
                              pipeline_id=scope.pipeline_id, owner_id=scope.owner_id, currency=scope.currency,
                              expected=b.days(i))))
    keys = ("open", "amount_minor", "weighted_minor", "won_deals", "won_minor")
    total = {"month": "Total", **{k: sum(r.values[k] for r in rows) for k in keys}}
    columns = [Column("month", "Month", "month"), Column("open", "Open", "int"),
               *_money_cols(("amount_minor", "Amount"), ("weighted_minor", "Weighted")),
               Column("won_deals", "Won #", "int"), *_money_cols(("won_minor", "Won"))]
    notes = _currency_note(session, scope, or_(and_(Deal.status == "open",
                                                    _in_range(Deal.expected_close, scope.period.start, scope.period.end)),
                                               and_(Deal.status == "won", _in_range(Deal.closed_at, start, end))))
    return Report("forecast", "Forecast", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("months", "Forecast by month", columns, rows, total)],
                  Chart("Weighted forecast and won by month", [f"{m:%b}" for m in b.starts],
                        [("weighted", [r.values["weighted_minor"] for r in rows]),
                         ("won", [r.values["won_minor"] for r in rows])], "money", over_time=True), notes)


# --- 3. win rate and sales cycle -------------------------------------------------------------


def win_rate_report(session: Session, scope: Scope) -> Report:
    """Won / (won + lost) of the deals closed in the period, and the days from creation to a win
    (average and median), overall, per owner and per source of the deal's contact."""
    start, end = scope.period.instants(scope.zone)
    dialect = session.get_bind().dialect.name
    closed = [*_deal_conditions(scope, currency=False), Deal.status.in_(("won", "lost")),
              _in_range(Deal.closed_at, start, end)]
    counted, cycled = _closed_counts(session, scope, closed, dialect), _cycles(session, scope, closed, dialect)
    names_by_id = _names(session, scope, {key for group, key in counted if group == "owner"})
    rows: list[Row] = []
    for group in ("overall", "owner", "source"):
        counts = {key: value for (g, key), value in counted.items() if g == group}
        cycles = {key: value for (g, key), value in cycled.items() if g == group}
        names = names_by_id if group == "owner" else {}
        for value in sorted(counts, key=lambda k: (str(names.get(k, k)) if k is not None else "")):
            won, lost = counts[value]
            total_s, n, median_s, picks = cycles.get(value, (0, 0, 0, 0))
            name = ("All deals" if group == "overall" else names.get(value, "?") if group == "owner"
                    else _source_name(value))
            who = _drill_who(scope, value) if group == "owner" else {"owner_id": scope.owner_id}
            drill = Drill("deal", f"Deals closed {scope.period.label}: {name}", status=("won", "lost"),
                          pipeline_id=scope.pipeline_id, closed=(start, end),
                          source=value if group == "source" else None, **who)
            if group == "owner" and value is None:
                drill = None  # "nobody" is not a filter a list can take
            if group == "owner":
                group = scope.by  # "team" when grouped by team
            rows.append(Row({"group": group, "name": name, "won": won, "lost": lost, "win_rate": _pct(won, won + lost),
                             "avg_days": _days(total_s, n), "median_days": _days(median_s, picks)}, drill))
    columns = [Column("group", "By"), Column("name", "Name"), Column("won", "Won", "int"), Column("lost", "Lost", "int"),
               Column("win_rate", "Win %", "percent"), Column("avg_days", "Avg days", "days"),
               Column("median_days", "Median", "days")]
    owners = [r for r in rows if r.values["group"] == scope.by]
    return Report("win-rate", "Win rate and sales cycle", scope.period, scope.currency, scope.owner_id,
                  scope.pipeline_id, [Table("win_rate", "Win rate and days to win", columns, rows)],
                  Chart(f"Win rate by {scope.by}", [r.values["name"] for r in owners],
                        [("win %", [round(r.values["win_rate"] or 0) for r in owners])], "percent"),
                  ["Days to win: from the deal's opening (its creation, or the date an import gave) to its win, "
                   "over the deals won in the period whose opening is known (not after the win)."])


def _closed_deals(scope: Scope, closed: list, dialect: str) -> Any:
    """The closed deals as (owner or team, source, status, seconds from creation to close)."""
    seconds = epoch_seconds(Deal.closed_at, dialect) - epoch_seconds(Deal.created_at, dialect)
    return (select(_who(scope, Deal.owner_id).label("owner"), func.coalesce(Contact.source, NO_VALUE).label("source"),
                   Deal.status.label("status"), seconds.label("s"))
            .select_from(Deal).outerjoin(Contact, Contact.id == Deal.contact_id).where(*closed))


def _closed_counts(session: Session, scope: Scope, closed: list, dialect: str,
                   ) -> dict[tuple[str, Any], tuple[int, int]]:
    """(group, key) -> (won, lost), groups overall ("all"), owner and source: one GROUP BY owner
    and source, whose few cells are added up per owner, per source and overall."""
    sub = _closed_deals(scope, closed, dialect).subquery()
    out: dict[tuple[str, Any], tuple[int, int]] = {}
    for owner, source, won, lost in session.execute(
            select(sub.c.owner, sub.c.source, func.sum(case((sub.c.status == "won", 1), else_=0)),
                   func.sum(case((sub.c.status == "lost", 1), else_=0))).group_by(sub.c.owner, sub.c.source)):
        for key in (("overall", "all"), ("owner", owner), ("source", source)):
            before = out.get(key, (0, 0))
            out[key] = (before[0] + _int(won), before[1] + _int(lost))
    return out


def _cycles(session: Session, scope: Scope, closed: list, dialect: str,
            ) -> dict[tuple[str, Any], tuple[int, int, int, int]]:
    """(group, key) -> (sum of seconds to win, wins, sum of the one or two middle values, how
    many), for the same groups: the deals won are read once (a CTE), ranked per group."""
    # a deal recorded after it closed (imported without its opening date) has no known cycle: it
    # counts as won, but not in the days, which are never negative
    won = _closed_deals(scope, [*closed, Deal.status == "won", Deal.closed_at >= Deal.created_at], dialect).cte("won")
    ranked_parts = []
    no_owner = cast(null(), String if scope.by == "team" else Integer)
    for group, owner, source, partition in (("overall", no_owner, cast(null(), String), None),
                                            ("owner", won.c.owner, cast(null(), String), won.c.owner),
                                            ("source", no_owner, won.c.source, won.c.source)):
        over = {"partition_by": partition} if partition is not None else {}
        ranked_parts.append(select(literal(group, String).label("g"), owner.label("owner"), source.label("source"),
                                   won.c.s, func.row_number().over(order_by=won.c.s, **over).label("rn"),
                                   func.count().over(**over).label("n")))
    ranked = union_all(*ranked_parts).subquery()
    middle = and_(ranked.c.rn * 2 >= ranked.c.n, ranked.c.rn * 2 <= ranked.c.n + 2)
    out: dict[tuple[str, Any], tuple[int, int, int, int]] = {}
    for g, owner, source, total, n, mid, picks in session.execute(
            select(ranked.c.g, ranked.c.owner, ranked.c.source, func.sum(ranked.c.s), func.count(),
                   func.sum(case((middle, ranked.c.s), else_=0)), func.sum(case((middle, 1), else_=0)))
            .group_by(ranked.c.g, ranked.c.owner, ranked.c.source)):
        key = {"overall": "all", "owner": owner, "source": source}[g]
        out[(g, key)] = (_int(total), n, _int(mid), _int(picks))
    return out


# --- 4. revenue against goal ------------------------------------------------------------------


def revenue_report(session: Session, scope: Scope) -> Report:
    """Won amount per user per month (or quarter), beside the user's goal for it."""
    grain = scope.grain or _goal_grain(scope.period)
    if grain not in ("month", "quarter"):
        raise InvalidInput(f"invalid grain {grain!r} for revenue: choose month or quarter")
    b = buckets(scope.period, grain)
    start, end = scope.period.instants(scope.zone)
    idx = _bucket_expr(Deal.closed_at, b, scope.zone).label("b")
    inner = (select(idx, _who(scope, Deal.owner_id).label("who"), Deal.amount_minor)
             .where(*_deal_conditions(scope), Deal.status == "won", _in_range(Deal.closed_at, start, end))
             .subquery())
    won = {(i, owner): _int(a) for i, owner, a in session.execute(
        select(inner.c.b, inner.c.who, func.sum(inner.c.amount_minor)).group_by(inner.c.b, inner.c.who))}
    goals = _goals(session, scope, b, grain)
    names = _names(session, scope, {owner for _, owner in won} | {user for _, user in goals})
    keys = sorted(set(won) | set(goals), key=lambda k: (k[0], names.get(k[1], "")))
    rows = []
    who_key = "team" if scope.by == "team" else "user"
    for i, user_id in keys:
        amount, goal = won.get((i, user_id), 0), goals.get((i, user_id))
        rows.append(Row({"period": b.starts[i], who_key: names.get(user_id, "?"), "won_minor": amount,
                         "goal_minor": goal, "attainment": _pct(amount, goal) if goal else None},
                        Drill("deal", f"Won by {names.get(user_id, '?')}, {_bucket_label(grain, b.starts[i])}",
                              status=("won",), pipeline_id=scope.pipeline_id, currency=scope.currency,
                              closed=b.range(i, scope.zone), **_drill_who(scope, user_id))
                        if user_id is not None else None))
    total_goal = sum(r.values["goal_minor"] or 0 for r in rows)
    # attainment counts the wins of the rows that have a goal: a teammate without one must not
    # inflate it (the whole team's wins against one person's goal)
    won_against_goal = sum(r.values["won_minor"] for r in rows if r.values["goal_minor"])
    total = {"period": "Total", who_key: "", "won_minor": sum(r.values["won_minor"] for r in rows),
             "goal_minor": total_goal or None,
             "attainment": _pct(won_against_goal, total_goal) if total_goal else None}
    users_in = sorted({r.values[who_key] for r in rows})
    chart = Chart(f"Won and goal by {who_key}, whole period", users_in,
                  [("won", [sum(r.values["won_minor"] for r in rows if r.values[who_key] == u) for u in users_in]),
                   ("goal", [sum(r.values["goal_minor"] or 0 for r in rows if r.values[who_key] == u)
                             for u in users_in])], "money")
    columns = [Column("period", "Period", grain), Column(who_key, who_key.capitalize()),
               *_money_cols(("won_minor", "Won"), ("goal_minor", "Goal")), Column("attainment", "% of goal", "percent")]
    notes = ["Goals: `crm goal set USER AMOUNT --period 2026-11` (or 2026-Q4), or g in the app."]
    if grain == "quarter":
        notes.append("A quarter without its own goal has the sum of its months' goals.")
    notes += _currency_note(session, scope, Deal.status == "won", _in_range(Deal.closed_at, start, end))
    return Report("revenue", "Revenue against goal", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("revenue", f"Won per {who_key} per {grain}", columns, rows, total)], chart, notes)


def _goal_grain(period: Period) -> str:
    """A quarter (or a year, or a long custom period) is seen by quarter, where quarter goals live;
    a month, or a short custom period, by month."""
    if period.kind in ("quarter", "year"):
        return "quarter"
    if period.kind == "month":
        return "month"
    return "quarter" if (period.end - period.start).days > 100 else "month"


def _goals(session: Session, scope: Scope, b: Buckets, grain: str) -> dict[tuple[int, int], int]:
    """(bucket, user) -> goal in the report's currency. A quarter with no goal of its own takes the
    sum of its months' goals."""
    conditions = [Goal.currency == scope.currency, _in_range(Goal.period_start, scope.period.start, scope.period.end)]
    if scope.owner_id is not None:
        conditions.append(Goal.user_id == scope.owner_id)
    out: dict[tuple[int, int], int] = {}
    kinds = ("month", "quarter") if grain == "quarter" else ("month",)
    for kind in kinds:  # quarter goals last: they replace the months' sum
        idx = _bucket_expr(Goal.period_start, b, None).label("b")
        inner = select(idx, _who(scope, Goal.user_id).label("who"), Goal.amount_minor).where(
            *conditions, Goal.period_kind == kind).subquery()
        for i, user_id, amount in session.execute(
                select(inner.c.b, inner.c.who, func.sum(inner.c.amount_minor)).group_by(inner.c.b, inner.c.who)):
            out[(i, user_id)] = _int(amount)
    return out


# --- 5. team activity -------------------------------------------------------------------------


def activity_report(session: Session, scope: Scope) -> Report:
    """Calls, emails, meetings and notes per user per week; tasks done in the period and overdue now."""
    b = buckets(scope.period, "week")
    start, end = scope.period.instants(scope.zone)
    counts = _activity_counts(session, scope, b)
    done = _task_counts(session, scope, _in_range(Task.done_at, start, end))
    overdue = _task_counts(session, scope, task_service.section_conditions(scope.now, scope.zone)["overdue"])
    names = _names(session, scope, {u for _, u, _, _ in counts} | set(done) | set(overdue))
    who, who_title = ("team", "Team") if scope.by == "team" else ("user", "User")
    per_user: dict[int | None, dict[str, int]] = {}
    per_week: dict[tuple[int, int | None], dict[str, int]] = {}
    for i, user_id, kind, n in counts:  # a few hundred aggregated cells at most, never raw rows
        per_user.setdefault(user_id, dict.fromkeys(KINDS, 0))[kind] += n
        per_week.setdefault((i, user_id), dict.fromkeys(KINDS, 0))[kind] += n
    users = sorted(set(per_user) | set(done) | set(overdue), key=lambda u: names.get(u, ""))
    main = []
    for user_id in users:
        kinds = per_user.get(user_id, dict.fromkeys(KINDS, 0))
        main.append(Row({who: names.get(user_id, "?"), **{f"{k}s": kinds[k] for k in KINDS},
                         "total": sum(kinds.values()), "tasks_done": done.get(user_id, 0),
                         "overdue": overdue.get(user_id, 0)},
                        Drill("contact", f"Contacts {names.get(user_id, '?')} worked with, {scope.period.label}",
                              touched_by=user_id, touched=(start, end))
                        if user_id is not None and scope.by == "owner" else None))
    sum_keys = [*(f"{k}s" for k in KINDS), "total", "tasks_done", "overdue"]
    total = {who: "Total", **{k: sum(r.values[k] for r in main) for k in sum_keys}}
    weekly = []
    for (i, user_id), kinds in sorted(per_week.items(), key=lambda kv: (kv[0][0], names.get(kv[0][1], ""))):
        weekly.append(Row({"week": b.starts[i], who: names.get(user_id, "?"), **{f"{k}s": kinds[k] for k in KINDS},
                           "total": sum(kinds.values())}))
    kind_cols = [Column(f"{k}s", f"{k.capitalize()}s", "int") for k in KINDS]
    week_totals = [sum(r.values["total"] for r in weekly if r.values["week"] == w) for w in b.starts]
    return Report("activity", "Team activity", scope.period, scope.currency, scope.owner_id, None, [
        Table("users", f"Activities and tasks per {who}", [Column(who, who_title), *kind_cols,
              Column("total", "Total", "int"), Column("tasks_done", "Done", "int"), Column("overdue", "Overdue", "int")],
              main, total),
        Table("weekly", f"Activities per {who} per week", [Column("week", "Week", "week"), Column(who, who_title),
              *kind_cols, Column("total", "Total", "int")], weekly),
    ], Chart("Activities per week", [f"{w:%d}" for w in b.starts], [("activities", week_totals)], over_time=True),
        ["Done: tasks completed in the period. Overdue: open tasks past due now (snoozed ones wait)."])


def _activity_counts(session: Session, scope: Scope, b: Buckets) -> list[tuple[int, int | None, str, int]]:
    """(bucket, user, kind, activities), the non-zero cells only.

    One COUNT per cell, each a range scan of ix_activities_user_kind_time (user, kind, time): the
    scans together read each activity of the period once, from the index alone, and nothing is
    sorted (a GROUP BY over the period's rows sorted them all: seconds for a year of 1M)."""
    edges, kinds = bucket_table(b, scope.zone), _constants("kinds", KINDS)
    users = select(User.id.label("id"))
    if scope.owner_id is not None:
        users = users.where(User.id == scope.owner_id)
    users = users.cte("who")

    def cells(user_key: Any, user_match: Any) -> Any:
        n = (select(func.count()).select_from(Activity)
             .where(user_match, Activity.kind == kinds.c.value,
                    Activity.occurred_at >= edges.c.lo, Activity.occurred_at < edges.c.hi)
             .scalar_subquery())
        return select(edges.c.i, user_key.label("user_id"), kinds.c.value.label("kind"), n.label("n"))

    parts = [cells(users.c.id, Activity.user_id == users.c.id).select_from(edges).join(users, literal(True))
             .join(kinds, literal(True))]
    if scope.owner_id is None:  # activities of nobody (their user was removed)
        parts.append(cells(cast(null(), Integer), Activity.user_id.is_(None)).select_from(edges)
                     .join(kinds, literal(True)))
    cells_query = union_all(*parts)
    if scope.by == "team":  # the users' cells summed per team, in SQL
        per_user = cells_query.subquery()
        team = _who(scope, per_user.c.user_id).label("team")
        inner = select(per_user.c.i, team, per_user.c.kind, per_user.c.n).subquery()
        cells_query = (select(inner.c.i, inner.c.team, inner.c.kind, func.sum(inner.c.n))
                       .group_by(inner.c.i, inner.c.team, inner.c.kind))
    # zero cells are dropped here: at most users x 4 kinds x 53 weeks aggregated values, never rows
    return [(i, user_id, kind, _int(n)) for i, user_id, kind, n in session.execute(cells_query) if n]


def _task_counts(session: Session, scope: Scope, condition: Any) -> dict[int | None, int]:
    owner = [Task.assignee_id == scope.owner_id] if scope.owner_id is not None else []
    if scope.by == "team":
        inner = select(_who(scope, Task.assignee_id).label("who")).where(condition, *owner).subquery()
        return dict(session.execute(select(inner.c.who, func.count()).group_by(inner.c.who)).all())
    stmt = select(Task.assignee_id, func.count()).where(condition, *owner).group_by(Task.assignee_id)
    return dict(session.execute(stmt).all())


# --- 6. sources -----------------------------------------------------------------------------


def sources_report(session: Session, scope: Scope) -> Report:
    """New contacts per source per month, and how many of them became customers (a customer or
    former customer now, or with a won deal)."""
    b = buckets(scope.period, "month")
    start, end = scope.period.instants(scope.zone)
    conditions = [Contact.archived.is_(False)]
    if scope.owner_id is not None:
        conditions.append(Contact.owner_id == scope.owner_id)
    source = func.coalesce(Contact.source, NO_VALUE)
    # one pass over the period's contacts, from ix_contacts_created_source alone, one range per month
    edges = bucket_table(b, scope.zone)
    inner = (select(edges.c.i.label("b"), source.label("source"),
                    case((Contact.lifecycle.in_(CONVERTED_LIFECYCLES), 1), else_=0).label("conv"))
             .select_from(edges)
             .join(Contact, and_(Contact.created_at >= edges.c.lo, Contact.created_at < edges.c.hi))
             .where(*conditions).subquery())
    monthly_cells = session.execute(select(inner.c.b, inner.c.source, func.count(), func.sum(inner.c.conv))
                                    .group_by(inner.c.b, inner.c.source)
                                    .order_by(inner.c.b, inner.c.source)).all()
    # the other customers: not customers by lifecycle (never NULL), but with a won deal; a semi-join
    # on its own query, not a probe per contact inside the one above (PostgreSQL then costs that
    # one so high that it compiles it with JIT, for longer than it runs)
    won_deal = select(Deal.id).where(Deal.contact_id == Contact.id, Deal.status == "won").exists()
    by_deal_inner = (select(source.label("source"))
                     .where(*conditions, _in_range(Contact.created_at, start, end),
                            Contact.lifecycle.not_in(CONVERTED_LIFECYCLES), won_deal).subquery())
    by_deal = dict(session.execute(select(by_deal_inner.c.source, func.count()).group_by(by_deal_inner.c.source)).all())
    monthly = [(i, value, n) for i, value, n, _ in monthly_cells]
    per_cell: dict[str, list[int]] = {}
    for _, value, n, conv in monthly_cells:  # a few dozen aggregated cells: sources x months
        totals = per_cell.setdefault(value, [0, by_deal.get(value, 0)])
        totals[0] += n
        totals[1] += _int(conv)
    per_source = [(value, n, conv) for value, (n, conv) in per_cell.items()]
    rows = []
    for value, new, conv in sorted(per_source, key=lambda r: (-r[1], r[0])):
        name = _source_name(value)
        rows.append(Row({"source": name, "new": new, "customers": _int(conv), "conversion": _pct(_int(conv), new)},
                        Drill("contact", f"Contacts from {name} added {scope.period.label}", owner_id=scope.owner_id,
                              source=value, created=(start, end))))
    total_new = sum(r.values["new"] for r in rows)
    total_conv = sum(r.values["customers"] for r in rows)
    total = {"source": "Total", "new": total_new, "customers": total_conv, "conversion": _pct(total_conv, total_new)}
    month_rows = [Row({"month": b.starts[i], "source": _source_name(value), "new": n},
                      Drill("contact", f"Contacts from {_source_name(value)} added {b.starts[i]:%B %Y}",
                            owner_id=scope.owner_id, source=value, created=b.range(i, scope.zone)))
                  for i, value, n in monthly]
    columns = [Column("source", "Source"), Column("new", "New", "int"), Column("customers", "Customers", "int"),
               Column("conversion", "Conv %", "percent")]
    return Report("sources", "Sources", scope.period, scope.currency, scope.owner_id, None, [
        Table("sources", "New contacts and conversion per source", columns, rows, total),
        Table("monthly", "New contacts per source per month",
              [Column("month", "Month", "month"), Column("source", "Source"), Column("new", "New", "int")], month_rows),
    ], Chart("New contacts and customers by source", [r.values["source"] for r in rows],
             [("new", [r.values["new"] for r in rows]), ("customers", [r.values["customers"] for r in rows])]),
        ["Customers: contacts added in the period who are customers (or former customers) now, or have a won deal."])


def _source_name(value: str | None) -> str:
    return (value or "(none)").replace("_", " ")


# --- 7. stale deals -------------------------------------------------------------------------


def stale_report(session: Session, scope: Scope) -> Report:
    """Open deals longer in their stage than its rotting threshold, the longest first."""
    stages = session.execute(select(Stage.id, Stage.name, Stage.rotting_days).join(Pipeline)
                             .where(Stage.kind == "open", Stage.rotting_days.is_not(None),
                                    *([Stage.pipeline_id == scope.pipeline_id] if scope.pipeline_id else []))
                             .order_by(Pipeline.position, Stage.position)).all()
    cutoffs = tuple((stage_id, scope.now - timedelta(days=days)) for stage_id, _, days in stages)
    stale = _stale_condition(cutoffs)
    base = [*_deal_conditions(scope), Deal.status == "open", stale]
    per_stage = {stage_id: (n, _int(a)) for stage_id, n, a in session.execute(
        select(Deal.stage_id, func.count(), func.sum(Deal.amount_minor)).where(*base).group_by(Deal.stage_id))}
    owner = aliased(User)
    listed = session.execute(
        select(Deal.id, Deal.title, Stage.name, owner.login, Deal.amount_minor, Deal.stage_entered_at, Deal.stage_id)
        .join(Stage, Stage.id == Deal.stage_id).outerjoin(owner, owner.id == Deal.owner_id)
        .where(*base).order_by(Deal.stage_entered_at, Deal.id).limit(STALE_ROWS)).all()
    now = resolve_now(scope.now)
    rows = [Row({"deal": title, "stage": stage, "owner": login or "(nobody)", "amount_minor": amount,
                 "days_in_stage": (now - entered).days, "id": deal_id},
                Drill("deal", f"Stale deals in {stage}", status=("open",), stage_id=stage_id, owner_id=scope.owner_id,
                      currency=scope.currency, stale=tuple(c for c in cutoffs if c[0] == stage_id),
                      sort="stage_entered"))
            for deal_id, title, stage, login, amount, entered, stage_id in listed]
    count = sum(n for n, _ in per_stage.values())
    total = {"deal": f"{count:,} stale deals", "amount_minor": sum(a for _, a in per_stage.values())}
    notes = []
    if count > len(rows):
        notes.append(f"The {len(rows)} longest in their stage of {count:,}; Enter lists all of a stage's.")
    if not stages:
        notes.append("No stage has a rotting threshold; set one with `crm pipeline` (rotting days).")
    notes += _currency_note(session, scope, Deal.status == "open", stale)
    names = [(stage_id, name) for stage_id, name, _ in stages if stage_id in per_stage]
    columns = [Column("deal", "Deal"), Column("stage", "Stage"), Column("owner", "Owner"),
               *_money_cols(("amount_minor", "Amount")), Column("days_in_stage", "Days in stage", "int")]
    return Report("stale", "Stale deals", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("deals", "Open deals past their stage's rotting days", columns, rows, total)],
                  Chart("Stale deals by stage", [n for _, n in names], [("deals", [per_stage[s][0] for s, _ in names])]),
                  notes)


def _stale_condition(cutoffs: tuple[tuple[int, datetime], ...]) -> Any:
    if not cutoffs:
        return literal(False)
    return or_(*(and_(Deal.stage_id == stage_id, Deal.stage_entered_at < cutoff) for stage_id, cutoff in cutoffs))


# --- 8. lost reasons ------------------------------------------------------------------------


def lost_reasons_report(session: Session, scope: Scope) -> Report:
    """Deals lost in the period, per reason: how many and how much."""
    start, end = scope.period.instants(scope.zone)
    reason = func.coalesce(Deal.lost_reason, NO_VALUE)
    inner = (select(reason.label("reason"), Deal.amount_minor)
             .where(*_deal_conditions(scope), Deal.status == "lost", _in_range(Deal.closed_at, start, end)).subquery())
    found = session.execute(select(inner.c.reason, func.count(), func.sum(inner.c.amount_minor))
                            .group_by(inner.c.reason)).all()
    found = sorted(((r, n, _int(a)) for r, n, a in found), key=lambda x: (-x[1], -x[2], x[0]))
    total_n = sum(n for _, n, _ in found)
    rows = [Row({"reason": r or "(no reason)", "deals": n, "amount_minor": a, "share": _pct(n, total_n)},
                Drill("deal", f"Lost {scope.period.label}: {r or '(no reason)'}", status=("lost",), lost_reason=r,
                      pipeline_id=scope.pipeline_id, owner_id=scope.owner_id, currency=scope.currency,
                      closed=(start, end)))
            for r, n, a in found]
    total = {"reason": "Total", "deals": total_n, "amount_minor": sum(a for _, _, a in found),
             "share": 100.0 if total_n else None}
    columns = [Column("reason", "Reason"), Column("deals", "Deals", "int"), *_money_cols(("amount_minor", "Amount")),
               Column("share", "Share %", "percent")]
    notes = _currency_note(session, scope, Deal.status == "lost", _in_range(Deal.closed_at, start, end))
    return Report("lost-reasons", "Lost reasons", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("reasons", "Deals lost per reason", columns, rows, total)],
                  Chart("Lost deals by reason", [r.values["reason"] for r in rows],
                        [("deals", [r.values["deals"] for r in rows])]), notes)


# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSpec:
    name: str
    title: str
    summary: str
    run: Callable[[Session, Scope], Report]
    uses_pipeline: bool
    uses_period: bool = True
    groupings: tuple[str, ...] = ()  # besides the owner (see GROUPINGS)


REPORTS: dict[str, ReportSpec] = {spec.name: spec for spec in (
    ReportSpec("pipeline", "Pipeline by stage", "Open deals, amount and weighted per stage; stage-to-stage conversion",
               pipeline_report, True),
    ReportSpec("forecast", "Forecast", "Open deals by month of expected close, raw and weighted, beside won",
               forecast_report, True),
    ReportSpec("win-rate", "Win rate and sales cycle", "Won ÷ (won + lost), days to win; overall, by owner, by source",
               win_rate_report, True, groupings=("team",)),
    ReportSpec("revenue", "Revenue against goal", "Won amount per user per month or quarter against the goal",
               revenue_report, True, groupings=("team",)),
    ReportSpec("activity", "Team activity", "Calls, emails, meetings, notes per user per week; tasks done, overdue",
               activity_report, False, groupings=("team",)),
    ReportSpec("sources", "Sources", "New contacts per source per month, and each source's conversion",
               sources_report, False),
    ReportSpec("stale", "Stale deals", "Open deals past their stage's rotting days, with owner and days in stage",
               stale_report, True, uses_period=False),
    ReportSpec("lost-reasons", "Lost reasons", "Deals lost in the period: count and amount per reason",
               lost_reasons_report, True),
)}


def _grouping(spec: ReportSpec, by: str | None) -> str:
    key = (by or "owner").strip().lower()
    if key not in GROUPINGS:
        raise InvalidInput(f"invalid grouping {by!r}: choose one of {', '.join(GROUPINGS)}")
    if key != "owner" and key not in spec.groupings:
        can = [name for name, other in REPORTS.items() if key in other.groupings]
        raise InvalidInput(f"report {spec.name} cannot group by {key}; these can: {', '.join(can)}")
    return key


def run_report(session: Session, *, name: str, period: Period, zone: tzinfo, currency: str,
               owner_id: int | None = None, pipeline_id: int | None = None, grain: str | None = None,
               now: datetime | None = None, actor: Actor | None = None, by: str | None = None) -> Report:
    """Compute one report. `zone` is the team's: every day, week and month boundary is there.
    `by` "team" groups the per-owner reports (revenue, win-rate, activity) by the owners' team."""
    owner_id = permissions.report_owner(session, actor, name or "", owner_id)
    spec = REPORTS.get((name or "").strip().lower())
    if spec is None:
        raise InvalidInput(f"no report {name!r}: choose one of {', '.join(REPORTS)}")
    by = _grouping(spec, by)
    scope = Scope(period=period, zone=zone, now=resolve_now(now), currency=v.currency_code(currency),
                  owner_id=owner_id, pipeline_id=pipeline_id if spec.uses_pipeline else None, grain=grain, by=by)
    report = spec.run(session, scope)
    report.zone = getattr(zone, "key", None) or str(zone)
    report.uses_period = spec.uses_period
    report.by = by
    if owner_id is not None:
        report.owner_login = session.scalar(select(User.login).where(User.id == owner_id))
    return report


# --- drill-down -----------------------------------------------------------------------------

_DEAL_SORTS = {"amount": SortKey(Deal.amount_minor, Deal.id, descending=True),
               "stage_entered": SortKey(Deal.stage_entered_at, Deal.id)}
_CONTACT_SORT = SortKey(Contact.sort_name, Contact.id)


def _drill_deal_conditions(d: Drill) -> list:
    conditions = [Deal.archived.is_(False)]
    if d.status:
        conditions.append(Deal.status.in_(d.status))
    for column, value in ((Deal.pipeline_id, d.pipeline_id), (Deal.stage_id, d.stage_id),
                          (Deal.owner_id, d.owner_id), (Deal.currency, d.currency)):
        if value is not None:
            conditions.append(column == value)
    if d.team is not None:
        team = select(User.team).where(User.id == Deal.owner_id).scalar_subquery()
        conditions.append(func.coalesce(team, NO_VALUE) == d.team)
    for column, span in ((Deal.created_at, d.created), (Deal.closed_at, d.closed), (Deal.expected_close, d.expected)):
        if span is not None:
            conditions.append(_in_range(column, *span))
    if d.lost_reason is not None:
        conditions.append(Deal.lost_reason.is_(None) if d.lost_reason == NO_VALUE else Deal.lost_reason == d.lost_reason)
    if d.source is not None:
        contact_source = select(Contact.source).where(Contact.id == Deal.contact_id).scalar_subquery()
        conditions.append(func.coalesce(contact_source, NO_VALUE) == d.source)
    if d.stale:
        conditions.append(_stale_condition(d.stale))
    return conditions


def _drill_contact_conditions(d: Drill) -> list:
    conditions = [Contact.archived.is_(False)]
    if d.owner_id is not None:
        conditions.append(Contact.owner_id == d.owner_id)
    if d.created is not None:
        conditions.append(_in_range(Contact.created_at, *d.created))
    if d.source is not None:
        conditions.append(Contact.source.is_(None) if d.source == NO_VALUE else Contact.source == d.source)
    if d.converted:
        won_deal = select(Deal.id).where(Deal.contact_id == Contact.id, Deal.status == "won").exists()
        conditions.append(or_(Contact.lifecycle.in_(CONVERTED_LIFECYCLES), won_deal))
    if d.touched_by is not None and d.touched is not None:
        touched = select(Activity.id).where(Activity.contact_id == Contact.id, Activity.user_id == d.touched_by,
                                            Activity.kind.in_(KINDS), _in_range(Activity.occurred_at, *d.touched))
        conditions.append(touched.exists())
    return conditions


def drill_page(session: Session, *, drill: Drill, after: str | None = None, before: str | None = None,
               limit: int = 50, with_total: bool = False) -> Page[DealRow] | Page[ContactRow]:
    """One keyset page of the deals (DealRow) or contacts (ContactRow) under a report row."""
    if drill.entity == "deal":
        return _drill_deals(session, drill, after, before, limit, with_total)
    if drill.entity == "contact":
        return _drill_contacts(session, drill, after, before, limit, with_total)
    raise InvalidInput(f"invalid drill-down {drill.entity!r}")


def _drill_deals(session: Session, drill: Drill, after, before, limit: int, with_total: bool) -> Page[DealRow]:
    key = _DEAL_SORTS[drill.sort]
    return deal_service.deal_page(session, _drill_deal_conditions(drill), key, after=after, before=before,
                                  limit=limit, with_total=with_total)


def _drill_contacts(session: Session, drill: Drill, after, before, limit: int, with_total: bool) -> Page[ContactRow]:
    conditions = _drill_contact_conditions(drill)
    company, owner = aliased(Company), aliased(User)
    stmt = (select(Contact.id, Contact.full_name, company.name.label("company_name"), Contact.email, Contact.phone,
                   Contact.lifecycle, owner.login.label("owner_login"), Contact.last_contacted_at, Contact.created_at,
                   Contact.sort_name.label("sort_value"))
            .outerjoin(company, company.id == Contact.company_id)
            .outerjoin(owner, owner.id == Contact.owner_id)
            .where(*conditions))
    rows, next_, prev_ = keyset_page(session, stmt, _CONTACT_SORT, row_key=lambda r: (r.sort_value, r.id),
                                     after=after, before=before, limit=limit)
    items = [ContactRow(r.id, r.full_name, r.company_name, r.email, r.phone, r.lifecycle, r.owner_login,
                        r.last_contacted_at, r.created_at) for r in rows]
    total = session.scalar(select(func.count()).select_from(Contact).where(*conditions)) if with_total else None
    return Page(items, next_, prev_, total)


# --- printing: the same cells for the app, the table, CSV and JSON ----------------------------


def _bucket_label(kind: str, day: date) -> str:
    if kind == "month":
        return f"{day:%b %Y}"
    if kind == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if kind == "week":
        return f"{day:%b %d}"
    return day.isoformat()


def format_cell(column: Column, value: Any, currency: str) -> str:
    """A value as a person reads it: $1,250.00, 66.7%, 12.5 d, Nov 2026."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if column.kind == "money":
        return v.format_money(int(value), currency)
    if column.kind == "percent":
        return f"{value:.1f}%"
    if column.kind == "days":
        return f"{value:.1f}"
    if column.kind in ("week", "month", "quarter") and isinstance(value, date):
        return _bucket_label(column.kind, value)
    if column.kind == "int":
        return f"{value:,}"
    return str(value)


def major_units(amount_minor: int, currency: str) -> str:
    """An amount in minor units as a plain decimal in major units ("1250.00"), exactly."""
    digits = v.currency_digits(currency)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def _plain(column: Column, value: Any, currency: str) -> Any:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if column.kind == "money" and isinstance(value, int):
        return major_units(value, currency)
    return value


def csv_key(column: Column) -> str:
    return column.key.removesuffix("_minor") if column.kind == "money" else column.key


def to_csv(report: Report, table: Table) -> str:
    """The table as CSV: machine values (ISO dates, money as decimals in major units, no separators)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_key(c) for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if (val := _plain(c, row.values.get(c.key), report.currency)) is None else val
                         for c in table.columns])
    return out.getvalue()


def to_json(report: Report) -> dict:
    """The whole report as plain JSON values; money stays integer minor units (keys end in _minor)."""
    def values(cols: list[Column], data: dict) -> dict:
        return {c.key: (data.get(c.key).isoformat() if isinstance(data.get(c.key), date) else data.get(c.key))
                for c in cols if c.key in data}
    return {
        "report": report.name, "title": report.title, "currency": report.currency, "time_zone": report.zone,
        "period": {"from": report.period.start.isoformat(), "to": report.period.last_day.isoformat(),
                   "label": report.period.label, "kind": report.period.kind},
        "as_of_now": not report.uses_period, "owner_id": report.owner_id, "owner": report.owner_login,
        "pipeline_id": report.pipeline_id, "by": report.by, "notes": report.notes,
        "tables": [{"key": t.key, "title": t.title, "columns": [{"key": c.key, "title": c.title, "kind": c.kind}
                                                                 for c in t.columns],
                    "rows": [values(t.columns, r.values) for r in t.rows],
                    "total": values(t.columns, t.total) if t.total else None} for t in report.tables],
    }
