"""Several OS processes writing one database at once: optimistic locking and queued writers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.models import Activity, AuditEvent, Contact
from crm_tui.services import contacts, deals
from tests.unit import proc_workers

pytestmark = pytest.mark.slow

WRITERS = 8
# Each activity is its own unit of work through the full service (about 3 ms of mostly ORM time
# per unit), so the writers queue for ~1,600 units on SQLite. PostgreSQL takes row locks instead
# of a file lock, and fewer units per writer still make every writer overlap with the others.
ACTIVITIES_EACH = {"sqlite": 200, "postgresql": 100}


def test_two_processes_editing_one_deal_one_wins_one_conflicts(db, db_url, actor, now):
    with db.write() as session:
        deal = deals.create_deal(session, data={"title": "Original", "amount": "1000"}, actor=actor, now=now)

    reports = proc_workers.run_in_processes(proc_workers.update_deal_title, [
        (db_url, deal.id, actor, title, now) for title in ("Title from A", "Title from B")
    ])

    assert [loaded for _, _, loaded in reports] == [deal.version, deal.version]
    outcomes = sorted(outcome.split(":", 1)[0] for outcome, _, _ in reports)
    assert outcomes == ["conflict", "ok"], reports
    winner = next(title for outcome, title, _ in reports if outcome == "ok")
    conflict = next(outcome for outcome, _, _ in reports if outcome.startswith("conflict:"))
    assert "reload" in conflict  # the loser is told what to do, in words
    with db.read() as session:
        after = deals.get_deal(session, deal_id=deal.id)
        title_audits = session.execute(
            select(AuditEvent.old_value, AuditEvent.new_value)
            .where(AuditEvent.entity == "deal", AuditEvent.entity_id == deal.id,
                   AuditEvent.action == "update", AuditEvent.field == "title")
        ).all()
    assert after.title == winner
    assert after.version == deal.version + 1
    assert [tuple(a) for a in title_audits] == [("Original", winner)]


def test_eight_processes_appending_activities_lose_nothing(db, db_url, actor, now):
    each = ACTIVITIES_EACH[db.dialect]
    with db.write() as session:
        contact = contacts.create_contact(session, data={"first_name": "Busy", "last_name": "Line"},
                                          actor=actor, now=now)

    reports = proc_workers.run_in_processes(proc_workers.append_activities, [
        (db_url, contact.id, actor, worker, each, now) for worker in range(WRITERS)
    ], timeout=300)

    errors = [e for _, _, errs in reports for e in errs]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    assert sorted(logged for _, logged, _ in reports) == [each] * WRITERS
    with db.read() as session:
        rows = session.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == contact.id))
        subjects = session.scalar(select(func.count(func.distinct(Activity.subject))))
        last_contacted = session.scalar(select(Contact.last_contacted_at).where(Contact.id == contact.id))
    assert rows == subjects == WRITERS * each
    # worker 0's first call is the newest of all (see proc_workers.append_activities)
    assert last_contacted == now
