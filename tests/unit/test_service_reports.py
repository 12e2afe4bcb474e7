"""The service-desk reports (cases and backlog, times, SLA hit rate, CSAT, NPS) against a hand-made set of
cases and surveys whose right answers are worked out here, on SQLite and PostgreSQL.

The team works in New York; the clock is Monday 2026-11-23 10:00 UTC. November 2026 in New York runs
from 2026-11-01 04:00 UTC (EDT) to 2026-12-01 05:00 UTC (EST; the clocks went back on Nov 1 at 06:00
UTC). By week (weeks start on Monday) the month is six buckets: Nov 1 (a Sunday alone), the weeks of
Nov 2, 9, 16 and 23, and Nov 30 alone.

Cases (c-number: created UTC, first response, resolved, closed; priority, category, assignee, team):
  c1  Oct 20                         open                         normal  -        bob  Tier 1
  c2  Oct 25, resolved Oct 28, closed Oct 30
  c3  Oct 28, resolved Nov 3 12:00
  c4  Nov 1 03:30 (Oct 31 in New York: before the month), open
  c12 Nov 1 05:00, +15 min, resolved +120 min          normal  login    cat  Tier 2   SLA met / met
  c5  Nov 2 14:00, +30, resolved +1440, closed Nov 5  high    billing  bob  Tier 1   met / late
  c6  Nov 4 10:00, +120, resolved +2880               normal  login    bob  Tier 1   late / met
  c7  Nov 10 09:00, +10, open                         urgent  billing  cat  Tier 2   met / late (due Nov 10)
  c8  Nov 12 12:00, unanswered                        low     -        -    -        due / due
  c9  Nov 17 12:00, +60, resolved +300, closed Nov 20 normal  login    cat  Tier 2   no SLA
  c10 Nov 20 12:00, merged into c9 (closed Nov 21 unresolved)
  c11 Nov 23 08:00, +45, open                         high    billing  bob  Tier 1   met / due
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_tui.errors import Forbidden, InvalidInput
from crm_tui.models import Company, Contact, User
from crm_tui.models.case import Case, Survey
from crm_tui.services import cases as case_service, reports, users
from crm_tui.services.reports import Period

NY = ZoneInfo("America/New_York")
NOV = Period(date(2026, 11, 1), date(2026, 12, 1), "month")
WEEKS = [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23),
         date(2026, 11, 30)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@dataclass
class Dataset:
    bob: int
    cat: int
    sam: int
    cases: dict[str, int]


def build(db, now) -> Dataset:
    with db.write() as s:
        def user(login, role, team=None):
            row = User(login=login, name=login.capitalize(), role=role, team=team, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return row.id

        bob, cat, sam = user("bob", "support", "Tier 1"), user("cat", "support", "Tier 2"), user("sam", "sales")
        user("dee", "support")
        user("mia", "marketing")
        ann = s.scalar(select(User.id).where(User.login == "ann"))

        def company(name, owner):
            row = Company(name=name, name_key=name.lower(), owner_id=owner, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return row.id

        acme, beta = company("Acme", sam), company("Beta", ann)

        def contact(name, owner=None, company_id=None):
            row = Contact(first_name=name, full_name=name, sort_name=name.lower(), owner_id=owner,
                          company_id=company_id, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            return row.id

        cleo, dora, eli = contact("Cleo", sam), contact("Dora", None, acme), contact("Eli", ann, beta)

        def case(created, *, first=None, resolved=None, closed=None, priority="normal", category=None,
                 assignee=None, team=None, first_due=None, res_due=None, status="open", company_id=None,
                 contact_id=None, merged=None):
            row = Case(subject="s", created_at=created, updated_at=created, priority=priority, category=category,
                       assignee_id=assignee, team=team, status=status, company_id=company_id, contact_id=contact_id,
                       first_response_at=created + timedelta(minutes=first) if first is not None else None,
                       resolved_at=created + timedelta(minutes=resolved) if isinstance(resolved, int) else resolved,
                       closed_at=closed, first_response_due_at=first_due, resolution_due_at=res_due,
                       merged_into_id=merged)
            s.add(row)
            s.flush()
            return row.id

        cases = {
            "c1": case(utc(2026, 10, 20, 12), assignee=bob, team="Tier 1"),
            "c2": case(utc(2026, 10, 25, 12), resolved=utc(2026, 10, 28, 12), closed=utc(2026, 10, 30, 12),
                       status="closed"),
            "c3": case(utc(2026, 10, 28, 12), resolved=utc(2026, 11, 3, 12), status="resolved"),
            "c4": case(utc(2026, 11, 1, 3, 30)),
            "c12": case(utc(2026, 11, 1, 5), first=15, resolved=120, category="login", assignee=cat, team="Tier 2",
                        first_due=utc(2026, 11, 1, 6), res_due=utc(2026, 11, 1, 9), status="resolved"),
            "c5": case(utc(2026, 11, 2, 14), first=30, resolved=1440, closed=utc(2026, 11, 5, 12), priority="high",
                       category="billing", assignee=bob, team="Tier 1", first_due=utc(2026, 11, 2, 15),
                       res_due=utc(2026, 11, 3, 10), status="closed", company_id=acme, contact_id=dora),
            "c6": case(utc(2026, 11, 4, 10), first=120, resolved=2880, category="login", assignee=bob, team="Tier 1",
                       first_due=utc(2026, 11, 4, 11), res_due=utc(2026, 11, 7, 10), status="resolved",
                       contact_id=eli, company_id=beta),
            "c7": case(utc(2026, 11, 10, 9), first=10, priority="urgent", category="billing", assignee=cat,
                       team="Tier 2", first_due=utc(2026, 11, 10, 9, 30), res_due=utc(2026, 11, 10, 17),
                       contact_id=cleo),
            "c8": case(utc(2026, 11, 12, 12), priority="low", first_due=utc(2026, 11, 30), res_due=utc(2026, 12, 5),
                       status="new"),
            "c9": case(utc(2026, 11, 17, 12), first=60, resolved=300, closed=utc(2026, 11, 20, 12), category="login",
                       assignee=cat, team="Tier 2", status="closed", company_id=beta, contact_id=cleo),
        }
        cases["c10"] = case(utc(2026, 11, 20, 12), closed=utc(2026, 11, 21, 12), status="closed", merged=cases["c9"],
                            assignee=sam)
        cases["c11"] = case(utc(2026, 11, 23, 8), first=45, priority="high", category="billing", assignee=bob,
                            team="Tier 1", first_due=utc(2026, 11, 23, 9), res_due=utc(2026, 11, 24, 9))

        def survey(kind, score, responded, *, case_key=None, user_id=None, team=None, contact_id=None, run=None):
            token = f"{kind}-{case_key}-{contact_id}-{run}-{score}-{responded}"
            s.add(Survey(kind=kind, case_id=cases[case_key] if case_key else None, run_key=run,
                         contact_id=contact_id, user_id=user_id, team=team,
                         token_hash=hashlib.sha256(token.encode()).hexdigest(), sent_at=utc(2026, 10, 1),
                         responded_at=responded, score=score))

        survey("csat", 5, utc(2026, 11, 5, 12), case_key="c5", user_id=bob, team="Tier 1")
        survey("csat", 3, utc(2026, 11, 7, 12), case_key="c6", user_id=bob, team="Tier 1")
        survey("csat", 4, utc(2026, 11, 2, 12), case_key="c12", user_id=cat, team="Tier 2")
        survey("csat", 1, utc(2026, 11, 18, 12), case_key="c9", user_id=cat, team="Tier 2")
        survey("csat", 5, utc(2026, 10, 31, 12), case_key="c3", user_id=bob, team="Tier 1")  # before the month
        survey("csat", None, None, case_key="c7", user_id=cat, team="Tier 2")  # never answered
        survey("nps", 10, utc(2026, 11, 3, 12), contact_id=cleo, run="nps-1")
        survey("nps", 9, utc(2026, 11, 4, 12), contact_id=dora, run="nps-1")
        survey("nps", 6, utc(2026, 11, 10, 12), contact_id=eli, run="nps-1")
        survey("nps", 7, utc(2026, 11, 23, 8), contact_id=cleo, run="nps-2")
        survey("nps", 0, utc(2026, 10, 30, 12), contact_id=dora, run="nps-0")  # before the month
        survey("nps", 3, utc(2026, 11, 17, 12), contact_id=eli, run="nps-2")
    return Dataset(bob, cat, sam, cases)


@pytest.fixture
def data(db, actor, now):
    return build(db, now)


def run(db, name, now, *, actor=None, grain="week", owner_id=None, period=NOV):
    with db.read() as s:
        return reports.run_report(s, name=name, period=period, zone=NY, currency="USD", now=now, actor=actor,
                                  grain=grain, owner_id=owner_id)


def actor_of(db, login, now):
    with db.write() as s:
        return users.actor_for(s, login=login, now=now)


def rows_by(table, key="name"):
    return {r.values[key]: r.values for r in table.rows}


def test_cases_opened_resolved_closed_and_backlog(db, data, actor, now):
    report = run(db, "cases", now, actor=actor)
    table = report.table
    assert [r.values["period"] for r in table.rows] == WEEKS
    got = [(r.values["opened"], r.values["resolved"], r.values["closed"], r.values["backlog"]) for r in table.rows]
    # backlog before the month: c1, c3, c4 (c2 was resolved in October)
    assert got == [(1, 1, 0, 3), (2, 3, 1, 2), (2, 0, 0, 4), (2, 1, 2, 4), (1, 0, 0, 5), (0, 0, 0, 5)]
    assert table.total == {"period": "Total", "opened": 8, "resolved": 5, "closed": 3, "backlog": 5}
    assert report.chart.series[0] == ("opened", [1, 2, 2, 2, 1, 0])


def test_cases_by_day_is_the_default_grain_of_a_month(db, data, now):
    report = run(db, "cases", now, grain=None)
    assert len(report.table.rows) == 30
    by_day = {r.values["period"]: r.values for r in report.table.rows}
    assert by_day[date(2026, 11, 1)]["opened"] == 1  # c12; c4 (03:30 UTC) was still Oct 31 in New York
    assert by_day[date(2026, 11, 3)]["resolved"] == 2  # c3 and c5
    assert by_day[date(2026, 11, 21)]["closed"] == 1 and by_day[date(2026, 11, 21)]["backlog"] == 4


def test_times_median_and_p90_per_group(db, data, now):
    report = run(db, "case-times", now)
    rows = {(r.values["group"], r.values["name"]): r.values for r in report.table.rows}

    def pick(group, name):
        v = rows[(group, name)]
        return (v["cases"], v["responded"], v["first_median"], v["first_p90"], v["resolved"],
                v["resolution_median"], v["resolution_p90"])

    # first responses 10 15 30 45 60 120: rank ceil(3) = 30, ceil(5.4) = 6th; resolutions 120 300 1440 2880
    assert pick("All", "All cases") == (7, 6, 30, 120, 4, 300, 2880)
    assert pick("Agent", "bob") == (3, 3, 45, 120, 2, 1440, 2880)
    assert pick("Agent", "cat") == (3, 3, 15, 60, 2, 120, 300)
    assert pick("Agent", "(unassigned)") == (1, 0, None, None, 0, None, None)
    assert pick("Team", "Tier 1") == pick("Agent", "bob")
    assert pick("Team", "Tier 2") == pick("Agent", "cat")
    assert pick("Team", "(no team)") == (1, 0, None, None, 0, None, None)
    assert pick("Priority", "low") == (1, 0, None, None, 0, None, None)
    assert pick("Priority", "normal") == (3, 3, 60, 120, 3, 300, 2880)
    assert pick("Priority", "high") == (2, 2, 30, 45, 1, 1440, 1440)
    assert pick("Priority", "urgent") == (1, 1, 10, 10, 0, None, None)
    assert pick("Category", "billing") == (3, 3, 30, 45, 1, 1440, 1440)
    assert pick("Category", "login") == (3, 3, 60, 120, 3, 300, 2880)
    assert pick("Category", "(no category)") == (1, 0, None, None, 0, None, None)
    assert [r.values["name"] for r in report.table.rows if r.values["group"] == "Priority"] == [
        "low", "normal", "high", "urgent"]
    assert len(report.table.rows) == 1 + 3 + 3 + 4 + 3


def test_sla_hit_rate(db, data, now):
    report = run(db, "sla", now)
    periods, priorities, teams = report.tables

    def line(v):
        return (v["cases"], v["first_met"], v["first_missed"], v["first_pending"], v["first_rate"],
                v["res_met"], v["res_missed"], v["res_pending"], v["res_rate"])

    assert [line(r.values) for r in periods.rows] == [
        (1, 1, 0, 0, 100.0, 1, 0, 0, 100.0),  # c12
        (2, 1, 1, 0, 50.0, 1, 1, 0, 50.0),  # c5, c6
        (2, 1, 0, 1, 100.0, 0, 1, 1, 0.0),  # c7 (resolution due Nov 10, still open: late), c8
        (1, 0, 0, 0, None, 0, 0, 0, None),  # c9 has no SLA; c10 was merged
        (1, 1, 0, 0, 100.0, 0, 0, 1, None),  # c11
        (0, 0, 0, 0, None, 0, 0, 0, None),
    ]
    assert line(periods.total) == (7, 4, 1, 1, 80.0, 2, 2, 2, 50.0)
    by_priority = {r.values["name"]: line(r.values) for r in priorities.rows}
    assert list(by_priority) == ["low", "normal", "high", "urgent"]
    assert by_priority["high"] == (2, 2, 0, 0, 100.0, 0, 1, 1, 0.0)
    assert by_priority["normal"] == (3, 1, 1, 0, 50.0, 2, 0, 0, 100.0)
    assert by_priority["low"] == (1, 0, 0, 1, None, 0, 0, 1, None)
    assert by_priority["urgent"] == (1, 1, 0, 0, 100.0, 0, 1, 0, 0.0)
    by_team = {r.values["name"]: line(r.values) for r in teams.rows}
    assert list(by_team) == ["Tier 1", "Tier 2", "(no team)"]
    assert by_team["Tier 1"] == (3, 2, 1, 0, 66.7, 1, 1, 1, 50.0)
    assert by_team["Tier 2"] == (3, 2, 0, 0, 100.0, 1, 1, 0, 50.0)


def test_sla_pending_becomes_late_as_time_passes(db, data, now):
    """c11's resolution (due Nov 24 09:00) is due now, late a day later."""
    later = run(db, "sla", utc(2026, 11, 25))
    assert later.tables[0].rows[4].values["res_missed"] == 1 and later.tables[0].rows[4].values["res_pending"] == 0


