"""The demo's service desk: a handful of cases per company with threads, SLA due times, resolved and
closed ones, CSAT and NPS answers; the rows before them unchanged; the reports have something to show."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from crm_tui.models import Company
from crm_tui.models.case import Case, CaseEntry, Survey
from crm_tui.services import reports
from crm_tui.services.demo import demo_context, demo_rows, load_demo
from crm_tui.services.reports import Period

N = 300


def test_demo_cases_threads_and_surveys(db, actor, now):
    with db.write() as session:
        load_demo(session, contacts=N, seed=7, actor=actor, now=now)
    with db.read() as s:
        companies = s.scalar(select(func.count()).select_from(Company))
        per_company = s.execute(select(Case.company_id, func.count()).group_by(Case.company_id)).all()
        assert len(per_company) == companies and all(1 <= n <= 5 for _, n in per_company)
        statuses = dict(s.execute(select(Case.status, func.count()).group_by(Case.status)).all())
        assert statuses.get("closed") and statuses.get("resolved") and statuses.get("open")
        assert s.scalar(select(func.count()).where(Case.first_response_due_at.is_(None))) == 0
        assert s.scalar(select(func.count()).where(Case.resolution_due_at <= Case.created_at)) == 0
        # each thread opens with the customer's message; the first reply is at the first response
        earlier = aliased(CaseEntry)
        first_entries = s.execute(select(CaseEntry.case_id, CaseEntry.direction, CaseEntry.created_at, Case.created_at)
                                  .join(Case, Case.id == CaseEntry.case_id)
                                  .where(CaseEntry.id == select(func.min(earlier.id)).where(
                                      earlier.case_id == CaseEntry.case_id).scalar_subquery())).all()
        assert len(first_entries) == sum(n for _, n in per_company)
        assert all(d == "in" and at == opened for _, d, at, opened in first_entries)
        answered = s.scalar(select(func.count()).select_from(Case).where(
            Case.first_response_at.is_not(None),
            ~select(CaseEntry.id).where(CaseEntry.case_id == Case.id, CaseEntry.direction == "out",
                                        CaseEntry.created_at == Case.first_response_at).exists()))
        assert answered == 0
        assert s.scalar(select(func.count()).where(Case.resolved_at < Case.first_response_at)) == 0
        csat = s.execute(select(Survey.score).where(Survey.kind == "csat", Survey.score.is_not(None))).scalars().all()
        nps = s.execute(select(Survey.score).where(Survey.kind == "nps", Survey.score.is_not(None))).scalars().all()
        assert csat and set(csat) <= {1, 2, 3, 4, 5} and nps and set(nps) <= set(range(11))
        assert s.scalar(select(func.count()).where(Survey.kind == "csat", Survey.case_id.in_(
            select(Case.id).where(Case.resolved_at.is_(None))))) == 0
        year = Period(date(2026, 1, 1), date(2027, 1, 1), "year")
        report = reports.run_report(s, name="cases", period=year, zone=now.tzinfo, currency="USD", now=now,
                                    actor=actor)
        assert report.table.total["opened"] == sum(n for _, n in per_company)
        times = reports.run_report(s, name="case-times", period=year, zone=now.tzinfo, currency="USD", now=now)
        assert times.table.rows[0].values["first_median"] > 0
    with db.write() as session:  # the id sequences moved past the demo's rows (PostgreSQL)
        case = Case(subject="After the demo")
        session.add(case)
        session.flush()
        assert case.id > max(n for _, n in per_company)


def test_cases_do_not_change_the_rows_before_them(db, actor, now):
    """The cases draw from a random stream of their own: the contacts, deals and activities of a
    seed are what they were before the service desk."""
    with db.read() as session:
        ctx = demo_context(session, actor)
    rows = [(t, r) for t, r in demo_rows(ctx, contacts=40, seed=3, now=now)]
    tables = [t for t, _ in rows]
    assert tables.index("cases") > tables.index("tasks")
    again = [(t, r) for t, r in demo_rows(ctx, contacts=40, seed=3, now=now)]
    assert rows == again
