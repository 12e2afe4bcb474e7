"""Roles through the services: the default matrix for each role, "own" records, an admin's changes,
identity refusals, and the system actor (issue 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_tui.clock import UTC
from crm_tui.errors import Forbidden, PermissionDenied
from crm_tui.models import AuditEvent, RolePermission
from crm_tui.services import (
    activities, companies, contacts, deals, goals, permissions, pipelines, reports, tasks, users,
)
from crm_tui.services.common import system_actor

ROLES = ("admin", "manager", "sales", "marketing", "support")


class _Rollback(Exception):
    pass


def attempt(db, fn) -> str:
    """'ok' or the Forbidden message; whatever fn wrote is rolled back either way."""
    try:
        with db.write() as session:
            fn(session)
            raise _Rollback
    except _Rollback:
        return "ok"
    except Forbidden as exc:
        return str(exc)


@pytest.fixture
def team(db, actor, now):
    """One user per role (ann is the admin), a deal and a task each for sam (sales) and mia (manager)."""
    out = {"admin": actor}
    with db.write() as s:
        for login, role in (("mia", "manager"), ("sam", "sales"), ("max", "marketing"), ("sue", "support")):
            users.create_user(s, data={"login": login, "role": role}, actor=actor, now=now)
    for login, role in (("mia", "manager"), ("sam", "sales"), ("max", "marketing"), ("sue", "support")):
        with db.write() as s:
            out[role] = users.actor_for(s, login=login, now=now)
    with db.write() as s:
        contact = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Byron"}, actor=actor, now=now)
        out["contact"] = contact.id
        for role in ("sales", "manager"):
            owner = out[role].user_id
            out[f"deal_{role}"] = deals.create_deal(s, data={"title": f"Deal of {role}", "owner_id": owner,
                                                             "contact_id": contact.id}, actor=actor, now=now)
            out[f"task_{role}"] = tasks.create_task(s, data={"title": f"Task of {role}", "assignee_id": owner},
                                                    actor=actor, now=now)
        out["stage"] = pipelines.default_pipeline(s).stages[1].id
    return out


def _report(name):
    def run(s, t, a, now):
        period = reports.resolve_period(preset="this-month", now=now, zone=UTC)
        return reports.run_report(s, name=name, period=period, zone=UTC, currency="EUR", now=now, actor=a)
    return run


# (what, the call, the roles it is allowed for)
CASES = [
    ("add a contact", lambda s, t, a, now: contacts.create_contact(
        s, data={"first_name": "Eve"}, actor=a, now=now), ROLES),
    ("edit a company", lambda s, t, a, now: companies.create_company(
        s, data={"name": "Acme"}, actor=a, now=now), ROLES),
    ("log a call", lambda s, t, a, now: activities.log_activity(
        s, data={"kind": "call", "contact_id": t["contact"], "subject": "hi"}, actor=a, now=now), ROLES),
    ("edit sam's deal", lambda s, t, a, now: deals.update_deal(
        s, deal_id=t["deal_sales"].id, changes={"title": "Bigger"}, actor=a, now=now), ("admin", "manager", "sales")),
    ("move mia's deal", lambda s, t, a, now: deals.move_deal(
        s, deal_id=t["deal_manager"].id, stage_id=t["stage"], actor=a, now=now), ("admin", "manager")),
    ("give sam's deal to mia", lambda s, t, a, now: deals.update_deal(
        s, deal_id=t["deal_sales"].id, changes={"owner_id": t["manager"].user_id}, actor=a, now=now),
     ("admin", "manager", "sales")),
    ("archive mia's deal", lambda s, t, a, now: deals.set_deal_archived(
        s, deal_id=t["deal_manager"].id, archived=True, actor=a, now=now), ("admin", "manager")),
    ("complete mia's task", lambda s, t, a, now: tasks.complete_task(
        s, task_id=t["task_manager"].id, actor=a, now=now), ("admin", "manager")),
    ("give sam's task to mia", lambda s, t, a, now: tasks.assign_task(
        s, task_id=t["task_sales"].id, assignee_id=t["manager"].user_id, actor=a, now=now),
     ("admin", "manager", "sales")),
    ("add a task of one's own", lambda s, t, a, now: tasks.create_task(
        s, data={"title": "Call back"}, actor=a, now=now), ROLES),
    ("see the pipeline report", _report("pipeline"), ("admin", "manager", "sales")),
    ("see the sources report", _report("sources"), ("admin", "manager", "sales", "marketing")),
    ("set a goal", lambda s, t, a, now: goals.set_goal(
        s, user_id=t["sales"].user_id, kind="month", start=now.date().replace(day=1), amount="1000",
        currency="EUR", actor=a, now=now), ("admin", "manager")),
    ("add a pipeline", lambda s, t, a, now: pipelines.create_pipeline(s, name="Renewals", actor=a, now=now),
     ("admin",)),
    ("add a user", lambda s, t, a, now: users.create_user(s, data={"login": "zoe"}, actor=a, now=now), ("admin",)),
    ("change a role", lambda s, t, a, now: permissions.grant(
        s, role="support", action="deal.edit", actor=a, now=now), ("admin",)),
]


def run_cases(db, team, now, cases) -> tuple[dict, list]:
    """Each case as each role: ({(what, role): "ok" or the refusal}, [the outcomes that are wrong])."""
    got = {(what, role): attempt(db, lambda s, call=call, role=role: call(s, team, team[role], now))
           for what, call, _allowed in cases for role in ROLES}
    wrong = [(what, role, result) for what, _call, allowed in cases for role in ROLES
             if (result := got[(what, role)]) != "ok" and role in allowed
             or result == "ok" and role not in allowed]
    return got, wrong


def test_each_role_through_the_services(db, team, now):
    got, wrong = run_cases(db, team, now, CASES)
    assert wrong == []
    # a refusal says which roles may
    assert got[("move mia's deal", "sales")] == (
        "sam (sales) may not add, edit, move, win, lose and archive deals of other people: "
        "that needs the admin or manager role; you may on your own")
    assert got[("add a pipeline", "manager")].endswith("that needs the admin role")


def test_a_sellers_reports_are_their_own_deals(db, team, now):
    period = reports.resolve_period(preset="this-month", now=now, zone=UTC)
    with db.read() as s:
        report = reports.run_report(s, name="pipeline", period=period, zone=UTC, currency="EUR",
                                    owner_id=team["manager"].user_id, now=now, actor=team["sales"])
    assert report.owner_login == "sam"


def test_sales_cannot_hand_a_deal_to_someone_else_when_creating_it(db, team, now):
    sam, mia = team["sales"], team["manager"]
    assert attempt(db, lambda s: deals.create_deal(s, data={"title": "Mine"}, actor=sam, now=now)) == "ok"
    refused = attempt(db, lambda s: deals.create_deal(s, data={"title": "Hers", "owner_id": mia.user_id},
                                                      actor=sam, now=now))
    assert "deals of other people" in refused


def test_an_admin_changes_the_matrix_and_resets_it(db, team, now):
    ann, sue, sam = team["admin"], team["support"], team["sales"]
    edit_sams_deal = lambda s: deals.update_deal(  # noqa: E731
        s, deal_id=team["deal_sales"].id, changes={"title": "x"}, actor=sue, now=now)
    assert attempt(db, edit_sams_deal) != "ok"
    with db.write() as s:
        permissions.grant(s, role="support", action="deal.edit", actor=ann, now=now)
        row = permissions.revoke(s, role="sales", action="contact.edit", actor=ann, now=now)
    assert row.scopes["sales"] == "none" and "sales" in row.changed
    assert attempt(db, edit_sams_deal) == "ok"
    refused = attempt(db, lambda s: contacts.create_contact(s, data={"first_name": "E"}, actor=sam, now=now))
    assert refused.endswith("that needs the admin, manager, marketing or support role")
    with db.read() as s:
        events = s.execute(select(AuditEvent.actor, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                           .where(AuditEvent.entity == "role").order_by(AuditEvent.id)).all()
    assert [tuple(e) for e in events] == [("ann", "support deal.edit", "none", "all"),
                                          ("ann", "sales contact.edit", "all", "none")]
    with db.write() as s:
        assert permissions.reset(s, role="support", actor=ann, now=now) == 1
        assert permissions.reset(s, actor=ann, now=now + timedelta(seconds=1)) == 1
        assert s.scalar(select(RolePermission.id)) is None
    assert attempt(db, edit_sams_deal) != "ok"


def test_the_admin_role_cannot_be_narrowed(db, actor, now):
    from crm_tui.errors import InvalidInput

    with db.write() as s, pytest.raises(InvalidInput, match="admin role always has every permission"):
        permissions.revoke(s, role="admin", action="user.admin", actor=actor, now=now)
    with db.write() as s, pytest.raises(InvalidInput, match="no permission 'deal.fly'"):
        permissions.grant(s, role="sales", action="deal.fly", actor=actor, now=now)


def test_a_role_change_or_deactivation_applies_to_an_open_session(db, team, now):
    ann, sam = team["admin"], team["sales"]
    with db.write() as s:
        users.update_user(s, user_id=sam.user_id, changes={"role": "support"}, actor=ann, now=now)
    refused = attempt(db, lambda s: deals.update_deal(s, deal_id=team["deal_sales"].id, changes={"title": "x"},
                                                      actor=sam, now=now))
    assert refused.startswith("sam (support) may not")
    with db.write() as s:
        users.update_user(s, user_id=sam.user_id, changes={"active": False}, actor=ann, now=now)
    with db.write() as s, pytest.raises(PermissionDenied, match="deactivated"):
        contacts.create_contact(s, data={"first_name": "E"}, actor=sam, now=now)


def test_the_system_actor_may_do_everything_and_is_audited(db, team, now):
    engine = system_actor("workflows")
    with db.write() as s:
        deals.update_deal(s, deal_id=team["deal_manager"].id, changes={"owner_id": team["sales"].user_id},
                          actor=engine, now=now)
        pipelines.create_pipeline(s, name="Renewals", actor=engine, now=now)
    with db.read() as s:
        who = s.scalar(select(AuditEvent.actor).where(AuditEvent.entity == "deal", AuditEvent.field == "owner_id"))
    assert who == "system:workflows"


def test_unknown_and_deactivated_logins_are_told_whom_to_ask(db, team, now):
    with db.write() as s, pytest.raises(PermissionDenied) as caught:
        users.actor_for(s, login="zed", now=now)
    assert str(caught.value) == ("'zed' is not a user of this CRM; ask an admin (ann) to run "
                                 "`crm user add zed --name \"Your Name\" --role sales`")
    with db.write() as s:
        users.update_user(s, user_id=team["support"].user_id, changes={"active": False}, actor=team["admin"], now=now)
    with db.write() as s, pytest.raises(PermissionDenied, match=r"ask an admin \(ann\) to run `crm user edit sue --active`"):
        users.actor_for(s, login="sue", now=now)


def test_a_role_s_defaults_are_its_permissions_until_an_admin_changes_them(db, now, team):
    """What the app's first frame shows (read from no database) is what the stored permissions
    give for every role as shipped; a changed role differs only where it was changed."""
    with db.read() as s:
        for role in ROLES:
            assert permissions.role_defaults(team[role]) == permissions.capabilities(s, team[role]), role
    assert permissions.role_defaults(system_actor()) == {action: permissions.ALL for action in permissions.ACTIONS}
    with db.write() as s:
        permissions.revoke(s, role="sales", action="deal.edit", actor=team["admin"], now=now)
    with db.read() as s:
        stored = permissions.capabilities(s, team["sales"])
    defaults = permissions.role_defaults(team["sales"])
    assert {a for a in defaults if defaults[a] != stored[a]} == {"deal.edit"}