def test_csat_average_and_distribution(db, data, now):
    rows = {(r.values["group"], r.values["name"]): r.values for r in run(db, "csat", now).table.rows}
    overall = rows[("All", "All answers")]
    assert (overall["responses"], overall["average"], overall["satisfied"]) == (4, 3.25, 50.0)
    assert [overall[f"s{i}"] for i in range(1, 6)] == [1, 0, 1, 1, 1]
    assert (rows[("Agent", "bob")]["average"], rows[("Agent", "bob")]["s5"], rows[("Agent", "bob")]["s3"]) == (4.0, 1, 1)
    assert (rows[("Agent", "cat")]["average"], rows[("Agent", "cat")]["responses"]) == (2.5, 2)
    assert rows[("Team", "Tier 1")]["average"] == 4.0 and rows[("Team", "Tier 2")]["average"] == 2.5
    assert list(rows) == [("All", "All answers"), ("Agent", "bob"), ("Agent", "cat"), ("Team", "Tier 1"),
                          ("Team", "Tier 2")]


def test_nps_per_week(db, data, now):
    report = run(db, "nps", now)
    got = [(r.values["responses"], r.values["promoters"], r.values["passives"], r.values["detractors"],
            r.values["nps"]) for r in report.table.rows]
    assert got == [(0, 0, 0, 0, None), (2, 2, 0, 0, 100.0), (1, 0, 0, 1, -100.0), (1, 0, 0, 1, -100.0),
                   (1, 0, 1, 0, 0.0), (0, 0, 0, 0, None)]
    total = report.table.total
    assert (total["responses"], total["promoters"], total["passives"], total["detractors"]) == (5, 2, 1, 2)
    assert (total["promoters_pct"], total["detractors_pct"], total["nps"]) == (40.0, 40.0, 0.0)


