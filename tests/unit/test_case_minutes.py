"""A case's stored minutes to first response and to resolution (models/case.py, migration 0027),
which the times report reads: kept with the times by every write, and equal to what migration 0027's
SQL (the report's former expression) computes, fractions of seconds included. SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text

from crm_tui import migrations
from crm_tui.models import Case
from crm_tui.models.case import elapsed_minutes
from crm_tui.services import cases, contacts, users
from crm_tui.services.common import system_actor


def _migration():
    path = Path(migrations.__file__).parent / "versions" / "0027_case_minutes.py"
    spec = importlib.util.spec_from_file_location("migration_0027", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _minutes(s, case_id):
    case = s.get(Case, case_id)
    return case.first_response_minutes, case.resolution_minutes


def test_floored_seconds_then_floored_minutes(now):
    start = now.replace(microsecond=900_000)
    assert elapsed_minutes(start + timedelta(seconds=59, microseconds=200_000), start) == 1  # 10:00:00 -> 10:01:00
    assert elapsed_minutes(start + timedelta(seconds=59), start) == 0
    assert elapsed_minutes(start - timedelta(minutes=5), start) is None
    assert elapsed_minutes(None, start) is None


def test_every_write_keeps_the_minutes(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sue", "role": "support", "email": "sue@ours.example.com"},
                          actor=actor, now=now)
    with db.write() as s:
        sue = users.actor_for(s, login="sue", now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@acme.example.com"]}, actor=actor,
                                      now=now).id
        case_id = cases.create_case(s, actor=sue, subject="Printer on fire", contact_id=ada, now=now).id
        dup = cases.create_case(s, actor=sue, subject="Printer still on fire", contact_id=ada,
                                now=now + timedelta(minutes=1)).id
    with db.read() as s:
        assert _minutes(s, case_id) == (None, None)
    with db.write() as s:
        cases.note(s, case_id, actor=sue, body="looking", now=now + timedelta(minutes=5))  # a note is no response
        cases.add_entry(s, case_id, actor=system_actor("mail"), body="still burns", direction="in",
                        now=now + timedelta(minutes=6))
    with db.read() as s:
        assert _minutes(s, case_id) == (None, None)
    with db.write() as s:
        cases.reply(s, dup, actor=sue, body="Unplug it.", now=now + timedelta(minutes=31, seconds=59))
        cases.reply(s, case_id, actor=sue, body="Unplug it.", now=now + timedelta(minutes=42, seconds=59))
    with db.read() as s:
        assert _minutes(s, case_id) == (42, None) and _minutes(s, dup) == (30, None)
    with db.write() as s:
        cases.resolve(s, case_id, actor=sue, now=now + timedelta(hours=3))
    with db.read() as s:
        assert _minutes(s, case_id) == (42, 180)
    with db.write() as s:
        cases.reopen(s, case_id, actor=sue, now=now + timedelta(hours=4))
    with db.read() as s:
        assert _minutes(s, case_id) == (42, None)
    with db.write() as s:
        cases.close(s, case_id, actor=sue, now=now + timedelta(hours=5))  # closing resolves it too
    with db.read() as s:
        assert _minutes(s, case_id) == (42, 300)
    with db.write() as s:  # a reopened case answered by the merge: the earlier first response comes with it
        cases.reopen(s, case_id, actor=sue, now=now + timedelta(hours=6))
        s.get(Case, case_id).first_response_at = None
    with db.read() as s:
        assert _minutes(s, case_id) == (None, None)
    with db.write() as s:
        cases.merge_cases(s, keep_id=case_id, merge_id=dup, actor=sue, now=now + timedelta(hours=7))
    with db.read() as s:
        assert _minutes(s, case_id) == (31, None)  # dup's reply, counted from case_id's creation
        assert _minutes(s, dup) == (30, None)  # merged: left out of the reports by merged_into_id


def test_migration_0027_computes_what_the_models_store(db, actor, now):
    """The backfill's SQL, run over cases stored through the ORM with odd fractions of seconds,
    gives the minutes the ORM stored (the report's old figures are the new ones)."""
    rng = random.Random(27)
    with db.write() as s:
        for _ in range(200):
            created = now + timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(1_000_000))
            first = created + timedelta(seconds=rng.randrange(-120, 7200), microseconds=rng.randrange(1_000_000))
            resolved = created + timedelta(seconds=rng.randrange(-60, 90000), microseconds=rng.randrange(1_000_000))
            s.add(Case(subject="s", created_at=created, updated_at=created, first_response_at=first,
                       resolved_at=resolved if rng.random() < 0.8 else None))
    migration = _migration()
    with db.read() as s:
        dialect = s.get_bind().dialect.name
        stored = s.execute(select(Case.id, Case.first_response_minutes, Case.resolution_minutes)
                           .order_by(Case.id)).all()
        computed = s.execute(text(f"SELECT id, {migration._minutes('first_response_at', dialect)}, "
                                  f"{migration._minutes('resolved_at', dialect)} FROM cases ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [tuple(r) for r in computed]
    assert any(r[1] is None for r in stored) and any(r[2] is None for r in stored)  # answered before it opened
