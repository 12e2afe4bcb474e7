"""Issue 17 #14, the services: deleting a logged activity (audited with its content, last contact
recomputed, undone by restore), stage changes kept as history, and finding a saved list by name."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Contact
from crm_tui.services import activities, contacts, deals, permissions, search, users, views


def _log(db, actor, now, **data):
    with db.write() as s:
        return activities.log_activity(s, data=data, actor=actor, now=now)[0]


def _last_contacted(db, contact_id):
    with db.read() as s:
        row = s.get(Contact, contact_id)
        return row.last_contacted_at, row.version


def _delete(db, actor, now, activity_id, **kwargs):
    with db.write() as s:
        return activities.delete_activity(s, activity_id=activity_id, actor=actor, now=now, **kwargs)


def _restore(db, actor, now, activity_id):
    with db.write() as s:
        return activities.restore_activity(s, activity_id=activity_id, actor=actor, now=now)


def _found(db, text: str) -> list[int]:
    """The activities a search for `text` finds (the search index follows a delete and a restore)."""
    with db.read() as s:
        condition = search.activity_condition(s.get_bind().dialect.name, text)
        return list(s.scalars(select(Activity.id).where(condition)))


def _user(db, actor, now, login, role="sales"):
    with db.write() as s:
        users.create_user(s, data={"login": login, "role": role}, actor=actor, now=now)
        return users.actor_for(s, login=login, now=now)


def test_deleting_the_latest_contact_recomputes_last_contacted_and_restore_brings_it_back(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    older = _log(db, actor, now, kind="meeting", contact_id=ada.id, occurred_at=now - timedelta(days=3))
    _log(db, actor, now, kind="note", contact_id=ada.id, occurred_at=now - timedelta(days=1), body="a note")
    latest = _log(db, actor, now, kind="call", contact_id=ada.id, occurred_at=now - timedelta(days=2),
                  subject="Pricing", body="Line one\nLine two: ünïcode", outcome="connected", direction="outbound",
                  duration_minutes=12)
    _log(db, actor, now, kind="call", contact_id=ada.id, occurred_at=now + timedelta(days=2))  # planned
    assert _last_contacted(db, ada.id) == (now - timedelta(days=2), 1)

    assert _found(db, "ünïcode") == [latest.id]
    deleted = _delete(db, actor, now, latest.id)
    assert _found(db, "ünïcode") == []
    assert (deleted.id, deleted.subject) == (latest.id, "Pricing")
    # the latest remaining call, email or meeting that has happened: not the note, not the planned call
    assert _last_contacted(db, ada.id) == (now - timedelta(days=3), 1)
    with db.read() as s:
        assert s.get(Activity, latest.id) is None
        event = s.execute(select(AuditEvent.new_value, AuditEvent.entity_id, AuditEvent.actor).where(
            AuditEvent.entity == "activity", AuditEvent.action == "delete")).one()
    kept = json.loads(event.new_value)  # the audit trail can be read back: what the activity said
    assert (kept["subject"], kept["body"], kept["outcome"], kept["kind"]) == (
        "Pricing", "Line one\nLine two: ünïcode", "connected", "call")
    assert (event.entity_id, event.actor) == (latest.id, "ann")

    _delete(db, actor, now, older.id)
    assert _last_contacted(db, ada.id) == (None, 1)  # no contact left that has happened

    back = _restore(db, actor, now + timedelta(minutes=5), latest.id)
    assert back.model_dump(exclude={"version"}) == latest.model_dump(exclude={"version"})
    assert _last_contacted(db, ada.id) == (now - timedelta(days=2), 1)
    assert _found(db, "ünïcode") == [latest.id]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "activity", AuditEvent.entity_id == latest.id, AuditEvent.action == "restore")) == 1
    with pytest.raises(Conflict, match="is not deleted"):
        _restore(db, actor, now, latest.id)
    with pytest.raises(NotFound, match="no deleted activity #9999"):
        _restore(db, actor, now, 9999)


def test_deleting_an_older_activity_leaves_last_contacted(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    old = _log(db, actor, now, kind="call", contact_id=ada.id, occurred_at=now - timedelta(days=9))
    _log(db, actor, now, kind="email", contact_id=ada.id, occurred_at=now - timedelta(days=1))
    _delete(db, actor, now, old.id)
    assert _last_contacted(db, ada.id) == (now - timedelta(days=1), 1)


def test_stage_changes_are_history_not_editable_or_deletable(db, actor, now):
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Anvils"}, actor=actor, now=now)
        deals.step_deal(s, deal_id=deal.id, step=1, actor=actor, now=now)
        change = s.scalars(select(Activity).where(Activity.deal_id == deal.id,
                                                  Activity.kind == "stage_change")).first()
        change_id = change.id
    for call in (lambda s: activities.delete_activity(s, activity_id=change_id, actor=actor, now=now),
                 lambda s: activities.update_activity(s, activity_id=change_id, subject="x", actor=actor, now=now)):
        with pytest.raises(InvalidInput, match=f"activity #{change_id} is a stage change, part of the record's history"):
            with db.write() as s:
                call(s)
    with db.read() as s:
        assert s.get(Activity, change_id) is not None


def test_delete_checks_permission_for_the_one_who_logged_it_and_the_version(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    bob = _user(db, actor, now, "bob")
    cat = _user(db, actor, now, "cat")
    with db.write() as s:  # sellers may log, and correct only what they logged themselves
        permissions.set_scope(s, role="sales", action="activity.log", scope="own", actor=actor, now=now)
    mine = _log(db, bob, now, kind="call", contact_id=ada.id, subject="bob's call")
    anns = _log(db, actor, now, kind="call", contact_id=ada.id, subject="ann's call")
    with pytest.raises(Forbidden):
        _delete(db, cat, now, mine.id)
    with pytest.raises(Forbidden):
        with db.write() as s:
            activities.update_activity(s, activity_id=anns.id, subject="mine now", actor=bob, now=now)
    with pytest.raises(Conflict):
        _delete(db, bob, now, mine.id, version=7)
    _delete(db, bob, now, mine.id, version=1)
    with pytest.raises(Forbidden):
        _restore(db, cat, now, mine.id)
    assert _restore(db, bob, now, mine.id).subject == "bob's call"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == 2


def test_find_a_saved_list_by_name_or_id_among_those_one_may_see(db, actor, now):
    bob = _user(db, actor, now, "bob")
    with db.write() as s:
        hot = views.create_view(s, data={"name": "Hot leads", "filters": {"tag": "hot"}}, actor=actor, now=now)
        views.create_view(s, data={"name": "Ann only", "shared": False}, actor=actor, now=now)
    with db.read() as s:
        assert views.find_view(s, name="hot LEADS", actor=bob).id == hot.id
        assert views.find_view(s, name=str(hot.id), actor=bob).name == "Hot leads"
        assert views.find_view(s, name="Ann only", actor=actor).shared is False
        with pytest.raises(NotFound, match="no saved contact list named 'Ann only'"):
            views.find_view(s, name="Ann only", actor=bob)
