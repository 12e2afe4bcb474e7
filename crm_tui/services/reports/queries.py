"""The eight reports' queries: each a few GROUP BY statements over the buckets, money in minor units."""

from __future__ import annotations

from collections.abc import Iterable

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, Contact, Deal, Goal, Pipeline, Stage, Task, User
from crm_tui.services import conversion
from crm_tui.services import pipelines as pipeline_service
from crm_tui.services import tasks as task_service
from crm_tui.services.words import plural
from crm_tui.services.reports.bucketing import (
    Buckets, bucket_expr, bucket_label, bucket_table, buckets, constant_rows, in_range,
)
from crm_tui.services.reports.periods import Period
from crm_tui.services.reports.shapes import (
    CONVERTED_LIFECYCLES, KINDS, NO_TEAM, NO_VALUE, Chart, Column, Drill, Report, Row, Scope, Table,
)


STALE_ROWS = 100


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
    if currency and not scope.convert:
        conditions.append(Deal.currency == scope.currency)
    return conditions


def _amount(scope: Scope, amount: Any = None) -> Any:
    """A deal's amount as the report adds it: as it is (the report's currency only), or converted
    into the report's currency at the rate of the deal's close day (today for open deals)."""
    if not scope.convert:
        return Deal.amount_minor if amount is None else amount
    return conversion.deal_amount(scope.currency, scope.today, amount)


def _drill_code(scope: Scope) -> str | None:
    return None if scope.convert else scope.currency


MISSING_LISTED = 5


def missing_rates_note(session: Session, scope: Scope, *conditions: Any, amount: Any = None, source: Any = None,
                       what: str = "deal") -> list[str]:
    """The deals (matching `conditions`, over `source`: the deals, or deals joined to their items)
    with no rate into the report's currency on their day: counted, and the first few named, never
    dropped silently."""
    missing = [*conditions, Deal.currency != scope.currency, _amount(scope, amount).is_(None)]
    source = Deal if source is None else source
    count = session.scalar(select(func.count(func.distinct(Deal.id))).select_from(source).where(*missing)) or 0
    if not count:
        return []
    listed = session.execute(select(Deal.id, Deal.title, Deal.currency).select_from(source).where(*missing)
                             .group_by(Deal.id, Deal.title, Deal.currency)
                             .order_by(Deal.id).limit(MISSING_LISTED)).all()
    names = "; ".join(f"#{i} {title} ({code})" for i, title, code in listed)
    more = f"; and {count - len(listed):,} more" if count > len(listed) else ""
    return [f"No rate into {scope.currency} on their date, so not in the amounts: {plural(count, what)}: "
            f"{names}{more} (add one with `crm fx set`)."]


def _currency_note(session: Session, scope: Scope, *extra: Any) -> list[str]:
    """Deals the same filters found in other currencies: said, never added in (or, converting,
    the deals that have no rate)."""
    if scope.convert:
        return [conversion_note(scope), *missing_rates_note(session, scope, *_deal_conditions(scope), *extra)]
    rows = session.execute(
        select(Deal.currency, func.count()).where(*_deal_conditions(scope, currency=False), *extra,
                                                  Deal.currency != scope.currency)
        .group_by(Deal.currency).order_by(Deal.currency)).all()
    if not rows:
        return []
    parts = ", ".join(f"{count:,} in {code}" for code, count in rows)
    return [f"Amounts are in {scope.currency}; not included: {parts} (choose that currency to see them, "
            f"or convert them with --convert)."]


def conversion_note(scope: Scope) -> str:
    return (f"Converted to {scope.currency} at the rate on each deal's close date (today's for open deals); "
            f"see `crm fx list`.")


def epoch_seconds(column: Any, dialect: str) -> Any:
    """Whole seconds since 1970 (floored), the same integer on both databases."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def _logins(session: Session, ids: Iterable[int | None], *, none: str = "(nobody)") -> dict[int | None, str]:
    """The users' logins by id, in one query; `none` for no user."""
    known = {i for i in ids if i is not None}
    found = dict(session.execute(select(User.id, User.login).where(User.id.in_(known))).all()) if known else {}
    return {**found, None: none}


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


