"""Activities service: logging moves last-contacted (without a version bump), follow-ups, timelines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Contact, Task
from crm_tui.services import activities, companies, contacts


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Activity, Task, AuditEvent))


def _contact_state(db, contact_id):
    with db.read() as s:
        row = s.get(Contact, contact_id)
        return row.last_contacted_at, row.version


def _log(db, actor, now, **data):
    with db.write() as s:
        return activities.log_activity(s, data=data, actor=actor, now=now)[0]


def test_interactions_move_last_contacted_forward_only_and_keep_the_version(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    yesterday = now - timedelta(days=1)
    call = _log(db, actor, now, kind="call", contact_id=ada.id, occurred_at=yesterday, subject="Intro",
                direction="outbound", duration_minutes=15)
    assert (call.kind, call.occurred_at, call.user_login, call.contact_name) == ("call", yesterday, "ann", "Ada")
    assert _contact_state(db, ada.id) == (yesterday, 1)  # derived field: no version bump, no edit conflict

    _log(db, actor, now, kind="call", contact_id=ada.id, occurred_at=now - timedelta(days=5))  # an older call
    assert _contact_state(db, ada.id) == (yesterday, 1)
    _log(db, actor, now, kind="note", contact_id=ada.id, body="likes anvils")  # a note reaches nobody
    assert _contact_state(db, ada.id) == (yesterday, 1)
    _log(db, actor, now, kind="email", contact_id=ada.id, occurred_at="2 hours ago")
    assert _contact_state(db, ada.id) == (now - timedelta(hours=2), 1)

    with db.write() as s:  # an edit form opened before the calls still saves
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "CTO"}, actor=actor, version=1, now=now)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Activity).where(Activity.contact_id == ada.id)) == 4
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "activity")) == 4


def test_follow_up_task_is_created_in_the_same_transaction(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    with db.write() as s:
        activity, task = activities.log_activity(
            s, data={"kind": "call", "contact_id": ada.id, "subject": "Pricing"}, actor=actor, now=now,
            follow_up={"title": "Send proposal", "due_at": "tomorrow 9am"})
    assert task is not None and task.title == "Send proposal"
    assert task.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    assert (task.contact_id, task.assignee_login, task.related) == (ada.id, "ann", "contact: Ada")
    with db.read() as s:
        assert s.get(Task, task.id).contact_id == ada.id
        assert s.get(Activity, activity.id).subject == "Pricing"

    before, contact_before = _counts(db), _contact_state(db, ada.id)
    for follow_up, message in (({"title": "Again", "due_at": "blorp"}, "can't read 'blorp' as a date"),
                               ({"title": "  "}, "task title is required"),
                               ({"title": "x", "recurrence": "every blue moon"}, "can't read recurrence")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                activities.log_activity(s, data={"kind": "call", "contact_id": ada.id,
                                                 "occurred_at": now + timedelta(minutes=1)},
                                        actor=actor, now=now + timedelta(minutes=1), follow_up=follow_up)
        assert _counts(db) == before, follow_up  # the activity went too
        assert _contact_state(db, ada.id) == contact_before


def test_bad_activity_input_writes_nothing(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    before = _counts(db)
    for data, error, message in (
        ({"kind": "call"}, InvalidInput, "needs a contact, a company or a deal"),
        ({"kind": "fax", "contact_id": ada.id}, InvalidInput, "invalid activity kind 'fax'"),
        ({"kind": "stage_change", "contact_id": ada.id}, InvalidInput, "log a call, email, meeting or note"),
        ({"kind": "call", "contact_id": 99999}, NotFound, "no contact with id 99999"),
        ({"kind": "call", "contact_id": ada.id, "direction": "sideways"}, InvalidInput, "invalid direction"),
        ({"kind": "call", "contact_id": ada.id, "duration_minutes": -3}, InvalidInput, "must not be negative"),
        ({"kind": "call", "contact_id": ada.id, "occurred_at": "at some point"}, InvalidInput, "can't read"),
    ):
        with pytest.raises(error, match=message):
            with db.write() as s:
                activities.log_activity(s, data=data, actor=actor, now=now)
        assert _counts(db) == before, data
    assert _contact_state(db, ada.id) == (None, 1)


def test_company_timeline_includes_its_contacts_newest_first_paged(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        other = companies.create_company(s, data={"name": "Other"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme.id}, actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob", "company_id": acme.id}, actor=actor, now=now)
        eve = contacts.create_contact(s, data={"first_name": "Eve", "company_id": other.id}, actor=actor, now=now)
    logged = [  # (hours ago, links, subject)
        (5, {"contact_id": ada.id}, "ada 5h"),
        (1, {"contact_id": bob.id}, "bob 1h"),
        (3, {"company_id": acme.id}, "acme 3h"),
        (2, {"contact_id": eve.id}, "eve 2h"),
        (4, {"contact_id": bob.id}, "bob 4h"),
        (3, {"contact_id": ada.id}, "ada 3h"),  # same time as "acme 3h": the later id comes first
    ]
    for hours, links, subject in logged:
        _log(db, actor, now, kind="note", occurred_at=now - timedelta(hours=hours), subject=subject, **links)

    expected = ["bob 1h", "ada 3h", "acme 3h", "bob 4h", "ada 5h"]
    with db.read() as s:
        whole = activities.timeline(s, company_id=acme.id)
        assert [a.subject for a in whole.items] == expected and whole.next_cursor is None
        seen, cursor = [], None
        for _ in range(10):
            page = activities.timeline(s, company_id=acme.id, after=cursor, limit=2)
            assert len(page.items) <= 2
            seen += [a.subject for a in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected
        assert [a.subject for a in activities.timeline(s, contact_id=bob.id).items] == ["bob 1h", "bob 4h"]
        assert [a.contact_name for a in whole.items] == ["Bob", "Ada", None, "Bob", "Ada"]
        with pytest.raises(InvalidInput, match="one contact, company or deal"):
            activities.timeline(s, company_id=acme.id, contact_id=bob.id)
