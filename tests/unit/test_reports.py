"""Reports against a hand-made dataset whose right answers are written here, on SQLite and PostgreSQL.

The team works in New York. The clock is Monday 2026-11-23 10:00 UTC. Several rows sit within an
hour of a month or quarter boundary, on the side UTC would get wrong: 2026-11-01 03:30 UTC is still
October 31 in New York (EDT, UTC-4), and 2026-10-01 03:30 UTC is still September 30.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_tui.errors import InvalidInput
from crm_tui.models import Activity, Contact, Deal, Stage, Task, User
from crm_tui.services import goals, reports
from crm_tui.services.reports import Period
from tests.conftest import seeded_fixtures

NY = ZoneInfo("America/New_York")
Q4 = Period(date(2026, 10, 1), date(2027, 1, 1), "quarter")
NOV = Period(date(2026, 11, 1), date(2026, 12, 1), "month")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@dataclass
class Dataset:
    ann: int
    bob: int
    deals: dict[str, int]
    contacts: dict[str, int]
    stages: dict[str, int]


def build_dataset(db, actor, now) -> Dataset:
    """Two sellers, eleven deals, six contacts, activities, tasks and goals (see the module docstring)."""
    with db.write() as s:
        bob = User(login="bob", name="Bob", role="sales", created_at=now, updated_at=now)
        s.add(bob)
        s.flush()
        ann = actor.user_id
        stages = {st.name: st.id for st in s.scalars(select(Stage))}
        pipeline_id = s.scalar(select(Stage.pipeline_id).limit(1))

        def contact(name, source, lifecycle, owner, created):
            row = Contact(first_name=name, full_name=name, sort_name=name.lower(), source=source, lifecycle=lifecycle,
                          owner_id=owner, created_at=created, updated_at=created)
            s.add(row)
            s.flush()
            return row.id

        contacts = {
            "Cleo": contact("Cleo", "web", "customer", ann, utc(2026, 11, 1, 3)),  # NY: Oct 31
            "Dan": contact("Dan", "web", "lead", bob.id, utc(2026, 11, 10, 12)),
            "Eve": contact("Eve", "email_campaign", "lead", ann, utc(2026, 11, 11, 12)),  # converts by a won deal
            "Finn": contact("Finn", "social", "lead", bob.id, utc(2026, 10, 15, 12)),
            "Gus": contact("Gus", None, "prospect", ann, utc(2026, 11, 22, 12)),
            "Hal": contact("Hal", "web", "customer", ann, utc(2026, 9, 30, 12)),  # before the quarter
        }

        def deal(title, stage, owner, amount, created, *, entered=None, closed=None, expected=None, currency="USD",
                 reason=None, contact_name=None):
            status = {"Won": "won", "Lost": "lost"}.get(stage, "open")
            row = Deal(title=title, title_key=title.lower(), pipeline_id=pipeline_id, stage_id=stages[stage],
                       owner_id=owner, amount_minor=amount, currency=currency, expected_close=expected, status=status,
                       lost_reason=reason, stage_entered_at=entered or closed or created, closed_at=closed,
                       contact_id=contacts.get(contact_name), created_at=created, updated_at=created)
            s.add(row)
            s.flush()
            return row.id

        deals = {
            "Alpha": deal("Alpha", "New", ann, 100000, utc(2026, 11, 5, 15), expected=date(2026, 11, 30)),
            "Beta": deal("Beta", "Proposal", ann, 250050, utc(2026, 10, 10, 12), entered=utc(2026, 11, 20, 12),
                         expected=date(2026, 12, 1)),
            "Gamma": deal("Gamma", "Proposal", bob.id, 33333, utc(2026, 9, 15, 12), entered=utc(2026, 10, 25, 12),
                          expected=date(2026, 10, 31)),
            "Delta": deal("Delta", "Negotiation", bob.id, 120000, utc(2026, 11, 3, 12), expected=date(2026, 11, 15),
                          currency="EUR"),
            "Orion": deal("Orion", "Won", ann, 500000, utc(2026, 10, 1, 3, 30), closed=utc(2026, 11, 1, 3, 30),
                          contact_name="Cleo"),  # created Sep 30 and won Oct 31, in New York
            "Vega": deal("Vega", "Won", bob.id, 70000, utc(2026, 9, 20, 3, 30), closed=utc(2026, 10, 1, 3, 30)),
            "Lyra": deal("Lyra", "Won", ann, 123456, utc(2026, 11, 10, 10), closed=utc(2026, 11, 20, 22),
                         contact_name="Eve"),
            "Hydra": deal("Hydra", "Lost", bob.id, 80000, utc(2026, 10, 5, 12), closed=utc(2026, 11, 12, 12),
                          reason="Price too high", contact_name="Finn"),
            "Draco": deal("Draco", "Lost", ann, 15000, utc(2026, 11, 1, 12), closed=utc(2026, 11, 18, 12),
                          reason="Price too high"),
            "Cetus": deal("Cetus", "Lost", bob.id, 9999, utc(2026, 10, 20, 12), closed=utc(2026, 10, 28, 12)),
            "Pavo": deal("Pavo", "Won", ann, 90000, utc(2026, 11, 2, 12), closed=utc(2026, 11, 15, 12), currency="EUR"),
        }

        def activity(kind, user, at, contact_name=None, deal_name=None, subject=None):
            s.add(Activity(kind=kind, user_id=user, occurred_at=at, contact_id=contacts.get(contact_name),
                           deal_id=deals.get(deal_name), subject=subject, created_at=at, updated_at=at))

        activity("call", ann, utc(2026, 11, 23, 4), "Cleo")  # NY: Sunday Nov 22, week of Nov 16
        activity("email", ann, utc(2026, 11, 23, 6), "Dan")  # NY: Monday Nov 23
        activity("meeting", bob.id, utc(2026, 11, 16, 12), "Finn")
        activity("note", bob.id, utc(2026, 11, 1, 3), "Finn")  # NY: Saturday Oct 31, week of Oct 26
        activity("stage_change", ann, utc(2026, 11, 10, 12), deal_name="Draco", subject="New → Qualified")
        activity("stage_change", ann, utc(2026, 11, 18, 12), deal_name="Draco", subject="Qualified → Lost")
        activity("call", ann, utc(2026, 9, 30, 12), "Hal")  # before the quarter
        activity("call", bob.id, utc(2026, 10, 1, 3, 59), "Dan")  # NY: Sep 30 23:59, before the quarter
        activity("email", ann, utc(2026, 10, 1, 4), "Cleo")  # NY: Oct 1 00:00 sharp, in it

        def task(title, assignee, due, done=None, snoozed=None):
            s.add(Task(title=title, assignee_id=assignee, due_at=due, done_at=done, snoozed_until=snoozed,
                       created_at=utc(2026, 9, 1), updated_at=utc(2026, 9, 1)))

        task("done in Q4", ann, utc(2026, 11, 5), done=utc(2026, 11, 5, 12))
        task("done in Q3", bob.id, utc(2026, 9, 10), done=utc(2026, 9, 10, 12))
        task("overdue", ann, utc(2026, 11, 20))
        task("snoozed", bob.id, utc(2026, 11, 22), snoozed=utc(2026, 11, 25))
        task("long overdue", bob.id, utc(2026, 11, 1))
        task("next week", bob.id, utc(2026, 11, 30))
        s.flush()
        for user, period, amount in ((ann, "2026-10", "4000"), (ann, "2026-11", "2000"), (bob.id, "2026-Q4", "1000"),
                                     (bob.id, "2026-11", "500")):
            kind, start = goals.parse_goal_period(period)
            goals.set_goal(s, user_id=user, kind=kind, start=start, amount=amount, currency="USD", actor=actor, now=now)
    return Dataset(ann, bob.id, deals, contacts, stages)


def _data(db, actor, now) -> Dataset:
    return build_dataset(db, actor, now)


seeded_rows, db_url, data = seeded_fixtures(_data, "data", only_when_asked=True)


def run(db, name, period=Q4, *, zone=NY, owner_id=None, grain=None, now=None, by=None):
    with db.read() as s:
        return reports.run_report(s, name=name, period=period, zone=zone, currency="USD", owner_id=owner_id,
                                  grain=grain, now=now or utc(2026, 11, 23, 10), by=by)


def cells(table, *keys):
    return [tuple(row.values[k] for k in keys) for row in table.rows]


# --- periods and buckets (no database) ------------------------------------------------------------


def test_presets_are_calendar_periods_in_the_team_zone():
    now = utc(2026, 11, 23, 10)
    assert reports.preset_period("last-month", now=now, zone=NY) == Period(date(2026, 10, 1), date(2026, 11, 1),
                                                                            "month", "last-month")
    assert reports.preset_period("this quarter", now=now, zone=NY).start == date(2026, 10, 1)
    assert reports.preset_period("last-quarter", now=now, zone=NY).end == date(2026, 10, 1)
    assert reports.preset_period("this-year", now=now, zone=NY).end == date(2027, 1, 1)
    assert reports.preset_period("last-year", now=now, zone=NY).start == date(2025, 1, 1)
    # Nov 30 22:00 in New York is already Dec 1 in Auckland: "this month" differs by zone
    late = utc(2026, 12, 1, 3)
    assert reports.preset_period("this-month", now=late, zone=NY).start == date(2026, 11, 1)
    assert reports.preset_period("this-month", now=late, zone=ZoneInfo("Pacific/Auckland")).start == date(2026, 12, 1)
    custom = reports.resolve_period(start="2026-11-03", end="2026-11-09", now=now, zone=NY)
    assert (custom.start, custom.end, custom.label) == (date(2026, 11, 3), date(2026, 11, 10), "2026-11-03 – 2026-11-09")
    assert NOV.shift(-1) == Period(date(2026, 10, 1), date(2026, 11, 1), "month")
    assert Q4.shift(1).label == "2027 Q1"
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        reports.resolve_period(start="2026-11-09", end="2026-11-03", now=now, zone=NY)
    with pytest.raises(InvalidInput, match="invalid period 'fortnight'"):
        reports.preset_period("fortnight", now=now, zone=NY)


def test_buckets_clip_to_the_period_and_weeks_start_monday():
    weeks = reports.buckets(NOV, "week")  # Nov 1 2026 is a Sunday
    assert weeks.starts[:2] == (date(2026, 10, 26), date(2026, 11, 2)) and len(weeks.starts) == 6
    assert weeks.edges[0] == date(2026, 11, 1) and weeks.edges[-1] == date(2026, 12, 1)
    months = reports.buckets(Q4, "month")
    # local midnights in UTC: EDT (UTC-4) for October 1, EST (UTC-5) once DST ended on November 1
    assert months.instants(NY) == (utc(2026, 10, 1, 4), utc(2026, 11, 1, 4), utc(2026, 12, 1, 5), utc(2027, 1, 1, 5))
    with pytest.raises(InvalidInput, match="too long"):
        reports.buckets(Period(date(2000, 1, 1), date(2026, 1, 1), "custom"), "week")


def test_goal_periods():
    assert goals.parse_goal_period("2026-11") == ("month", date(2026, 11, 1))
    assert goals.parse_goal_period("2026-q4") == ("quarter", date(2026, 10, 1))
    assert goals.parse_goal_period("next-quarter", now=utc(2026, 11, 23)) == ("quarter", date(2027, 1, 1))
    with pytest.raises(InvalidInput, match="invalid goal period '2026-13'"):
        goals.parse_goal_period("2026-13")


# --- the eight reports ----------------------------------------------------------------------------


def test_deal_reports(db, data):
    pipeline = run(db, "pipeline")
    assert cells(pipeline.table, "stage", "deals", "amount_minor", "weighted_minor", "reached", "conversion") == [
        ("New", 1, 100000, 10000, 8, 62.5),
        ("Qualified", 0, 0, 0, 5, 80.0),
        ("Proposal", 2, 283383, 141692, 4, 75.0),  # 283,383 x 50% = 141,691.5, rounded half up once
        ("Negotiation", 0, 0, 0, 3, 66.7),  # Delta is in EUR: counted in the note, not added in
    ]
    assert pipeline.table.total == {"stage": "Total", "deals": 3, "amount_minor": 383383, "weighted_minor": 151692,
                                    "reached": 8, "conversion": 25.0}
    assert any("1 in EUR" in note for note in pipeline.notes)

    forecast = run(db, "forecast")
    assert cells(forecast.table, "month", "open", "amount_minor", "weighted_minor", "won_deals", "won_minor") == [
        (date(2026, 10, 1), 1, 33333, 16667, 1, 500000),  # Orion: won Oct 31 in New York, Nov 1 in UTC
        (date(2026, 11, 1), 1, 100000, 10000, 1, 123456),
        (date(2026, 12, 1), 1, 250050, 125025, 0, 0),
    ]
    assert forecast.table.total["won_minor"] == 623456 and any("2 in EUR" in n for n in forecast.notes)
    in_utc = run(db, "forecast", zone=timezone.utc)
    assert cells(in_utc.table, "won_minor") == [(70000,), (623456,), (0,)]  # Vega and Orion each a month later

    win = run(db, "win-rate")
    assert cells(win.table, "group", "name", "won", "lost", "win_rate", "avg_days", "median_days") == [
        ("overall", "All deals", 3, 3, 50.0, 18.2, 13.0),  # 31, 10.5 and 13 days to win
        ("owner", "ann", 3, 1, 75.0, 18.2, 13.0),
        ("owner", "bob", 0, 2, 0.0, None, None),
        ("source", "(none)", 1, 2, 33.3, 13.0, 13.0),
        ("source", "email campaign", 1, 0, 100.0, 10.5, 10.5),
        ("source", "social", 0, 1, 0.0, None, None),
        ("source", "web", 1, 0, 100.0, 31.0, 31.0),
    ]
    november = run(db, "win-rate", NOV)
    assert cells(november.table, "won", "lost", "win_rate", "avg_days", "median_days")[0] == (2, 2, 50.0, 11.8, 11.8)

    revenue = run(db, "revenue", grain="month")  # a quarter is seen by quarter unless asked
    assert cells(revenue.table, "period", "user", "won_minor", "goal_minor", "attainment") == [
        (date(2026, 10, 1), "ann", 500000, 400000, 125.0),
        (date(2026, 11, 1), "ann", 123456, 200000, 61.7),
        (date(2026, 11, 1), "bob", 0, 50000, 0.0),
    ]
    assert revenue.table.total["attainment"] == 95.9
    by_quarter = run(db, "revenue")
    assert cells(by_quarter.table, "user", "won_minor", "goal_minor", "attainment") == [
        ("ann", 623456, 600000, 103.9),  # no quarter goal: the sum of October's and November's
        ("bob", 0, 100000, 0.0),  # a quarter goal of its own wins over the month's
    ]

    stale = run(db, "stale")
    assert cells(stale.table, "deal", "stage", "owner", "amount_minor", "days_in_stage") == [
        ("Gamma", "Proposal", "bob", 33333, 28), ("Alpha", "New", "ann", 100000, 17)]
    assert stale.table.total["amount_minor"] == 133333 and any("1 in EUR" in n for n in stale.notes)

    lost = run(db, "lost-reasons")
    assert cells(lost.table, "reason", "deals", "amount_minor", "share") == [
        ("Price too high", 2, 95000, 66.7), ("(no reason)", 1, 9999, 33.3)]
    assert lost.table.total == {"reason": "Total", "deals": 3, "amount_minor": 104999, "share": 100.0}


def test_people_reports(db, data):
    activity = run(db, "activity")
    assert cells(activity.table, "user", "calls", "emails", "meetings", "notes", "total", "tasks_done", "overdue") == [
        ("ann", 1, 2, 0, 0, 3, 1, 1), ("bob", 0, 0, 1, 1, 2, 0, 1)]
    weekly = activity.find_table("weekly")
    assert cells(weekly, "week", "user", "total") == [
        (date(2026, 9, 28), "ann", 1), (date(2026, 10, 26), "bob", 1), (date(2026, 11, 16), "ann", 1),
        (date(2026, 11, 16), "bob", 1), (date(2026, 11, 23), "ann", 1)]
    assert activity.chart.series[0][1] == [1, 0, 0, 0, 1, 0, 0, 2, 1, 0, 0, 0, 0, 0]

    sources = run(db, "sources")
    assert cells(sources.table, "source", "new", "customers", "conversion") == [
        ("web", 2, 1, 50.0), ("(none)", 1, 0, 0.0), ("email campaign", 1, 1, 100.0), ("social", 1, 0, 0.0)]
    assert sources.table.total["conversion"] == 40.0
    assert cells(sources.find_table("monthly"), "month", "source", "new") == [
        (date(2026, 10, 1), "social", 1), (date(2026, 10, 1), "web", 1),  # Cleo: added Oct 31 in New York
        (date(2026, 11, 1), "(none)", 1), (date(2026, 11, 1), "email campaign", 1), (date(2026, 11, 1), "web", 1)]


def test_owner_filter(db, data):
    pipeline = run(db, "pipeline", owner_id=data.bob)
    assert cells(pipeline.table, "deals", "amount_minor", "weighted_minor", "reached") == [
        (0, 0, 0, 3), (0, 0, 0, 1), (1, 33333, 16667, 1), (0, 0, 0, 1)]
    assert cells(run(db, "activity", owner_id=data.ann).table, "user", "total") == [("ann", 3)]
    assert cells(run(db, "sources", owner_id=data.bob).table, "source", "new") == [("social", 1), ("web", 1)]
    assert cells(run(db, "revenue", owner_id=data.bob, grain="month").table, "user", "won_minor", "goal_minor") == [("bob", 0, 50000)]


def _titles(db, drill, **kwargs):
    with db.read() as s:
        page = reports.drill_page(s, drill=drill, with_total=True, **kwargs)
    return [getattr(item, "title", None) or item.full_name for item in page.items], page


def test_drill_downs_page_the_rows_behind_a_report_row(db, data):
    pipeline = run(db, "pipeline")
    titles, page = _titles(db, pipeline.table.rows[2].drill)  # Proposal
    assert titles == ["Beta", "Gamma"] and page.total == 2
    first, page = _titles(db, pipeline.table.rows[2].drill, limit=1)
    assert first == ["Beta"] and page.next_cursor
    second, _ = _titles(db, pipeline.table.rows[2].drill, limit=1, after=page.next_cursor)
    assert second == ["Gamma"]
    lost = run(db, "lost-reasons")
    assert _titles(db, lost.table.rows[1].drill)[0] == ["Cetus"]
    assert _titles(db, run(db, "stale").table.rows[1].drill)[0] == ["Alpha"]
    win = run(db, "win-rate")
    assert _titles(db, win.table.rows[3].drill)[0] == ["Pavo", "Draco", "Cetus"]  # source (none), by amount
    sources = run(db, "sources")
    assert _titles(db, sources.table.rows[0].drill)[0] == ["Cleo", "Dan"]
    activity = run(db, "activity")
    assert _titles(db, activity.table.rows[0].drill)[0] == ["Cleo", "Dan"]
    revenue = run(db, "revenue", grain="month")
    assert _titles(db, revenue.table.rows[0].drill)[0] == ["Orion"]


def test_csv_and_json_keep_exact_money():
    table = reports.Table("t", "T", [reports.Column("name", "Name"), reports.Column("amount_minor", "Amount", "money"),
                                     reports.Column("month", "Month", "month")],
                          [reports.Row({"name": "a, b", "amount_minor": 123456789, "month": date(2026, 11, 1)})])
    report = reports.Report("x", "X", NOV, "USD", None, None, [table])
    assert reports.to_csv(report, table) == 'name,amount,month\n"a, b",1234567.89,2026-11-01\n'
    assert reports.to_json(report)["tables"][0]["rows"] == [{"name": "a, b", "amount_minor": 123456789,
                                                             "month": "2026-11-01"}]
    assert reports.format_cell(table.columns[1], 123456789, "USD") == "$1,234,567.89"
    assert reports.major_units(1200, "JPY") == "1200"


def test_nobody_archived_and_repeat_customers(db, data, actor, now):
    """Rows the reports' per-cell and one-pass queries must not lose or count twice: an activity and
    a won deal of nobody (their user was removed), an archived contact, a customer with two won deals."""
    with db.write() as s:
        for kind, user, at in (("call", None, utc(2026, 11, 17, 12)), ("email", data.ann, utc(2026, 11, 3, 12))):
            s.add(Activity(kind=kind, user_id=user, occurred_at=at, created_at=now, updated_at=now))
        for name, source, lifecycle, archived in (("Ivy", "web", "customer", True),
                                                  ("Jo", "social", "customer", False)):
            s.add(Contact(first_name=name, full_name=name, sort_name=name.lower(), source=source, lifecycle=lifecycle,
                          archived=archived, created_at=utc(2026, 11, 13, 12), updated_at=utc(2026, 11, 13, 12)))
        s.flush()
        jo = s.scalar(select(Contact.id).where(Contact.full_name == "Jo"))
        pipeline_id = s.scalar(select(Stage.pipeline_id).where(Stage.id == data.stages["Won"]))
        for title, owner, created, closed in (("Ursa", None, utc(2026, 11, 1, 12), utc(2026, 11, 21, 12)),
                                              ("Mira", data.bob, utc(2026, 11, 2, 12), utc(2026, 11, 12, 12))):
            s.add(Deal(title=title, title_key=title.lower(), pipeline_id=pipeline_id, stage_id=data.stages["Won"],
                       owner_id=owner, amount_minor=1000, status="won", contact_id=jo, stage_entered_at=closed,
                       closed_at=closed, created_at=created, updated_at=created))

    activity = run(db, "activity")
    assert cells(activity.table, "user", "calls", "emails", "meetings", "notes", "total", "tasks_done", "overdue") == [
        ("(nobody)", 1, 0, 0, 0, 1, 0, 0), ("ann", 1, 3, 0, 0, 4, 1, 1), ("bob", 0, 0, 1, 1, 2, 0, 1)]
    assert activity.table.rows[0].drill is None
    assert cells(activity.find_table("weekly"), "week", "user", "calls", "emails", "total") == [
        (date(2026, 9, 28), "ann", 0, 1, 1), (date(2026, 10, 26), "bob", 0, 0, 1), (date(2026, 11, 2), "ann", 0, 1, 1),
        (date(2026, 11, 16), "(nobody)", 1, 0, 1), (date(2026, 11, 16), "ann", 1, 0, 1),
        (date(2026, 11, 16), "bob", 0, 0, 1), (date(2026, 11, 23), "ann", 0, 1, 1)]

    sources = run(db, "sources")  # Ivy is archived; Jo is a customer with two won deals: one customer
    assert cells(sources.table, "source", "new", "customers", "conversion") == [
        ("social", 2, 1, 50.0), ("web", 2, 1, 50.0), ("(none)", 1, 0, 0.0), ("email campaign", 1, 1, 100.0)]
    assert sources.table.total == {"source": "Total", "new": 6, "customers": 3, "conversion": 50.0}
    assert cells(sources.find_table("monthly"), "month", "source", "new") == [
        (date(2026, 10, 1), "social", 1), (date(2026, 10, 1), "web", 1), (date(2026, 11, 1), "(none)", 1),
        (date(2026, 11, 1), "email campaign", 1), (date(2026, 11, 1), "social", 1), (date(2026, 11, 1), "web", 1)]

    win = run(db, "win-rate")  # days to win: 31, 10.5, 13, 20 (Ursa) and 10 (Mira)
    assert cells(win.table, "group", "name", "won", "lost", "win_rate", "avg_days", "median_days") == [
        ("overall", "All deals", 5, 3, 62.5, 16.9, 13.0),
        ("owner", "(nobody)", 1, 0, 100.0, 20.0, 20.0),
        ("owner", "ann", 3, 1, 75.0, 18.2, 13.0),
        ("owner", "bob", 1, 2, 33.3, 10.0, 10.0),
        ("source", "(none)", 1, 2, 33.3, 13.0, 13.0),
        ("source", "email campaign", 1, 0, 100.0, 10.5, 10.5),
        ("source", "social", 2, 1, 66.7, 15.0, 15.0),
        ("source", "web", 1, 0, 100.0, 31.0, 31.0),
    ]
    assert win.table.rows[1].drill is None


def test_a_quarter_is_seen_by_quarter_with_its_goals_and_a_fair_total(db, actor, now, data):
    """Issue 17 #16: a goal set for 2026-Q4 shows in the quarter's view without --grain, and the
    Total's attainment counts only the wins of those with a goal (not the team's against one goal)."""
    with db.write() as s:
        for goal in goals.list_goals(s, user_id=data.ann):
            goals.delete_goal(s, goal_id=goal.id, actor=actor, now=now)
    quarter = run(db, "revenue")  # Q4, no grain given
    assert cells(quarter.table, "period", "user", "won_minor", "goal_minor", "attainment") == [
        (date(2026, 10, 1), "ann", 623456, None, None),
        (date(2026, 10, 1), "bob", 0, 100000, 0.0),
    ]
    assert quarter.table.total["won_minor"] == 623456 and quarter.table.total["goal_minor"] == 100000
    assert quarter.table.total["attainment"] == 0.0  # bob's wins against bob's goal
    month = run(db, "revenue", reports.preset_period("this-month", now=utc(2026, 11, 23, 10), zone=NY))
    assert {c[0] for c in cells(month.table, "period")} == {date(2026, 11, 1)}  # a month: by month


# --- grouped by team (issue 17 #20) -----------------------------------------------------------------


def _teams(db, data, ann: str | None, bob: str | None) -> None:
    with db.write() as s:
        s.get(User, data.ann).team, s.get(User, data.bob).team = ann, bob


def test_revenue_and_win_rate_group_by_team(db, data, actor, now):
    from crm_tui.services import users

    _teams(db, data, "EMEA", "Americas")
    with db.write() as s:  # a second seller in EMEA, with a goal and no wins: counted in EMEA's goal
        cy = users.create_user(s, data={"login": "cy", "team": "EMEA"}, actor=actor, now=now)
        kind, start = goals.parse_goal_period("2026-11")
        goals.set_goal(s, user_id=cy.id, kind=kind, start=start, amount="300", currency="USD", actor=actor, now=now)
    revenue = run(db, "revenue", grain="month", by="team")
    assert revenue.by == "team" and "by team" in revenue.heading
    assert [c.key for c in revenue.table.columns][:2] == ["period", "team"]
    assert cells(revenue.table, "period", "team", "won_minor", "goal_minor", "attainment") == [
        (date(2026, 10, 1), "EMEA", 500000, 400000, 125.0),
        (date(2026, 11, 1), "Americas", 0, 50000, 0.0),
        (date(2026, 11, 1), "EMEA", 123456, 230000, 53.7),
    ]
    assert cells(run(db, "revenue", by="team").table, "team", "won_minor", "goal_minor") == [
        ("Americas", 0, 100000), ("EMEA", 623456, 630000)]
    assert _titles(db, revenue.table.rows[2].drill)[0] == ["Lyra"]  # the team's won deals of the month

    win = run(db, "win-rate", by="team")
    assert cells(win.table, "group", "name", "won", "lost", "win_rate", "avg_days", "median_days")[:3] == [
        ("overall", "All deals", 3, 3, 50.0, 18.2, 13.0),
        ("team", "Americas", 0, 2, 0.0, None, None),
        ("team", "EMEA", 3, 1, 75.0, 18.2, 13.0),
    ]
    assert win.chart.title == "Win rate by team" and win.chart.labels == ["Americas", "EMEA"]
    assert _titles(db, win.table.rows[1].drill)[0] == ["Hydra", "Cetus"]


def test_a_user_without_a_team_is_in_no_team_and_other_reports_refuse_the_grouping(db, data):
    _teams(db, data, "EMEA", None)
    revenue = run(db, "revenue", by="team")
    assert cells(revenue.table, "team", "won_minor", "goal_minor") == [("(no team)", 0, 100000), ("EMEA", 623456, 600000)]
    win = run(db, "win-rate", by="team")
    assert _titles(db, win.table.rows[1].drill)[0] == ["Hydra", "Cetus"]  # (no team): bob's
    with pytest.raises(InvalidInput, match="report pipeline cannot group by team; these can: win-rate, revenue, activity$"):
        run(db, "pipeline", by="team")
    with pytest.raises(InvalidInput, match="invalid grouping 'region': choose one of owner, team"):
        run(db, "revenue", by="region")
    assert cells(run(db, "revenue", by="owner").table, "user", "won_minor") == [("ann", 623456), ("bob", 0)]


def test_activity_groups_by_team(db, data, actor, now):
    from crm_tui.services import users

    _teams(db, data, "EMEA", "EMEA")
    with db.write() as s:
        cy = users.create_user(s, data={"login": "cy", "team": "Inside sales"}, actor=actor, now=now)
        s.add(Activity(kind="call", user_id=cy.id, occurred_at=utc(2026, 11, 17, 15), created_at=now, updated_at=now))
        s.add(Task(title="cy's", assignee_id=cy.id, due_at=utc(2026, 11, 2), created_at=now, updated_at=now))
    activity = run(db, "activity", by="team")
    assert [c.title for c in activity.table.columns][0] == "Team"
    assert cells(activity.table, "team", "calls", "emails", "meetings", "notes", "total", "tasks_done", "overdue") == [
        ("EMEA", 1, 2, 1, 1, 5, 1, 2), ("Inside sales", 1, 0, 0, 0, 1, 0, 1)]
    assert activity.table.total["total"] == 6
    assert cells(activity.find_table("weekly"), "week", "team", "total")[-3:] == [
        (date(2026, 11, 16), "EMEA", 2), (date(2026, 11, 16), "Inside sales", 1), (date(2026, 11, 23), "EMEA", 1)]


# --- issue 17 #7: an imported close date is the team's calendar day ---------------------------------

CLOSED_DEALS = """Deal Name,Amount,Deal Stage,Close Date
Year end,1000,Closed Won,2026-12-31
New year,4000,Closed Won,2027-01-01
Quarter end,2000,Closed Won,2027-03-31
Next quarter,8000,Closed Won,2027-04-01
Still open,16000,New,2027-03-31
"""


@pytest.mark.parametrize("user_zone, team", [
    (None, "Pacific/Auckland"),  # the machine's zone (TZ=UTC in the tests), a team in Auckland
    ("UTC", "Pacific/Auckland"),
    (None, "America/Los_Angeles"),
    ("Pacific/Auckland", "America/Los_Angeles"),
    ("America/Los_Angeles", "Pacific/Auckland"),
])
def test_an_imported_close_date_counts_in_the_teams_year_and_quarter(db, actor, now, tmp_path, user_zone, team):
    from dataclasses import replace

    from crm_tui.services.importing import ImportOptions, run_import

    path = tmp_path / "deals.csv"
    path.write_text(CLOSED_DEALS, encoding="utf-8")
    importer = replace(actor, timezone=user_zone, team_timezone=team)
    with db.write() as s:
        run_import(s, path=path, options=ImportOptions(entity="deals"), actor=importer, now=now)
    zone = ZoneInfo(team)
    with db.read() as s:
        closed = {d.title: d.closed_at.astimezone(zone).date() for d in s.scalars(select(Deal)) if d.closed_at}
    assert closed == {"Year end": date(2026, 12, 31), "New year": date(2027, 1, 1),
                      "Quarter end": date(2027, 3, 31), "Next quarter": date(2027, 4, 1)}

    year = run(db, "revenue", Period(date(2026, 1, 1), date(2027, 1, 1), "year"), zone=zone, grain="quarter")
    assert year.table.total["won_minor"] == 100000  # 31 December is 2026's
    q1 = Period(date(2027, 1, 1), date(2027, 4, 1), "quarter")
    assert run(db, "revenue", q1, zone=zone).table.total["won_minor"] == 600000  # 1 January and 31 March
    forecast = run(db, "forecast", q1, zone=zone)
    assert cells(forecast.table, "month", "won_minor", "amount_minor") == [
        (date(2027, 1, 1), 400000, 0), (date(2027, 2, 1), 0, 0), (date(2027, 3, 1), 200000, 1600000)]


def test_a_typed_close_date_is_the_teams_calendar_day(db, actor, now):
    from dataclasses import replace

    from crm_tui.services import deals

    late = utc(2026, 11, 30, 20)  # 30 November in UTC, already 1 December in Auckland
    typist = replace(actor, timezone="UTC", team_timezone="Pacific/Auckland")
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Big one", "amount": "100", "expected_close": "end of month"},
                                 actor=typist, now=late)
    assert deal.expected_close == date(2026, 12, 31)  # the team's month