def drill_who(scope: Scope, key: Any) -> dict:
    """The drill-down filter of one group: its owner (never "nobody"), or its team."""
    return {"team": key} if scope.by == "team" else {"owner_id": key}


def _money_cols(*pairs: tuple[str, str]) -> list[Column]:
    return [Column(key, title, "money") for key, title in pairs]


def pipeline_report(session: Session, scope: Scope) -> Report:
    """Open deals now per stage (count, amount, weighted), and the conversion from each stage to
    the next among the deals added in the period."""
    pipeline = pipeline_service.resolve_pipeline(session, scope.pipeline_id)
    scope = replace(scope, pipeline_id=pipeline.id)
    open_stages = [s for s in pipeline.stages if s.kind == "open"]
    inner = (select(Deal.stage_id, _amount(scope).label("a"), Stage.probability.label("p"))
             .join(Stage, Stage.id == Deal.stage_id)
             .where(*_deal_conditions(scope), Deal.status == "open").subquery())
    open_rows = session.execute(
        select(inner.c.stage_id, func.count(), func.sum(inner.c.a), func.sum(inner.c.a * inner.c.p))
        .group_by(inner.c.stage_id)).all()
    by_stage = {stage_id: (count, _int(amount), _weighted(weighted)) for stage_id, count, amount, weighted in open_rows}
    reached = _funnel(session, scope, [s.position for s in open_stages])
    rows, chart_amount, chart_weighted = [], [], []
    for i, stage in enumerate(open_stages):
        count, amount, weighted = by_stage.get(stage.id, (0, 0, 0))
        nxt = reached[i + 1] if i + 1 < len(open_stages) else reached[-1]
        rows.append(Row({"stage": stage.name, "probability": stage.probability, "deals": count, "amount_minor": amount,
                         "weighted_minor": weighted, "reached": reached[i], "conversion": _pct(nxt, reached[i])},
                        Drill("deal", f"{stage.name}: open deals", status=("open",), stage_id=stage.id,
                              owner_id=scope.owner_id, currency=_drill_code(scope))))
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
    added = [*_deal_conditions(scope, currency=False), in_range(Deal.created_at, start, end)]
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


def forecast_report(session: Session, scope: Scope) -> Report:
    """Open deals by month of expected close (raw and weighted), beside the amount won each month."""
    b = buckets(scope.period, "month")
    start, end = scope.period.instants(scope.zone)
    idx = bucket_expr(Deal.expected_close, b, None).label("b")
    inner = (select(idx, _amount(scope).label("amount_minor"), Stage.probability.label("p")).select_from(Deal)
             .join(Stage, Stage.id == Deal.stage_id)
             .where(*_deal_conditions(scope), Deal.status == "open",
                    in_range(Deal.expected_close, scope.period.start, scope.period.end))
             .subquery())
    open_by = {i: (n, _int(a), _weighted(w)) for i, n, a, w in session.execute(
        select(inner.c.b, func.count(), func.sum(inner.c.amount_minor), func.sum(inner.c.amount_minor * inner.c.p))
        .group_by(inner.c.b))}
    won_idx = bucket_expr(Deal.closed_at, b, scope.zone).label("b")
    won_inner = (select(won_idx, _amount(scope).label("amount_minor"))
                 .where(*_deal_conditions(scope), Deal.status == "won", in_range(Deal.closed_at, start, end))
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
                              pipeline_id=scope.pipeline_id, owner_id=scope.owner_id, currency=_drill_code(scope),
                              expected=b.days(i))))
    keys = ("open", "amount_minor", "weighted_minor", "won_deals", "won_minor")
    total = {"month": "Total", **{k: sum(r.values[k] for r in rows) for k in keys}}
    columns = [Column("month", "Month", "month"), Column("open", "Open", "int"),
               *_money_cols(("amount_minor", "Amount"), ("weighted_minor", "Weighted")),
               Column("won_deals", "Won #", "int"), *_money_cols(("won_minor", "Won"))]
    notes = _currency_note(session, scope, or_(and_(Deal.status == "open",
                                                    in_range(Deal.expected_close, scope.period.start, scope.period.end)),
                                               and_(Deal.status == "won", in_range(Deal.closed_at, start, end))))
    return Report("forecast", "Forecast", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("months", "Forecast by month", columns, rows, total)],
                  Chart("Weighted forecast and won by month", [f"{m:%b}" for m in b.starts],
                        [("weighted", [r.values["weighted_minor"] for r in rows]),
                         ("won", [r.values["won_minor"] for r in rows])], "money", over_time=True), notes)


