"""Saved views (create, list, update, delete, privacy) and reading the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import AuditEvent, SavedView
from crm_tui.services import audit, companies, contacts, users, views


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (SavedView, AuditEvent))


def _bob(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        return users.actor_for(s, login="bob", now=now)


def test_create_list_update_and_delete_views(db, actor, now):
    with db.write() as s:
        hot = views.create_view(s, data={"name": "Hot leads", "query": "  acme ", "sort": "last_contacted",
                                         "filters": {"lifecycle": ["lead"], "tag": "hot"}}, actor=actor, now=now)
        views.create_view(s, data={"name": "Customers", "filters": {"lifecycle": ["customer"]}}, actor=actor, now=now)
    assert (hot.name, hot.query, hot.sort, hot.owner_id, hot.shared) == (
        "Hot leads", "acme", "last_contacted", actor.user_id, True)
    assert hot.filters == {"lifecycle": ["lead"], "tag": "hot"}
    with db.read() as s:
        assert [v.name for v in views.list_views(s, actor=actor)] == ["Hot leads", "Customers"]
        assert views.list_views(s, entity="deal", actor=actor) == []

    before = _counts(db)
    for data, message in (({"name": "HOT LEADS"}, "a contact view named 'HOT LEADS' already exists"),
                          ({"name": "By age", "sort": "age"}, "invalid sort 'age'"),
                          ({"name": "Odd", "filters": {"owner_id": "somebody"}}, "owner_id"),
                          ({"name": "Odd", "entity": "planet"}, "invalid view entity 'planet'"),
                          ({"name": " "}, "view name is required")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                views.create_view(s, data=data, actor=actor, now=now)
        assert _counts(db) == before, data

    with db.write() as s:
        renamed = views.update_view(s, view_id=hot.id, name="Warm leads", sort="name", actor=actor, version=1, now=now)
    assert (renamed.name, renamed.sort, renamed.version, renamed.filters) == ("Warm leads", "name", 2, hot.filters)
    for changes, message in (({"sort": "shoe size"}, "invalid sort"),
                             ({"name": "customers"}, "a contact view named 'customers' already exists"),
                             ({"filters": {"archived": "maybe"}}, "archived")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                views.update_view(s, view_id=hot.id, actor=actor, now=now, **changes)
    assert _counts(db) == (before[0], before[1] + 2)  # only the update's audit rows (name, sort)
    with pytest.raises(Conflict, match="view 'Warm leads' was changed by ann"):
        with db.write() as s:
            views.update_view(s, view_id=hot.id, name="Mine", actor=actor, version=1, now=now)

    with db.write() as s:
        views.delete_view(s, view_id=hot.id, actor=actor, now=now)
    with db.read() as s:
        assert [v.name for v in views.list_views(s, actor=actor)] == ["Customers"]
        assert s.get(SavedView, hot.id) is None
        deleted = s.scalars(select(AuditEvent).where(AuditEvent.entity == "view", AuditEvent.action == "delete")).one()
        assert (deleted.entity_id, deleted.new_value) == (hot.id, "Warm leads")


def test_private_views_belong_to_their_owner(db, actor, now):
    bob = _bob(db, actor, now)
    with db.write() as s:
        mine = views.create_view(s, data={"name": "My list", "shared": False}, actor=actor, now=now)
        views.create_view(s, data={"name": "Team list"}, actor=actor, now=now)
    with db.write() as s:  # view names are unique per entity, private or not
        with pytest.raises(InvalidInput, match="already exists"):
            views.create_view(s, data={"name": "my list", "shared": False}, actor=bob, now=now)
    with db.read() as s:
        assert [v.name for v in views.list_views(s, actor=actor)] == ["My list", "Team list"]
        assert [v.name for v in views.list_views(s, actor=bob)] == ["Team list"]
        assert [v.name for v in views.list_views(s)] == ["Team list"]

    before = _counts(db)
    for call in (lambda s: views.update_view(s, view_id=mine.id, name="Bob's now", actor=bob, now=now),
                 lambda s: views.delete_view(s, view_id=mine.id, actor=bob, now=now)):
        with pytest.raises(NotFound, match=f"no view with id {mine.id}"):
            with db.write() as s:
                call(s)
    assert _counts(db) == before
    with db.read() as s:
        assert s.get(SavedView, mine.id).name == "My list"


def test_list_events_filters_by_record_and_actor_newest_first(db, actor, now):
    bob = _bob(db, actor, now)
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now + timedelta(minutes=1))
    with db.write() as s:
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "CTO"}, actor=bob,
                                now=now + timedelta(minutes=2))
    with db.write() as s:
        contacts.update_contact(s, contact_id=ada.id, changes={"lifecycle": "customer"}, actor=actor,
                                now=now + timedelta(minutes=3))

    with db.read() as s:
        trail = audit.list_events(s, entity="contact", entity_id=ada.id)
        assert [(e.action, e.field, e.actor) for e in trail.items] == [
            ("update", "lifecycle", "ann"), ("update", "title", "bob"), ("create", None, "ann")]
        assert [e.at for e in trail.items] == sorted((e.at for e in trail.items), reverse=True)
        assert [e.entity for e in audit.list_events(s, actor="BOB").items] == ["contact"]
        assert [e.entity_id for e in audit.list_events(s, entity="company").items] == [acme.id]
        assert audit.list_events(s, entity="contact", entity_id=ada.id + 1000).items == []
        recent = audit.list_events(s, since=now + timedelta(minutes=1))
        assert [(e.entity, e.field) for e in recent.items] == [("contact", "lifecycle"), ("contact", "title"),
                                                               ("company", None)]
        first = audit.list_events(s, entity="contact", limit=2)
        rest = audit.list_events(s, entity="contact", limit=2, after=first.next_cursor)
        assert [e.id for e in first.items + rest.items] == [e.id for e in trail.items]
        assert rest.next_cursor is None
