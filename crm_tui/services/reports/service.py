"""The service-desk reports (issue 23): cases opened, resolved and closed per period with the backlog,
first-response and resolution times (median and p90), the SLA hit rate, CSAT and NPS.

Every figure gives the same answer on SQLite and PostgreSQL:
- times are wall-clock minutes (not business minutes) between a case's creation and its first
  response or its resolution, whole minutes, floored: (epoch seconds of one - of the other) // 60,
  stored on the case when its times change (`Case.first_response_minutes`, `resolution_minutes`;
  models/case.py, backfilled by migration 0027);
- a percentile is the nearest rank: the value at rank ceil(p x n / 100) of the n values of a group
  in ascending order (no percentile_cont, which SQLite lacks); the median is the 50th percentile so
  picked (the lower middle of an even n). The values come from one GROUP BY statement per report
  (each cell's minutes packed in one text) and are ranked in Python; the counts are SQL aggregates;
- buckets (day, week, month) are the team's local days, as in the sales reports (bucketing.py).

Which cases: the backlog report counts events (opened, resolved, closed in each bucket); times and
the SLA hit rate follow the cases opened in the period (a cohort), merged duplicates left out.
A case's "done" time, for the backlog, is its resolution, or its closing when it was closed unresolved.

Who may: `case.view`. A role that may see all cases sees them all; one that may see its own (sales)
sees the cases its case list shows (`cases.cases_of`: those of a company or a contact it owns, and
those assigned to it); NPS answers of the contacts of its accounts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import String, case, cast, func, literal, literal_column, or_, select, tuple_
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import Company, Contact
from crm_tui.models.case import CSAT, NPS, PRIORITIES, Case, Survey
from crm_tui.services import cases, permissions
from crm_tui.services.common import Actor
from crm_tui.services.reports.bucketing import bucket_expr, bucket_table, buckets, in_range
from crm_tui.services.reports.queries import _int, _logins as logins_of, _pct
from crm_tui.services.reports.shapes import NO_TEAM, Chart, Column, Report, Row, Scope, Table

ACTION = "case.view"
GRAINS = ("day", "week", "month", "quarter")
NO_CATEGORY = "(no category)"
GROUPS = ("all", "agent", "team", "priority", "category")
GROUP_TITLES = {"all": "All", "agent": "Agent", "team": "Team", "priority": "Priority", "category": "Category"}


# --- who may, and which cases --------------------------------------------------------------------


def report_scope(session: Session, actor: Actor | None, owner_id: int | None) -> tuple[int | None, int | None]:
    """(owner_id, cases_of) for a service report: refused without `case.view`; an "own" scope keeps
    the owner asked for (an agent's cases among one's own) and limits the cases to the actor's."""
    if actor is None or actor.is_system:
        return owner_id, None
    permissions.require(session, actor, ACTION)  # Forbidden for a role with no scope at all
    if permissions.scope_of(session, permissions.current_role(session, actor), ACTION) == permissions.ALL:
        return owner_id, None
    return owner_id, actor.user_id


def case_conditions(scope: Scope) -> list:
    conditions = []
    if scope.owner_id is not None:
        conditions.append(Case.assignee_id == scope.owner_id)
    if scope.cases_of is not None:
        conditions.append(cases.cases_of(scope.cases_of, walk=True))  # what the seller's case list shows
    return conditions


def _grain(scope: Scope) -> str:
    grain = (scope.grain or "").strip().lower()
    if not grain:
        days = (scope.period.end - scope.period.start).days
        return "day" if days <= 31 else "week" if days <= 92 else "month"
    if grain not in GRAINS:
        raise InvalidInput(f"invalid grain {scope.grain!r}: choose one of {', '.join(GRAINS)}")
    return grain


def _logins(session: Session, ids: Iterable[int | None]) -> dict[int | None, str]:
    return logins_of(session, ids, none="(unassigned)")


