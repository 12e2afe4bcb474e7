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
        with pytest.raises(NotFound, match="no user 'carol'"):
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


# --- manager and team (issue 17 #20) ---------------------------------------------------------------


def _audit(db, user_id: int) -> list[tuple[str, str | None, str | None]]:
    with db.read() as s:
        return [(e.action, e.field, e.new_value) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.entity == "user", AuditEvent.entity_id == user_id)
            .order_by(AuditEvent.id))]


def test_a_user_has_a_manager_and_a_team(db, actor, now):
    with db.write() as s:
        carol = users.create_user(s, data={"login": "carol", "role": "manager", "team": "  EMEA "}, actor=actor, now=now)
        bob = users.create_user(s, data={"login": "bob", "manager_id": carol.id, "team": "emea"}, actor=actor, now=now)
    # "emea" joins the team spelled "EMEA": one group in the reports, not two
    assert (carol.team, bob.team, bob.manager_id, carol.manager_id) == ("EMEA", "EMEA", carol.id, None)
    assert "team EMEA" in _audit(db, bob.id)[0][2] and f"reports to #{carol.id}" in _audit(db, bob.id)[0][2]
    with db.write() as s:
        bob = users.update_user(s, user_id=bob.id, changes={"manager_id": None, "team": "Inside   sales"},
                                actor=actor, now=now)
    assert (bob.manager_id, bob.team) == (None, "Inside sales")
    changed = {field: new for action, field, new in _audit(db, bob.id) if action == "update"}
    assert set(changed) == {"manager_id", "team"} and changed["team"] == "Inside sales"
    with db.write() as s:
        bob = users.update_user(s, user_id=bob.id, changes={"team": ""}, actor=actor, now=now)
    assert bob.team is None
    with db.read() as s:
        assert [(u.login, u.manager_id, u.team) for u in users.list_users(s)] == [
            ("ann", None, None), ("bob", None, None), ("carol", None, "EMEA")]


def test_a_manager_is_never_the_user_nor_below_them(db, actor, now):
    with db.write() as s:
        top = users.create_user(s, data={"login": "top"}, actor=actor, now=now)
        mid = users.create_user(s, data={"login": "mid", "manager_id": top.id}, actor=actor, now=now)
        low = users.create_user(s, data={"login": "low", "manager_id": mid.id}, actor=actor, now=now)
    before = _counts(db)
    for user_id, manager_id, error, message in (
            (top.id, top.id, InvalidInput, "top cannot be their own manager"),
            (top.id, mid.id, InvalidInput, "mid reports to top"),
            (top.id, low.id, InvalidInput, "low reports to top"),  # through mid
            (mid.id, 99999, NotFound, "no user #99999 to be the manager")):
        with pytest.raises(error, match=message):
            with db.write() as s:
                users.update_user(s, user_id=user_id, changes={"manager_id": manager_id}, actor=actor, now=now)
        assert _counts(db) == before
    with pytest.raises(NotFound, match="no user #99999"):
        with db.write() as s:
            users.create_user(s, data={"login": "new", "manager_id": 99999}, actor=actor, now=now)
    with db.write() as s:  # a sideways move is no cycle
        assert users.update_user(s, user_id=low.id, changes={"manager_id": top.id}, actor=actor, now=now).manager_id \
            == top.id
        assert users.managers_above(s, low.id) == [top.id]


def test_only_a_user_admin_sets_a_manager_or_team(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "manager"}, actor=actor, now=now)
        as_bob = users.actor_for(s, login="bob", now=now)
    before = _counts(db)
    for changes in ({"team": "EMEA"}, {"manager_id": actor.user_id}):
        with pytest.raises(PermissionDenied, match="may not add, change and deactivate users"):
            with db.write() as s:
                users.update_user(s, user_id=bob.id, changes=changes, actor=as_bob, now=now)
    assert _counts(db) == before
