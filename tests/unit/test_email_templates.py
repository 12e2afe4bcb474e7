"""Email templates: stored (own or the team's, versioned, audited, permission-checked) and filled
with merge fields in Jinja2's sandbox, where a field with no value is an error unless defaulted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent
from crm_tui.services import companies, contacts, deals, email_templates as templates, users


@pytest.fixture
def ann_lee(db, actor, now):
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        lee = contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park", "emails": ["lee@acme.com"],
                                               "company_id": acme.id, "custom": {"segment": "smb"}},
                                      actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": "5000", "contact_id": lee.id},
                                 actor=actor, now=now)
    return lee, acme, deal


def test_a_template_is_filled_from_the_contact_company_deal_custom_fields_and_me(db, actor, now, ann_lee):
    lee, acme, deal = ann_lee
    with db.write() as s:
        t = templates.add_template(s, name="Intro", subject="Hello {{ contact.first_name }}", actor=actor, now=now,
                                   body="{{ company.name }} ({{ contact.custom.segment }}): {{ deal.title }}. "
                                        "{{ me.name }}")
        out = templates.preview(s, template_id=t.id, contact_id=lee.id, deal_id=deal.id, actor=actor)
    assert (out.subject, out.body) == ("Hello Lee", "Acme (smb): Acme renewal. Ann Admin")


def test_a_missing_value_is_an_error_unless_the_template_gives_a_default(db, actor, now, ann_lee):
    lee, _acme, _deal = ann_lee
    with db.write() as s:
        strict = templates.add_template(s, name="Strict", subject="Hi", body="About {{ deal.title }}", actor=actor,
                                        now=now)
        custom = templates.add_template(s, name="Custom", subject="Hi", body="{{ contact.custom.tier }}",
                                        actor=actor, now=now)
        kind = templates.add_template(s, name="Kind", subject="Hi {{ contact.title | default(\"there\") }}",
                                      body="{{ deal.title | default(\"our offer\") }}", actor=actor, now=now)
        with pytest.raises(InvalidInput, match=r"body: deal has no value here"):
            templates.preview(s, template_id=strict.id, contact_id=lee.id, actor=actor)
        with pytest.raises(InvalidInput, match=r"contact\.custom\.tier has no value"):
            templates.preview(s, template_id=custom.id, contact_id=lee.id, actor=actor)
        out = templates.preview(s, template_id=kind.id, contact_id=lee.id, actor=actor)
    assert (out.subject, out.body) == ("Hi there", "our offer")


def test_the_sandbox_refuses_reaching_into_python(db, actor, now, ann_lee):
    lee, _acme, _deal = ann_lee
    with db.write() as s:
        for body in ("{{ contact.__class__.__mro__[1].__subclasses__() }}", "{{ 'x' * 1000000000 }}",
                     "{{ 9 ** 9 ** 9 }}", "{{ contact.custom.update({'a': 1}) }}"):
            with pytest.raises(InvalidInput):
                templates.render(s, subject="x", body=body, contact_id=lee.id, actor=actor)
        assert templates.render(s, subject="x", body="{{ '-' * 3 }} {{ 2 * 3 }}", actor=actor).body == "--- 6"


def test_bad_syntax_is_refused_with_its_line_and_nothing_is_written(db, actor, now):
    with db.write() as s:
        with pytest.raises(InvalidInput, match=r"body line 2: "):
            templates.add_template(s, name="Bad", subject="x", body="ok\n{{ oops", actor=actor, now=now)
    with db.read() as s:
        assert templates.list_templates(s, actor=actor) == []


def test_names_are_unique_in_any_case_edits_are_versioned_and_audited(db, actor, now):
    with db.write() as s:
        t = templates.add_template(s, name="Follow up", subject="x", body="y", actor=actor, now=now)
        with pytest.raises(InvalidInput, match="exists already"):
            templates.add_template(s, name="FOLLOW  UP", subject="x", body="y", actor=actor, now=now)
    with db.write() as s:
        edited = templates.update_template(s, template_id=t.id, body="z", version=t.version, actor=actor, now=now)
    assert edited.version == t.version + 1
    with db.write() as s, pytest.raises(Conflict):
        templates.update_template(s, template_id=t.id, body="w", version=t.version, actor=actor, now=now)
    with db.write() as s:
        templates.archive_template(s, template_id=t.id, actor=actor, now=now)
    with db.read() as s:
        assert templates.list_templates(s, actor=actor) == []
        assert [x.name for x in templates.list_templates(s, actor=actor, archived=True)] == ["Follow up"]
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "template")
                            .order_by(AuditEvent.id)).all()
    assert actions == ["create", "update", "archive"]


def test_a_seller_keeps_their_own_templates_and_only_uses_the_teams(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "name": "Sam", "role": "sales"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
        team = templates.add_template(s, name="Team", subject="x", body="y", shared=True, actor=actor, now=now)
        mine = templates.add_template(s, name="Mine", subject="x", body="y", actor=sam, now=now)
        theirs = templates.add_template(s, name="Anns", subject="x", body="y", actor=actor, now=now)
    with db.write() as s:
        assert {t.name for t in templates.list_templates(s, actor=sam)} == {"Team", "Mine"}
        templates.update_template(s, template_id=mine.id, body="mine", actor=sam, now=now)
        with pytest.raises(Forbidden):
            templates.update_template(s, template_id=team.id, body="no", actor=sam, now=now)
        with pytest.raises(Forbidden):
            templates.add_template(s, name="Shared", subject="x", body="y", shared=True, actor=sam, now=now)
        with pytest.raises(NotFound):
            templates.get_template(s, template_id=theirs.id, actor=sam)
