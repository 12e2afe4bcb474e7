"""Companies service: create (domain normalised), rename (contacts re-sort), archive, resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Company, Contact
from crm_tui.services import companies, contacts


def _counts(db) -> tuple[int, int]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Company, AuditEvent))


def test_create_normalises_the_domain_and_refuses_bad_input(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "  Acme Corp ", "domain": "https://www.Acme.com/about",
                                                 "industry": "Anvils"}, actor=actor, now=now)
    assert (acme.name, acme.domain, acme.industry) == ("Acme Corp", "acme.com", "Anvils")
    assert acme.owner_login == "ann" and acme.version == 1
    with db.read() as s:
        row = s.get(Company, acme.id)
        assert (row.name_key, row.domain) == ("acme corp", "acme.com")
        assert "acme corp" in row.search_text and "acme.com" in row.search_text
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "company")).one()
        assert (event.action, event.entity_id, event.new_value) == ("create", acme.id, "Acme Corp")

    before = _counts(db)
    for data, error, message in (
        ({"name": "Beta", "domain": "not a domain"}, InvalidInput, "invalid domain"),
        ({"name": "   "}, InvalidInput, "company name is required"),
        ({"name": "Beta", "owner_id": 4242}, NotFound, "no user with id 4242"),
        ({"name": "Beta", "notes": "x" * 20001}, InvalidInput, "notes is too long"),
    ):
        with pytest.raises(error, match=message):
            with db.write() as s:
                companies.create_company(s, data=data, actor=actor, now=now)
        assert _counts(db) == before, data


def test_rename_resorts_its_contacts_without_bumping_their_versions(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        beta = companies.create_company(s, data={"name": "Beta"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme.id}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bob", "company_id": beta.id}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Cy"}, actor=actor, now=now)
    with db.read() as s:
        assert [r.full_name for r in contacts.list_contacts(s, sort="company").items] == ["Ada", "Bob", "Cy"]

    later = now + timedelta(hours=1)
    with db.write() as s:
        renamed = companies.update_company(s, company_id=acme.id, changes={"name": "Zenith"}, actor=actor,
                                           version=1, now=later)
    assert (renamed.name, renamed.version) == ("Zenith", 2)
    with db.read() as s:
        page = contacts.list_contacts(s, sort="company")
        assert [(r.full_name, r.company_name) for r in page.items] == [("Bob", "Beta"), ("Ada", "Zenith"),
                                                                        ("Cy", None)]
        row = s.get(Contact, ada.id)
        assert (row.company_key, row.version) == ("zenith", 1)
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "company", AuditEvent.action == "update")).one()
        assert (event.field, event.old_value, event.new_value, event.at) == ("name", "Acme", "Zenith", later)
        assert [c.id for c in companies.list_companies(s, query="zenith").items] == [acme.id]

    with pytest.raises(Conflict, match="company 'Zenith' was changed by ann"):
        with db.write() as s:
            companies.update_company(s, company_id=acme.id, changes={"name": "Other"}, actor=actor, version=1)
    with db.read() as s:
        assert s.get(Company, acme.id).name == "Zenith"


def test_archive_and_resolve_by_name_or_domain(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp", "domain": "acme.com"}, actor=actor, now=now)
        beta = companies.create_company(s, data={"name": "Beta"}, actor=actor, now=now)
    with db.read() as s:
        assert companies.resolve_company(s, "ACME CORP").id == acme.id
        assert companies.resolve_company(s, "acme.com").id == acme.id
        assert companies.resolve_company(s, "www.acme.com").id == acme.id
        assert companies.resolve_company(s, str(beta.id)).id == beta.id
        with pytest.raises(NotFound, match="no company 'Initech'"):
            companies.resolve_company(s, "Initech")
    with db.write() as s:
        archived = companies.set_company_archived(s, company_id=acme.id, archived=True, actor=actor, now=now)
    assert archived.archived
    with db.read() as s:
        assert [c.name for c in companies.list_companies(s).items] == ["Beta"]
        assert [c.name for c in companies.list_companies(s, archived=True).items] == ["Acme Corp"]
        assert companies.resolve_company(s, "acme corp").id == acme.id  # exact names still resolve
        with pytest.raises(NotFound):  # but an archived company is no prefix candidate
            companies.resolve_company(s, "acm")
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "archive")).one()
        assert (event.entity, event.entity_id, event.new_value) == ("company", acme.id, "true")