def _round(value: Decimal, places: str = "0.1") -> float:
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


# --- cases opened, resolved and closed, and the backlog ------------------------------------------


def cases_report(session: Session, scope: Scope) -> Report:
    """Per bucket: cases opened, resolved and closed in it, and the backlog (opened and not yet
    resolved or closed) at its end."""
    grain = _grain(scope)
    b = buckets(scope.period, grain)
    start, end = scope.period.instants(scope.zone)
    visible = case_conditions(scope)
    edges = bucket_table(b, scope.zone)

    def count(column: Any, what: Any = None) -> Any:  # one index range count a bucket: no row is sorted
        return (select(func.count() if what is None else func.count(what)).select_from(Case)
                .where(*visible, column >= edges.c.lo, column < edges.c.hi).scalar_subquery())

    # closed unresolved = closed - closed with a resolution: both read from ix_cases_closed (closed_at,
    # resolved_at) alone; an "IS NULL" would lead the planner to the resolved index and each row
    cells = {i: (opened, resolved, closed, closed - closed_resolved)
             for i, opened, resolved, closed, closed_resolved in session.execute(
                 select(edges.c.i, count(Case.created_at), count(Case.resolved_at), count(Case.closed_at),
                        count(Case.closed_at, Case.resolved_at)))}
    # the backlog at the period's start, counted back from the cases open now (see _backlog_since)
    backlog = _backlog_since(session, visible, end, [sum(c[k] for c in cells.values()) for k in range(4)])
    rows = []
    for i, first in enumerate(b.starts):
        opened, resolved, n_closed, unresolved = cells.get(i, (0, 0, 0, 0))
        backlog += opened - resolved - unresolved
        rows.append(Row({"period": first, "opened": opened, "resolved": resolved, "closed": n_closed,
                         "backlog": backlog}))
    total = {"period": "Total", **{k: sum(r.values[k] for r in rows) for k in ("opened", "resolved", "closed")},
             "backlog": rows[-1].values["backlog"] if rows else backlog}
    columns = [Column("period", grain.capitalize(), grain), Column("opened", "Opened", "int"),
               Column("resolved", "Resolved", "int"), Column("closed", "Closed", "int"),
               Column("backlog", "Backlog", "int")]
    labels = [f"{d:%d}" if grain in ("day", "week") else f"{d:%b}" for d in b.starts]
    notes = ["Backlog: cases opened and not yet resolved (or closed unresolved) at the end of each "
             f"{grain}. Merged duplicates count as opened and as closed when merged."]
    return Report("cases", "Cases opened and closed", scope.period, scope.currency, scope.owner_id, None,
                  [Table("cases", f"Cases per {grain}", columns, rows, total)],
                  Chart(f"Opened and resolved per {grain}", labels,
                        [("opened", [r.values["opened"] for r in rows]),
                         ("resolved", [r.values["resolved"] for r in rows])], over_time=True), notes)


def _backlog_since(session: Session, visible: list, end: Any, in_period: list[int]) -> int:
    """The backlog at the period's start: backlog(t) = open now - opened since t + done since t
    (done: resolved, or closed unresolved). "Since the start" is the period's own counts
    (`in_period`: opened, resolved, closed, closed unresolved) and those after its end, so only
    the rows after the period are read again, each count from an index alone."""
    def count(*where: Any) -> int:
        return _int(session.scalar(select(func.count()).select_from(Case).where(*visible, *where)))

    opened, resolved, _, unresolved = in_period
    open_now = count(Case.closed_at.is_(None), Case.resolved_at.is_(None))
    opened += count(Case.created_at >= end)
    resolved += count(Case.resolved_at >= end)
    after = session.execute(select(func.count(), func.count(Case.resolved_at)).where(*visible, Case.closed_at >= end))
    closed, closed_resolved = after.one()
    unresolved += _int(closed) - _int(closed_resolved)
    return open_now - opened + resolved + unresolved