def test_a_seller_sees_the_cases_of_their_accounts(db, data, now):
    """sam owns Acme (c5) and Cleo, the contact of c7 (no company) and of c9 (Beta's, ann's company):
    as in sam's case list, a case whose contact or company sam owns is sam's, so c9 counts too."""
    sam = actor_of(db, "sam", now)
    times = rows_by(run(db, "case-times", now, actor=sam).table)
    # first responses 10 (c7), 30 (c5), 60 (c9): ranks ceil(1.5) = 2 and ceil(2.7) = 3
    assert (times["All cases"]["cases"], times["All cases"]["first_median"], times["All cases"]["first_p90"]) == (
        3, 30, 60)
    cases = run(db, "cases", now, actor=sam)
    assert [r.values["backlog"] for r in cases.table.rows] == [0, 0, 1, 1, 1, 1]  # c10: sam's, merged
    assert cases.table.total["opened"] == 4
    csat = run(db, "csat", now, actor=sam).table.rows[0].values
    assert (csat["responses"], csat["average"]) == (2, 3.0)  # c5's 5 and c9's 1
    nps = run(db, "nps", now, actor=sam).table.total
    assert (nps["responses"], nps["promoters"], nps["passives"], nps["nps"]) == (3, 2, 1, 66.7)


def test_a_sellers_reports_count_the_cases_their_case_list_shows(db, data, now):
    """One rule for "own" (cases.cases_of): the cases report over a period holding every case
    counts exactly the cases sam's case list (the "all" queue) shows."""
    sam = actor_of(db, "sam", now)
    with db.read() as s:
        shown = case_service.list_cases(s, actor=sam, queue="all", with_total=True, limit=100, now=now)
    everything = Period(date(2026, 10, 1), date(2026, 12, 1), "custom")
    report = run(db, "cases", now, actor=sam, grain="month", period=everything)
    assert report.table.total["opened"] == shown.total == len(shown.items) == 4  # c5, c7, c9, c10


