"""Users service: create, resolve, who may act, and never losing the last admin."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput, NotFound, PermissionDenied
from crm_tui.models import AuditEvent, User
from crm_tui.services import users


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (User, AuditEvent))


def test_first_login_is_admin_and_create_normalises_and_refuses_duplicates(db, actor, now):
    assert (actor.login, actor.role) == ("ann", "admin")
    with db.write() as s:
        bob = users.create_user(s, data={"login": "  Bob.B ", "name": "Bob Builder", "email": "Bob@Example.com",
                                         "timezone": "Europe/Paris"}, actor=actor, now=now)
    assert (bob.login, bob.name, bob.email, bob.role, bob.active) == (
        "bob.b", "Bob Builder", "bob@example.com", "sales", True)
    with db.read() as s:
        assert s.get(User, bob.id).timezone == "Europe/Paris"
        assert [u.login for u in users.list_users(s)] == ["ann", "bob.b"]

    before = _counts(db)
    for data, message in (({"login": "BOB.B"}, "login 'bob.b' is already taken"),
                          ({"login": "bad login!"}, "invalid login"),
                          ({"login": ""}, "invalid login"),
                          ({"login": "cy", "role": "overlord"}, "invalid role 'overlord'"),
                          ({"login": "cy", "email": "nope"}, "invalid email"),
                          ({"login": "cy", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                users.create_user(s, data=data, actor=actor, now=now)
        assert _counts(db) == before, data


def test_resolve_by_login_email_name_or_id(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob Builder", "email": "bob@example.com"},
                                actor=actor, now=now)
    with db.read() as s:
        for ref in ("bob", "BOB", "bob@EXAMPLE.com", "bob builder", str(bob.id), bob.id):
            assert users.resolve_user(s, ref).id == bob.id, ref
        with pytest.raises(NotFound, match="no user 'carol'; see `crm user list`"):
            users.resolve_user(s, "carol")


def test_who_may_act(db, actor, now):
    before = _counts(db)
    with pytest.raises(PermissionDenied, match="'stranger' is not a user.*`crm user add stranger") as caught:
        with db.write() as s:
            users.actor_for(s, login="stranger", now=now)
    assert "\n" not in caught.value.message
    assert _counts(db) == before  # no second "first admin"

    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "manager"}, actor=actor, now=now)
        as_bob = users.actor_for(s, login="Bob", now=now)
    assert (as_bob.user_id, as_bob.role) == (bob.id, "manager")
    with db.write() as s:
        users.update_user(s, user_id=bob.id, changes={"active": False}, actor=actor, now=now)
    with pytest.raises(PermissionDenied, match="user 'bob' is deactivated"):
        with db.write() as s:
            users.actor_for(s, login="bob", now=now)


def test_the_last_admin_cannot_be_demoted_or_deactivated(db, actor, now):
    before = _counts(db)
    for changes in ({"role": "sales"}, {"active": False}):
        with pytest.raises(InvalidInput, match="ann is the last active admin"):
            with db.write() as s:
                users.update_user(s, user_id=actor.user_id, changes=changes, actor=actor, now=now)
    assert _counts(db) == before

    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "admin"}, actor=actor, now=now)
        users.update_user(s, user_id=actor.user_id, changes={"role": "sales"}, actor=actor, now=now)
    with pytest.raises(InvalidInput, match="bob is the last active admin"):
        with db.write() as s:  # ann is sales now and may not change users (issue 8): bob tries himself
            bob_actor = users.actor_for(s, login="bob", now=now)
            users.update_user(s, user_id=bob.id, changes={"active": False}, actor=bob_actor, now=now)
    with db.read() as s:
        assert s.get(User, actor.user_id).role == "sales"
        assert s.get(User, bob.id).active is True
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.action == "update")).one()
        assert (event.entity_id, event.field, event.old_value, event.new_value) == (
            actor.user_id, "role", "admin", "sales")