def win_rate_report(session: Session, scope: Scope) -> Report:
    """Won / (won + lost) of the deals closed in the period, and the days from creation to a win
    (average and median), overall, per owner and per source of the deal's contact."""
    start, end = scope.period.instants(scope.zone)
    dialect = session.get_bind().dialect.name
    closed = [*_deal_conditions(scope, currency=False), Deal.status.in_(("won", "lost")),
              in_range(Deal.closed_at, start, end)]
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
            who = drill_who(scope, value) if group == "owner" else {"owner_id": scope.owner_id}
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


def revenue_report(session: Session, scope: Scope) -> Report:
    """Won amount per user per month (or quarter), beside the user's goal for it."""
    grain = scope.grain or _goal_grain(scope.period)
    if grain not in ("month", "quarter"):
        raise InvalidInput(f"invalid grain {grain!r} for revenue: choose month or quarter")
    b = buckets(scope.period, grain)
    start, end = scope.period.instants(scope.zone)
    idx = bucket_expr(Deal.closed_at, b, scope.zone).label("b")
    inner = (select(idx, _who(scope, Deal.owner_id).label("who"), _amount(scope).label("amount_minor"))
             .where(*_deal_conditions(scope), Deal.status == "won", in_range(Deal.closed_at, start, end))
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
                        Drill("deal", f"Won by {names.get(user_id, '?')}, {bucket_label(grain, b.starts[i])}",
                              status=("won",), pipeline_id=scope.pipeline_id, currency=_drill_code(scope),
                              closed=b.range(i, scope.zone), **drill_who(scope, user_id))
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
    notes = ["Goals: g sets one in the app, `crm goal set` on the command line."]
    if grain == "quarter":
        notes.append("A quarter without its own goal has the sum of its months' goals.")
    notes += _currency_note(session, scope, Deal.status == "won", in_range(Deal.closed_at, start, end))
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
    conditions = [Goal.currency == scope.currency, in_range(Goal.period_start, scope.period.start, scope.period.end)]
    if scope.owner_id is not None:
        conditions.append(Goal.user_id == scope.owner_id)
    out: dict[tuple[int, int], int] = {}
    kinds = ("month", "quarter") if grain == "quarter" else ("month",)
    for kind in kinds:  # quarter goals last: they replace the months' sum
        idx = bucket_expr(Goal.period_start, b, None).label("b")
        inner = select(idx, _who(scope, Goal.user_id).label("who"), Goal.amount_minor).where(
            *conditions, Goal.period_kind == kind).subquery()
        for i, user_id, amount in session.execute(
                select(inner.c.b, inner.c.who, func.sum(inner.c.amount_minor)).group_by(inner.c.b, inner.c.who)):
            out[(i, user_id)] = _int(amount)
    return out


def activity_report(session: Session, scope: Scope) -> Report:
    """Calls, emails, meetings and notes per user per week; tasks done in the period and overdue now."""
    b = buckets(scope.period, "week")
    start, end = scope.period.instants(scope.zone)
    counts = _activity_counts(session, scope, b)
    done = _task_counts(session, scope, in_range(Task.done_at, start, end))
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
    edges, kinds = bucket_table(b, scope.zone), constant_rows("kinds", KINDS)
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
                     .where(*conditions, in_range(Contact.created_at, start, end),
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


def stale_report(session: Session, scope: Scope) -> Report:
    """Open deals longer in their stage than its rotting threshold, the longest first."""
    stages = session.execute(select(Stage.id, Stage.name, Stage.rotting_days).join(Pipeline)
                             .where(Stage.kind == "open", Stage.rotting_days.is_not(None),
                                    *([Stage.pipeline_id == scope.pipeline_id] if scope.pipeline_id else []))
                             .order_by(Pipeline.position, Stage.position)).all()
    cutoffs = tuple((stage_id, scope.now - timedelta(days=days)) for stage_id, _, days in stages)
    stale = stale_condition(cutoffs)
    base = [*_deal_conditions(scope), Deal.status == "open", stale]
    per_stage = {stage_id: (n, _int(a)) for stage_id, n, a in session.execute(
        select(Deal.stage_id, func.count(), func.sum(_amount(scope))).where(*base).group_by(Deal.stage_id))}
    owner = aliased(User)
    listed = session.execute(
        select(Deal.id, Deal.title, Stage.name, owner.login, _amount(scope), Deal.stage_entered_at, Deal.stage_id)
        .join(Stage, Stage.id == Deal.stage_id).outerjoin(owner, owner.id == Deal.owner_id)
        .where(*base).order_by(Deal.stage_entered_at, Deal.id).limit(STALE_ROWS)).all()
    now = resolve_now(scope.now)
    rows = [Row({"deal": title, "stage": stage, "owner": login or "(nobody)", "amount_minor": amount,
                 "days_in_stage": (now - entered).days, "id": deal_id},
                Drill("deal", f"Stale deals in {stage}", status=("open",), stage_id=stage_id, owner_id=scope.owner_id,
                      currency=_drill_code(scope), stale=tuple(c for c in cutoffs if c[0] == stage_id),
                      sort="stage_entered"))
            for deal_id, title, stage, login, amount, entered, stage_id in listed]
    count = sum(n for n, _ in per_stage.values())
    total = {"deal": plural(count, "stale deal"), "amount_minor": sum(a for _, a in per_stage.values())}
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


def stale_condition(cutoffs: tuple[tuple[int, datetime], ...]) -> Any:
    if not cutoffs:
        return literal(False)
    return or_(*(and_(Deal.stage_id == stage_id, Deal.stage_entered_at < cutoff) for stage_id, cutoff in cutoffs))


def lost_reasons_report(session: Session, scope: Scope) -> Report:
    """Deals lost in the period, per reason: how many and how much."""
    start, end = scope.period.instants(scope.zone)
    reason = func.coalesce(Deal.lost_reason, NO_VALUE)
    inner = (select(reason.label("reason"), _amount(scope).label("amount_minor"))
             .where(*_deal_conditions(scope), Deal.status == "lost", in_range(Deal.closed_at, start, end)).subquery())
    found = session.execute(select(inner.c.reason, func.count(), func.sum(inner.c.amount_minor))
                            .group_by(inner.c.reason)).all()
    found = sorted(((r, n, _int(a)) for r, n, a in found), key=lambda x: (-x[1], -x[2], x[0]))
    total_n = sum(n for _, n, _ in found)
    rows = [Row({"reason": r or "(no reason)", "deals": n, "amount_minor": a, "share": _pct(n, total_n)},
                Drill("deal", f"Lost {scope.period.label}: {r or '(no reason)'}", status=("lost",), lost_reason=r,
                      pipeline_id=scope.pipeline_id, owner_id=scope.owner_id, currency=_drill_code(scope),
                      closed=(start, end)))
            for r, n, a in found]
    total = {"reason": "Total", "deals": total_n, "amount_minor": sum(a for _, _, a in found),
             "share": 100.0 if total_n else None}
    columns = [Column("reason", "Reason"), Column("deals", "Deals", "int"), *_money_cols(("amount_minor", "Amount")),
               Column("share", "Share %", "percent")]
    notes = _currency_note(session, scope, Deal.status == "lost", in_range(Deal.closed_at, start, end))
    return Report("lost-reasons", "Lost reasons", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("reasons", "Deals lost per reason", columns, rows, total)],
                  Chart("Lost deals by reason", [r.values["reason"] for r in rows],
                        [("deals", [r.values["deals"] for r in rows])]), notes)
