"""The case service (issue 23): opening and reading cases, queues and their live counts, keyset
pages, the thread (replies through the outbox threaded on the case's last email, notes, inbound
mail), statuses with their timestamps, assignment, priority, merging two cases, who may see and
change what (sales sees its accounts' cases), stale versions and the audit trail. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Case, CaseEntry, EmailMessage, Survey
from crm_tui.models.case import CLOSED, NEW, OPEN, RESOLVED, WAITING
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import cases, companies, contacts, deals, email_templates, mail_store, merge, sla, surveys, users
from crm_tui.services.common import system_actor

LOGINS = {"manager": "mia", "sales": "sam", "support": "sue", "marketing": "max"}


@pytest.fixture
def team(db, actor, now):
    """ann (admin) and a user per other role; sam (sales) owns Acme and its contact Ada; Bob at
    Globex is nobody's; sue and sid are in the Support team."""
    out = {"admin": actor}
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"email": "ann@ours.example.com"}, actor=actor, now=now)
        for role, login in LOGINS.items():
            users.create_user(s, data={"login": login, "role": role, "email": f"{login}@ours.example.com",
                                       "team": "Support" if role == "support" else None}, actor=actor, now=now)
        users.create_user(s, data={"login": "sid", "role": "support", "team": "Support"}, actor=actor, now=now)
    with db.write() as s:
        for role, login in LOGINS.items():
            out[role] = users.actor_for(s, login=login, now=now)
        out["sid"] = users.actor_for(s, login="sid", now=now)
        acme = companies.create_company(s, data={"name": "Acme", "owner_id": out["sales"].user_id}, actor=actor,
                                        now=now)
        globex = companies.create_company(s, data={"name": "Globex"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "emails": ["ada@acme.example.com"],
                                               "company_id": acme.id, "owner_id": out["sales"].user_id},
                                      actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob", "last_name": "Stone", "emails": ["bob@globex.example.com"],
                                               "company_id": globex.id}, actor=actor, now=now)
        out.update(acme=acme.id, globex=globex.id, ada=ada.id, bob=bob.id)
    return out


def _open(s, t, now, subject="Printer on fire", **kw):
    kw.setdefault("contact_id", t["ada"])
    return cases.create_case(s, actor=kw.pop("actor", t["support"]), subject=subject, now=now, **kw)


def _audit(s, case_id):
    return s.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                     .where(AuditEvent.entity == "case", AuditEvent.entity_id == case_id)
                     .order_by(AuditEvent.id)).all()


# --- opening and reading ---------------------------------------------------------------------------


def test_a_case_takes_its_contacts_company_and_is_new_and_audited(db, team, now):
    with db.write() as s:
        case = _open(s, team, now, description="Smoke everywhere", priority="High", channel="email",
                     category="Hardware", team="support")
        case_id = case.id
        assert (case.status, case.priority, case.channel, case.company_id, case.team) == (
            NEW, "high", "email", team["acme"], "Support")  # spelled as the users' team
        assert case.version == 1 and case.created_by == team["support"].user_id
    with db.read() as s:
        got = cases.get_case(s, case_id, actor=team["manager"])
        assert got.subject == "Printer on fire"
        assert cases.find_case(s, f"[#{case_id}]", actor=team["admin"]).id == case_id
        assert [(a.action, a.new_value) for a in _audit(s, case_id)] == [
            ("create", f"#{case_id} Printer on fire (high, email)")]


@pytest.mark.parametrize("kwargs, message", [
    ({"priority": "critical"}, "invalid priority 'critical': choose one of low, normal, high, urgent"),
    ({"channel": "pigeon"}, "invalid channel 'pigeon'"),
    ({"subject": "  "}, "subject is required"),
    ({"contact_id": 99999}, "no contact with id 99999"),
    ({"company_id": 99999}, "no company with id 99999"),
    ({"deal_id": 99999}, "no deal with id 99999"),
    ({"product_id": 99999}, "no product with id 99999"),
    ({"assignee_id": 99999}, "no user with id 99999"),
])
def test_bad_input_is_one_line_and_writes_nothing(db, team, now, kwargs, message):
    with db.write() as s:
        with pytest.raises((InvalidInput, NotFound), match=message) as caught:
            _open(s, team, now, **kwargs)
        assert "\n" not in str(caught.value)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "case")) == 0


def test_a_deactivated_user_cannot_be_given_a_case(db, team, now):
    with db.write() as s:
        users.update_user(s, user_id=team["sid"].user_id, changes={"active": False}, actor=team["admin"], now=now)
    with db.write() as s:
        with pytest.raises(InvalidInput, match="user sid is deactivated"):
            _open(s, team, now, assignee_id=team["sid"].user_id)