def test_support_sees_all_and_the_owner_filter_is_the_assignee(db, data, now):
    dee = actor_of(db, "dee", now)
    assert run(db, "cases", now, actor=dee).table.total["opened"] == 8
    bob = run(db, "case-times", now, actor=dee, owner_id=data.bob)
    assert rows_by(bob.table)["All cases"]["cases"] == 3
    csat = run(db, "csat", now, actor=dee, owner_id=data.cat).table.rows[0].values
    assert (csat["responses"], csat["average"]) == (2, 2.5)


def test_other_roles_may_not_and_support_may_not_run_sales_reports(db, data, now):
    with pytest.raises(Forbidden, match="see support cases"):
        run(db, "sla", now, actor=actor_of(db, "mia", now))
    with pytest.raises(Forbidden):
        run(db, "pipeline", now, actor=actor_of(db, "dee", now), grain=None)


def test_bad_grain_and_too_many_days(db, data, now):
    with pytest.raises(InvalidInput, match="choose one of day, week, month, quarter"):
        run(db, "cases", now, grain="hour")
    year = Period(date(2026, 1, 1), date(2027, 1, 1), "year")
    with pytest.raises(InvalidInput, match="too long for daily figures"):
        run(db, "nps", now, grain="day", period=year)
    assert len(run(db, "nps", now, grain=None, period=year).table.rows) == 12  # a year: by month


