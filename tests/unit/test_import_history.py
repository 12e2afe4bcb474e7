"""Imported deals keep their history (issue 17 #9): the import stores the opening and stage dates
a file gives, and the reports (run_report) read them; values rewritten on the way in and more
header spellings (issue 17 #22)."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_tui.models import Deal, Stage
from crm_tui.services import reports
from crm_tui.services.importing import ImportOptions, preview_import, run_import
from crm_tui.services.importing.fields import build_mapping, with_values
from crm_tui.services.reports import Period

YEAR = Period(date(2025, 1, 1), date(2026, 1, 1), "year")
UTC = timezone.utc

HISTORY = """\
    Opportunity,Value,Stage,Date created,Closed on,Last stage change
    Acme renewal,1000,Won,2025-01-10,2025-03-01,
    Globex pilot,2000,Proposal,2025-02-01,,2025-04-01
    Initech trial,500,Qualified,2025-03-15,,
    Hooli bid,700,Lost,2025-02-10,2025-05-01,
    """


def write(tmp_path, text: str, name: str = "deals.csv"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def import_deals(db, actor, now, path, **options):
    with db.write() as session:
        return run_import(session, path=path, options=ImportOptions(entity="deals", **options), actor=actor, now=now)


def report(db, name, now, period=YEAR):
    with db.read() as session:
        return reports.run_report(session, name=name, period=period, zone=UTC, currency="USD", now=now)


def deals(db) -> dict:
    with db.read() as session:
        return {r.title: r for r in session.execute(sa.select(Deal.__table__))}


@pytest.mark.parametrize(("header", "field"), [
    ("Opportunity", "title"), ("Opportunity name", "title"), ("Deal name", "title"), ("Opportunity Title", "title"),
    ("Value", "amount"), ("Deal value", "amount"), ("Opportunity Amount", "amount"),
    ("Created", "opened_at"), ("Created date", "opened_at"), ("Opened", "opened_at"), ("Start date", "opened_at"),
    ("Date created", "opened_at"), ("Stage entered", "stage_entered_at"), ("Last stage change", "stage_entered_at"),
])
def test_deal_headers_are_detected(header, field):
    mapping = build_mapping("deals", ["Title", header] if field != "title" else [header])
    assert mapping.columns[-1].field == field


def test_rewrites_match_the_trimmed_value_in_any_case():
    mapping = build_mapping("deals", ["Deal", "Stage"])
    mapping = with_values(mapping, ["Deal", "Stage"], [("Stage", " Closed Won ", "Won", "--value")])
    assert mapping.values == (("stage", " Closed Won ", "Won"),)
    assert [mapping.rewrite("stage", t) for t in ("closed won", "CLOSED WON", "Closed Won!")] == [
        "Won", "Won", "Closed Won!"]
    assert mapping.rewrite("title", "closed won") == "closed won"


def test_history_is_stored_and_read_by_the_reports(db, actor, now, tmp_path):
    report_ = import_deals(db, actor, now, write(tmp_path, HISTORY))
    assert (report_.created, report_.invalid) == (4, 0)
    stored = deals(db)
    won, open_, no_stage_date = stored["Acme renewal"], stored["Globex pilot"], stored["Initech trial"]
    # a day without a time is the team's calendar day, at its end (issue 17 #7)
    assert won.created_at == datetime(2025, 1, 10, 23, 59, 59, 999999, tzinfo=UTC)
    assert won.closed_at == won.stage_entered_at == datetime(2025, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert open_.stage_entered_at == datetime(2025, 4, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert no_stage_date.stage_entered_at == no_stage_date.created_at == datetime(2025, 3, 15, 23, 59, 59, 999999, tzinfo=UTC)
    overall = report(db, "win-rate", now).tables[0].rows[0].values
    assert (overall["won"], overall["lost"], overall["avg_days"], overall["median_days"]) == (1, 1, 50.0, 50.0)
    rows = report(db, "pipeline", now).tables[0].rows
    assert [(r.values["stage"], r.values["reached"]) for r in rows] == [
        ("New", 4), ("Qualified", 3), ("Proposal", 2), ("Negotiation", 1)]
    with db.write() as session:
        session.execute(sa.update(Stage).where(Stage.kind == "open").values(rotting_days=30))
    stale = report(db, "stale", now).tables[0].rows
    assert [(r.values["deal"], r.values["days_in_stage"]) for r in stale] == [
        ("Initech trial", (now - no_stage_date.created_at).days), ("Globex pilot", (now - open_.stage_entered_at).days)]


def test_a_deal_recorded_after_it_was_won_never_has_negative_days(db, actor, now, tmp_path):
    """Deals imported before the opening date was read (created_at is the import's time) count as
    won, but have no cycle: never about -3,400 days."""
    import_deals(db, actor, now, write(tmp_path, "Title,Stage,Close date\nOld win,Won,2025-03-01\n"))
    with db.write() as session:  # as an import before this fix stored it
        session.execute(sa.update(Deal).values(created_at=now))
    overall = report(db, "win-rate", now).tables[0].rows[0].values
    assert (overall["won"], overall["avg_days"], overall["median_days"]) == (1, None, None)


def test_reimporting_with_update_fills_in_the_history(db, actor, now, tmp_path):
    import_deals(db, actor, now, write(tmp_path, "Title,Stage\nGlobex pilot,Proposal\n", "first.csv"))
    assert deals(db)["Globex pilot"].stage_entered_at == now
    updated = import_deals(db, actor, now, write(tmp_path, "Title,Created,Stage entered\n"
                                                           "Globex pilot,2025-02-01,2025-04-01\n"),
                           on_duplicate="update")
    assert updated.updated == 1
    deal = deals(db)["Globex pilot"]
    assert (deal.created_at, deal.stage_entered_at, deal.stage_id is not None) == (
        datetime(2025, 2, 1, 23, 59, 59, 999999, tzinfo=UTC), datetime(2025, 4, 1, 23, 59, 59, 999999, tzinfo=UTC),
        True)


def test_the_opening_is_read_in_the_team_zone(db, actor, now, tmp_path):
    """A date without a time is a day in the importing user's zone, as the close date is."""
    path = write(tmp_path, "Title,Stage,Created,Close date\nA,Won,2025-01-10,2025-01-10\n")
    preview = preview_import(path=path, options=ImportOptions(entity="deals"))
    assert [c.field for c in preview.mapping.columns] == ["title", "stage", "opened_at", "close_date"]
    import_deals(db, actor, now, path)
    deal = deals(db)["A"]
    assert deal.closed_at - deal.created_at == timedelta(0)
    assert deal.created_at.astimezone(ZoneInfo(actor.timezone or "UTC")).date() == date(2025, 1, 10)


def test_a_deal_opened_today_is_not_in_the_future(db, actor, now, tmp_path):
    """A day without a time is read at noon; today's noon, before it comes, is now."""
    day = now.astimezone(ZoneInfo(actor.timezone or "UTC")).date().isoformat()
    report_ = import_deals(db, actor, now, write(tmp_path, f"Title,Stage,Created,Stage entered\nA,New,{day},{day}\n"))
    assert (report_.created, report_.invalid) == (1, 0)
    deal = deals(db)["A"]
    assert deal.created_at <= now and deal.stage_entered_at <= now