# --- first-response and resolution times ---------------------------------------------------------


def _cohort(scope: Scope) -> list:
    """The cases opened in the period, merged duplicates left out."""
    start, end = scope.period.instants(scope.zone)
    return [*case_conditions(scope), in_range(Case.created_at, start, end), Case.merged_into_id.is_(None)]


def _packed(column: Any, dialect: str) -> Any:
    """A cell's values of an integer column as one text, "12,7,90" (NULLs left out; NULL when none)."""
    if dialect == "postgresql":
        return func.string_agg(cast(column, String), literal(","), type_=String)
    return func.group_concat(column, literal(","), type_=String)


def _values(packed: str | None) -> list[int]:
    return sorted(map(int, packed.split(","))) if packed else []


def _nearest_rank(ordered: list[int], p: int) -> int:
    """The value at rank ceil(p x n / 100) of n ascending values (integer arithmetic)."""
    return ordered[-(-p * len(ordered) // 100) - 1]


def _cells(session: Session, scope: Scope) -> list[tuple]:
    """The cohort per (agent, team, priority, category): how many opened, and the minutes to the
    first response and to resolution of each, in one statement read from ix_cases_times alone."""
    dialect = session.get_bind().dialect.name
    stmt = (select(Case.assignee_id, Case.team, Case.priority, Case.category, func.count(),
                   _packed(Case.first_response_minutes, dialect), _packed(Case.resolution_minutes, dialect))
            .where(*_cohort(scope)).group_by(Case.assignee_id, Case.team, Case.priority, Case.category))
    return [(a, t, p, c, n, _values(first), _values(resolved)) for a, t, p, c, n, first, resolved in session.execute(stmt)]


def _times_in_cells(session: Session, scope: Scope) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Each group's figures from the packed cells (SQLite, which has no ordered-set aggregates): a
    group's values merged and put in order, and the nearest ranks picked."""
    opened: dict[tuple[str, str | None], int] = {}
    values: dict[tuple[str, str | None], tuple[list[int], list[int]]] = {}
    for a, t, p, c, n, firsts, resolutions in _cells(session, scope):
        for key in (("all", ""), ("agent", None if a is None else str(a)), ("team", t or ""), ("priority", p),
                    ("category", c or "")):
            opened[key] = opened.get(key, 0) + n
            first, resolved = values.setdefault(key, ([], []))
            first += firsts
            resolved += resolutions
    stats = {}
    for key, n in opened.items():
        first, resolved = (sorted(v) for v in values[key])
        stats[key] = {"cases": n, "responded": len(first),
                      "first_median": _nearest_rank(first, 50) if first else None,
                      "first_p90": _nearest_rank(first, 90) if first else None,
                      "resolved": len(resolved),
                      "resolution_median": _nearest_rank(resolved, 50) if resolved else None,
                      "resolution_p90": _nearest_rank(resolved, 90) if resolved else None}
    return stats


def _times_in_sql(session: Session, scope: Scope) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Each group's figures in one statement (PostgreSQL): GROUPING SETS over the four groupings
    and the whole, with percentile_disc, which is the nearest rank (the value at rank
    ceil(p x n) of the n non-NULL values, as _nearest_rank)."""
    blank = literal_column("''")  # not a bound parameter: the same expression in SELECT, GROUPING and GROUP BY
    team, category = func.coalesce(Case.team, blank), func.coalesce(Case.category, blank)
    first, resolved = Case.first_response_minutes, Case.resolution_minutes

    def rank(p: float, column: Any) -> Any:
        return func.percentile_disc(p).within_group(column)

    stmt = (select(func.grouping(Case.assignee_id, team, Case.priority, category), Case.assignee_id, team,
                   Case.priority, category, func.count(), func.count(first), rank(0.5, first), rank(0.9, first),
                   func.count(resolved), rank(0.5, resolved), rank(0.9, resolved))
            .where(*_cohort(scope))
            .group_by(func.grouping_sets(tuple_(), tuple_(Case.assignee_id), tuple_(team), tuple_(Case.priority),
                                         tuple_(category))))
    # grouping(): a bit set for each of the four left out of the row's set (agent 8, team 4, priority 2, category 1)
    which = {15: "all", 7: "agent", 11: "team", 13: "priority", 14: "category"}
    stats = {}
    for bits, a, t, p, c, n, responded, fm, f90, n_resolved, rm, r90 in session.execute(stmt):
        if not n:  # the whole's set gives a row even with no case: the cells' way gives none
            continue
        group = which[bits]
        key = {"all": "", "agent": None if a is None else str(a), "team": t, "priority": p, "category": c}[group]
        stats[(group, key)] = {"cases": n, "responded": responded, "first_median": _minutes(fm),
                               "first_p90": _minutes(f90), "resolved": n_resolved,
                               "resolution_median": _minutes(rm), "resolution_p90": _minutes(r90)}
    return stats


def _minutes(value: Any) -> int | None:
    return None if value is None else int(value)


def times_report(session: Session, scope: Scope) -> Report:
    """Of the cases opened in the period: minutes to the first response and to resolution, median
    and p90, overall and per agent, team, priority and category.

    The minutes are stored on the case (models/case.py) and read per cell of the four groupings in
    one statement; each group's values are put in order here (a few hundred cells, already sorted
    each, merged by one sort a group) and the nearest ranks picked. Ten window sorts of a year's
    cases in SQL took seconds."""
    if session.get_bind().dialect.name == "postgresql":
        stats = _times_in_sql(session, scope)
    else:
        stats = _times_in_cells(session, scope)
    logins = _logins(session, {int(k) for g, k in stats if g == "agent" and k is not None})
    rows = []
    for group in GROUPS:
        keys = [k for g, k in stats if g == group]
        for key in sorted(keys, key=lambda k: _sort_key(group, k, logins)):
            rows.append(Row({"group": GROUP_TITLES[group], "name": _name(group, key, logins), **stats[(group, key)]}))
    columns = [Column("group", "By"), Column("name", "Name"), Column("cases", "Opened", "int"),
               Column("responded", "Answered", "int"), Column("first_median", "1st resp. med", "minutes"),
               Column("first_p90", "1st resp. p90", "minutes"), Column("resolved", "Resolved", "int"),
               Column("resolution_median", "Resol. med", "minutes"),
               Column("resolution_p90", "Resol. p90", "minutes")]
    overall = [r for r in rows if r.values["group"] == "Priority"]
    notes = ["Wall-clock time (not business hours) from a case's creation to its first response and to its "
             "resolution, over the cases opened in the period (merged duplicates left out); those not yet "
             "answered or resolved are in neither figure. Median and p90 are nearest-rank percentiles."]
    return Report("case-times", "Response and resolution times", scope.period, scope.currency, scope.owner_id, None,
                  [Table("times", "Minutes to first response and to resolution", columns, rows)],
                  Chart("Median hours to first response by priority", [r.values["name"] for r in overall],
                        [("hours", [round((r.values["first_median"] or 0) / 60) for r in overall])]), notes)


def _sort_key(group: str, key: str | None, logins: dict) -> tuple:
    if group == "priority":
        return (PRIORITIES.index(key) if key in PRIORITIES else len(PRIORITIES), key or "")
    if group == "agent":
        return (key is None, logins.get(int(key), "") if key is not None else "")
    return (key == "", key or "")


def _name(group: str, key: str | None, logins: dict) -> str:
    if group == "all":
        return "All cases"
    if group == "agent":
        return logins.get(int(key) if key is not None else None, "?")
    if group == "team":
        return key or NO_TEAM
    if group == "category":
        return key or NO_CATEGORY
    return key or "?"


# --- the SLA hit rate ----------------------------------------------------------------------------


def sla_report(session: Session, scope: Scope) -> Report:
    """Of the cases opened in the period with SLA targets: first responses and resolutions on time,
    late, and still to come, with the hit rate (on time / decided), per bucket, priority and team."""
    grain = _grain(scope)
    b = buckets(scope.period, grain)
    now = scope.now

    def state(done: Any, due: Any) -> Any:  # 0 no target, 1 met, 2 late (done late or missing past due), 3 due
        return case((due.is_(None), 0), (done.is_not(None), case((done <= due, 1), else_=2)), (due <= now, 2),
                    else_=3)

    # each case as one small number: its bucket and both targets' states
    code = (bucket_expr(Case.created_at, b, scope.zone) * 16 + state(Case.first_response_at, Case.first_response_due_at) * 4
            + state(Case.resolved_at, Case.resolution_due_at))
    keys = ("cases", "first_target", "first_met", "first_decided", "res_target", "res_met", "res_decided")
    tally: Counter = Counter()  # (priority, team, number): cases
    if session.get_bind().dialect.name == "postgresql":  # a hash aggregate: no sort either way
        for priority, team, number, n in session.execute(
                select(Case.priority, Case.team, code, func.count()).where(*_cohort(scope))
                .group_by(Case.priority, Case.team, code)):
            tally[(priority, team or "", number)] += n
    else:  # SQLite sorts to group: the numbers packed per cell of ix_cases_times (every column read
        # here, skip-scanned with statistics) come grouped, and are counted here
        for priority, team, packed in session.execute(
                select(Case.priority, Case.team, _packed(code, "sqlite")).where(*_cohort(scope))
                .group_by(Case.assignee_id, Case.team, Case.priority, Case.category)):
            for number, n in Counter(packed.split(",")).items():
                tally[(priority, team or "", number)] += n
    lists: dict[tuple[str, Any], list[int]] = {}
    for (priority, team, number), n in tally.items():  # priorities x teams x buckets x states: a few thousand
        i, states = divmod(int(number), 16)
        first, res = divmod(states, 4)
        counts = (n, n if first else 0, n if first == 1 else 0, n if first in (1, 2) else 0,
                  n if res else 0, n if res == 1 else 0, n if res in (1, 2) else 0)
        for key in (("all", None), ("period", i), ("priority", priority), ("team", team)):
            sums = lists.get(key)
            if sums is None:
                sums = lists[key] = [0] * len(keys)
            for k, value in enumerate(counts):
                sums[k] += value
    per = {key: dict(zip(keys, sums, strict=True)) for key, sums in lists.items()}

    def values(name: Any, sums: dict[str, int]) -> dict[str, Any]:
        first_missed = sums["first_decided"] - sums["first_met"]
        res_missed = sums["res_decided"] - sums["res_met"]
        return {"name": name, "cases": sums["cases"],
                "first_met": sums["first_met"], "first_missed": first_missed,
                "first_pending": sums["first_target"] - sums["first_decided"],
                "first_rate": _pct(sums["first_met"], sums["first_decided"]),
                "res_met": sums["res_met"], "res_missed": res_missed,
                "res_pending": sums["res_target"] - sums["res_decided"],
                "res_rate": _pct(sums["res_met"], sums["res_decided"])}

    empty = dict.fromkeys(keys, 0)
    periods = [Row(values(first, per.get(("period", i), empty))) for i, first in enumerate(b.starts)]
    priorities = sorted({k for g, k in per if g == "priority"}, key=lambda p: _sort_key("priority", p, {}))
    teams = sorted({k for g, k in per if g == "team"}, key=lambda t: (t == "", t))
    total = values("Total", per.get(("all", None), empty))

    def cols(first: Column) -> list[Column]:
        return [first, Column("cases", "Opened", "int"), Column("first_met", "1st on time", "int"),
                Column("first_missed", "1st late", "int"), Column("first_pending", "1st due", "int"),
                Column("first_rate", "1st hit %", "percent"), Column("res_met", "Res. on time", "int"),
                Column("res_missed", "Res. late", "int"), Column("res_pending", "Res. due", "int"),
                Column("res_rate", "Res. hit %", "percent")]

    tables = [
        Table("periods", f"SLA hit rate per {grain}", cols(Column("name", grain.capitalize(), grain)), periods, total),
        Table("priorities", "SLA hit rate per priority", cols(Column("name", "Priority")),
              [Row(values(p, per[("priority", p)])) for p in priorities], total),
        Table("teams", "SLA hit rate per team", cols(Column("name", "Team")),
              [Row(values(t or NO_TEAM, per[("team", t)])) for t in teams], total),
    ]
    labels = [f"{d:%d}" if grain in ("day", "week") else f"{d:%b}" for d in b.starts]
    notes = ["Of the cases opened in the period that have SLA targets (merged duplicates left out): a target is "
             "met when the first response (or the resolution) came by its due time, late when it came after or "
             "is still missing past it, and due while neither. Hit % = on time ÷ (on time + late)."]
    return Report("sla", "SLA hit rate", scope.period, scope.currency, scope.owner_id, None, tables,
                  Chart(f"First-response hit % per {grain}", labels,
                        [("hit %", [round(r.values["first_rate"] or 0) for r in periods])], "percent",
                        over_time=True), notes)


# --- CSAT ----------------------------------------------------------------------------------------


def csat_report(session: Session, scope: Scope) -> Report:
    """CSAT answers received in the period: the average and how many of each score 1-5, overall,
    per agent (whose work it rated) and per team."""
    start, end = scope.period.instants(scope.zone)
    conditions = [Survey.kind == CSAT, in_range(Survey.responded_at, start, end), Survey.score.is_not(None)]
    if scope.owner_id is not None:
        conditions.append(Survey.user_id == scope.owner_id)
    stmt = select(Survey.user_id, Survey.team, Survey.score, func.count())
    if scope.cases_of is not None:
        stmt = stmt.join(Case, Case.id == Survey.case_id)
        conditions.append(cases.cases_of(scope.cases_of, walk=True))
    cells = session.execute(stmt.where(*conditions).group_by(Survey.user_id, Survey.team, Survey.score)).all()
    per: dict[tuple[str, Any], list[int]] = {}
    for user_id, team, score, n in cells:
        for key in (("all", None), ("agent", user_id), ("team", team or "")):
            counts = per.setdefault(key, [0] * 6)
            if 1 <= score <= 5:
                counts[score] += n
    logins = _logins(session, {k for g, k in per if g == "agent"})

    def values(group: str, name: str, counts: list[int]) -> dict[str, Any]:
        n = sum(counts)
        average = _round(Decimal(sum(s * counts[s] for s in range(1, 6))) / n, "0.01") if n else None
        return {"group": group, "name": name, "responses": n, "average": average,
                "satisfied": _pct(counts[4] + counts[5], n), **{f"s{s}": counts[s] for s in range(1, 6)}}

    rows = [Row(values("All", "All answers", per.get(("all", None), [0] * 6)))]
    for user_id in sorted((k for g, k in per if g == "agent"), key=lambda u: (u is None, logins.get(u, ""))):
        rows.append(Row(values("Agent", logins.get(user_id, "?"), per[("agent", user_id)])))
    for team in sorted((k for g, k in per if g == "team"), key=lambda t: (t == "", t)):
        rows.append(Row(values("Team", team or NO_TEAM, per[("team", team)])))
    columns = [Column("group", "By"), Column("name", "Name"), Column("responses", "Answers", "int"),
               Column("average", "Average", "score"), Column("satisfied", "4-5 %", "percent"),
               *(Column(f"s{s}", str(s), "int") for s in range(1, 6))]
    overall = per.get(("all", None), [0] * 6)
    return Report("csat", "Customer satisfaction (CSAT)", scope.period, scope.currency, scope.owner_id, None,
                  [Table("csat", "CSAT per agent and team", columns, rows)],
                  Chart("CSAT answers by score", [str(s) for s in range(1, 6)], [("answers", overall[1:])]),
                  ["CSAT: answers (1 to 5) received in the period, per agent and team the case had when the "
                   "survey was sent. 4-5 %: the share of satisfied answers."])


# --- NPS -----------------------------------------------------------------------------------------


def nps_report(session: Session, scope: Scope) -> Report:
    """NPS answers received per bucket: promoters (9-10), passives (7-8), detractors (0-6) and the
    score, % promoters - % detractors."""
    grain = _grain(scope)
    b = buckets(scope.period, grain)
    start, end = scope.period.instants(scope.zone)
    conditions = [Survey.kind == NPS, in_range(Survey.responded_at, start, end), Survey.score.is_not(None)]
    contact_owner = select(Contact.owner_id).where(Contact.id == Survey.contact_id).scalar_subquery()
    if scope.owner_id is not None:
        conditions.append(contact_owner == scope.owner_id)
    if scope.cases_of is not None:
        companies = select(Company.id).where(Company.owner_id == scope.cases_of)
        mine = select(Contact.id).where(Contact.id == Survey.contact_id,
                                        or_(Contact.owner_id == scope.cases_of, Contact.company_id.in_(companies)))
        conditions.append(mine.exists())
    kind = case((Survey.score >= 9, "p"), (Survey.score >= 7, "n"), else_="d")
    inner = select(bucket_expr(Survey.responded_at, b, scope.zone).label("b"), kind.label("kind")) \
        .where(*conditions).subquery()
    counts: dict[int, dict[str, int]] = {}
    for i, k, n in session.execute(select(inner.c.b, inner.c.kind, func.count()).group_by(inner.c.b, inner.c.kind)):
        counts.setdefault(i, {"p": 0, "n": 0, "d": 0})[k] = n

    def values(first: Any, c: dict[str, int]) -> dict[str, Any]:
        n = c["p"] + c["n"] + c["d"]
        return {"period": first, "responses": n, "promoters": c["p"], "passives": c["n"], "detractors": c["d"],
                "promoters_pct": _pct(c["p"], n), "detractors_pct": _pct(c["d"], n),
                "nps": _pct(c["p"] - c["d"], n)}

    rows = [Row(values(first, counts.get(i, {"p": 0, "n": 0, "d": 0}))) for i, first in enumerate(b.starts)]
    sums = {k: sum(c[k] for c in counts.values()) for k in ("p", "n", "d")}
    total = values("Total", sums)
    columns = [Column("period", grain.capitalize(), grain), Column("responses", "Answers", "int"),
               Column("promoters", "Promoters", "int"), Column("passives", "Passives", "int"),
               Column("detractors", "Detractors", "int"), Column("promoters_pct", "Prom. %", "percent"),
               Column("detractors_pct", "Detr. %", "percent"), Column("nps", "NPS", "signed")]
    labels = [f"{d:%d}" if grain in ("day", "week") else f"{d:%b}" for d in b.starts]
    return Report("nps", "Net Promoter Score (NPS)", scope.period, scope.currency, scope.owner_id, None,
                  [Table("nps", f"NPS per {grain}", columns, rows, total)],
                  Chart(f"Answers per {grain}", labels, [("promoters", [r.values["promoters"] for r in rows]),
                                                         ("detractors", [r.values["detractors"] for r in rows])],
                        over_time=True),
                  ["NPS answers (0 to 10) received in the period: promoters 9-10, passives 7-8, detractors 0-6; "
                   "NPS = % promoters - % detractors (from -100 to +100)."])


__all__ = ["ACTION", "GRAINS", "case_conditions", "cases_report", "csat_report", "nps_report", "report_scope",
           "sla_report", "times_report"]