def test_empty_database_gives_zeros_not_errors(db, actor, now):
    for name in ("cases", "case-times", "sla", "csat", "nps"):
        report = run(db, name, now, actor=actor)
        assert report.tables
    assert run(db, "case-times", now).table.rows == []
    assert run(db, "cases", now).table.total["backlog"] == 0


def test_csv_and_json_of_a_service_report(db, data, now):
    report = run(db, "case-times", now)
    text = reports.to_csv(report, report.table)
    assert text.splitlines()[0].startswith("group,name,cases,responded,first_median,first_p90")
    assert "All,All cases,7,6,30,120,4,300,2880" in text
    doc = reports.to_json(report)
    assert doc["tables"][0]["rows"][0]["first_p90"] == 120


def test_postgresql_s_percentiles_are_the_cells_nearest_ranks(db, data, now):
    """PostgreSQL computes case-times in one statement (GROUPING SETS, percentile_disc); SQLite from
    packed cells. On PostgreSQL both ways run, and must agree; and percentile_disc must be the
    nearest rank for every count of values (a float p x n rounding up one rank too far would not)."""
    import random

    import sqlalchemy as sa

    from crm_tui.services.reports import service
    from crm_tui.services.reports.shapes import Scope

    with db.read() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("the one-statement percentiles are PostgreSQL's; SQLite has only the cells' way")
        scope = Scope(period=NOV, zone=NY, now=now, currency="USD", grain="week")
        assert service._times_in_sql(s, scope) == service._times_in_cells(s, scope)
        rng = random.Random(7)
        for n in (*range(1, 41), 99, 101, 1000):
            values = [rng.randrange(0, 5000) for _ in range(n)]
            got = s.execute(sa.text("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY v), "
                                    "percentile_disc(0.9) WITHIN GROUP (ORDER BY v) FROM unnest(CAST(:a AS int[])) AS v"),
                            {"a": values}).one()
            ordered = sorted(values)
            assert tuple(got) == (service._nearest_rank(ordered, 50), service._nearest_rank(ordered, 90)), n
