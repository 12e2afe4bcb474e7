"""The future does not count as contact (issue 17 #10): a call or meeting logged ahead of its time
leaves the contact's last contact alone until its time has come; then the workflow engine's run
counts it, set-based, through the partial index of activities logged ahead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import FROZEN_NOW

from crm_tui.models import Contact
from crm_tui.services import activities, contacts
from crm_tui.workflows import runner
from crm_tui.workflows.rules import RuleSet

CASES = [  # (kind, days ahead it is logged for, counts as contact once its time has come)
    ("meeting", 3, True),
    ("call", 1, True),
    ("email", 2, True),
    ("note", 1, False),  # a note reaches nobody
]


def _last(db, contact_id):
    with db.read() as s:
        return s.get(Contact, contact_id).last_contacted_at


@pytest.mark.parametrize(("kind", "days", "counts"), CASES, ids=[c[0] for c in CASES])
def test_a_planned_interaction_counts_only_once_its_time_has_come(db, actor, now, kind, days, counts):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
        earlier = now - timedelta(days=10)
        activities.log_activity(s, data={"kind": "call", "contact_id": ada.id, "occurred_at": earlier},
                                actor=actor, now=now)
        planned = now + timedelta(days=days)
        activities.log_activity(s, data={"kind": kind, "contact_id": ada.id, "occurred_at": planned},
                                actor=actor, now=now)
    assert _last(db, ada.id) == earlier  # logged ahead: not contact yet

    runner.run(db, rules=RuleSet(), now=now + timedelta(hours=1))  # its time has not come
    assert _last(db, ada.id) == earlier

    later = planned + timedelta(minutes=1)
    with db.read() as s:
        assert activities.planned_arrived(s, now=later) is counts
    runner.run(db, rules=RuleSet(), now=later)
    assert _last(db, ada.id) == (planned if counts else earlier)
    with db.read() as s:  # done: the next run has nothing to do
        assert activities.planned_arrived(s, now=later) is False


def test_the_cli_does_not_take_a_date_in_2099_as_contact(db, db_url, actor):
    from typer.testing import CliRunner

    from crm_tui.cli.main import app

    def crm(*args):
        result = CliRunner().invoke(app, ["--db", db_url, "--user", "ann", *args])
        assert result.exit_code == 0, result.output
        return result

    crm("contact", "add", "--first", "Lee", "--last", "Ng", "--email", "lee@example.com")
    crm("log", "meeting", "--contact", "lee@example.com", "--subject", "Kick-off", "--at", "2099-01-01 10:00")
    with db.read() as s:
        assert s.scalars(select(Contact.last_contacted_at)).one() is None


def test_the_arrivals_read_only_activities_logged_ahead(db):
    """The engine runs this on every tick, at 1M activities: SQLite's plan names the partial index."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the query plan is checked on SQLite; PostgreSQL may choose by its statistics")
    condition, _ = activities._arrivals(FROZEN_NOW)
    stmt = select(Contact.id).where(condition)
    with db.engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = tuple("2026-01-01" for _ in compiled.positiontup)  # the plan does not depend on them
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params))
    assert "ix_activities_planned" in plan, plan


def test_arrive_planned_counts_the_contacts_it_moved(db, actor, now):
    """The count is the contacts moved, on both databases (Python 3.11's sqlite3 reports -1 as the
    rowcount of an UPDATE that starts with WITH, so the count cannot come from rowcount)."""
    with db.write() as s:
        for name in ("Ada", "Bo"):
            person = contacts.create_contact(s, data={"first_name": name}, actor=actor, now=now)
            activities.log_activity(s, data={"kind": "meeting", "contact_id": person.id,
                                             "occurred_at": now + timedelta(days=1)}, actor=actor, now=now)
    later = now + timedelta(days=2)
    with db.write() as s:
        assert activities.arrive_planned(s, now=later) == 2
    with db.write() as s:
        assert activities.arrive_planned(s, now=later) == 0
