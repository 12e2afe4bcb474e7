"""Manual entry refuses duplicates (issue 17 #3) and names a company by one rule (#4): a contact
with an email another contact has, a company with a taken domain or name (in any spelling
company_norm folds together) are refused unless allow_duplicate; a reference that matches
several records lists them; an unknown company is added only when asked; import follows the
same rule."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_tui.errors import Duplicate, InvalidInput, UnknownCompany
from crm_tui.models import AuditEvent, Company, Contact
from crm_tui.services import companies, contacts
from crm_tui.services.importing import ImportOptions, run_import


def _count(session, table) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(table))


def _ann(s, actor, now, **extra):
    data = {"first_name": "Ann", "last_name": "Lee", "emails": ["ann@example.com"], **extra}
    return contacts.create_contact(s, data=data, actor=actor, now=now)


@pytest.mark.parametrize("emails", [["ann@example.com"], ["ANN@Example.com"], ["other@x.org", "Ann@example.com"]])
def test_a_contact_with_an_email_another_has_is_refused_naming_it(db, actor, now, emails):
    with db.write() as s:
        ann = _ann(s, actor, now, emails=["a.lee@home.org", "ann@example.com"])
        audited = _count(s, AuditEvent)
    with db.write() as s, pytest.raises(Duplicate) as caught:
        contacts.create_contact(s, data={"first_name": "Anne", "emails": emails}, actor=actor, now=now)
    assert caught.value.message == (f"a contact with ann@example.com already exists: #{ann.id} Ann Lee "
                                    f"(crm contact show {ann.id}); add --allow-duplicate to add another")
    assert (caught.value.entity, caught.value.existing_id, caught.value.existing_label) == ("contact", ann.id,
                                                                                            "Ann Lee")
    with db.read() as s:
        assert _count(s, Contact) == 1 and _count(s, AuditEvent) == audited  # nothing written
    with db.write() as s:  # a person may insist
        again = contacts.create_contact(s, data={"first_name": "Anne", "emails": emails}, actor=actor, now=now,
                                        allow_duplicate=True)
    assert again.id != ann.id


def test_a_contact_without_a_shared_email_is_added(db, actor, now):
    with db.write() as s:
        _ann(s, actor, now)
        contacts.create_contact(s, data={"first_name": "Ann", "last_name": "Lee"}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bo", "emails": ["bo@example.com"]}, actor=actor, now=now)
        assert _count(s, Contact) == 3


@pytest.mark.parametrize("name, domain, why", [
    ("Globex", None, "the name 'Globex'"),
    ("GLOBEX, Inc.", None, "the name 'Globex'"),
    ("Globex Corporation", "globex.org", "the name 'Globex'"),
    ("Initech", "globex.com", "the domain globex.com"),
    ("Initech", "https://www.GLOBEX.com/about", "the domain globex.com"),
])
def test_a_company_with_a_taken_domain_or_name_is_refused(db, actor, now, name, domain, why):
    with db.write() as s:
        globex = companies.create_company(s, data={"name": "Globex", "domain": "globex.com"}, actor=actor, now=now)
    with db.write() as s, pytest.raises(Duplicate) as caught:
        companies.create_company(s, data={"name": name, "domain": domain}, actor=actor, now=now)
    assert caught.value.message == (f"a company with {why} already exists: #{globex.id} Globex "
                                    f"(crm company show {globex.id}); add --allow-duplicate to add another")
    assert (caught.value.entity, caught.value.existing_id) == ("company", globex.id)
    with db.write() as s:
        assert _count(s, Company) == 1
        companies.create_company(s, data={"name": name, "domain": domain}, actor=actor, now=now,
                                 allow_duplicate=True)
        assert _count(s, Company) == 2


def test_an_email_two_contacts_share_is_an_error_listing_them(db, actor, now):
    with db.write() as s:
        ann = _ann(s, actor, now)
        anne = contacts.create_contact(s, data={"first_name": "Anne", "emails": ["ann@example.com"]}, actor=actor,
                                       now=now, allow_duplicate=True)
    with db.read() as s, pytest.raises(InvalidInput) as caught:
        contacts.find_contact(s, "ANN@example.com")
    assert caught.value.message == (f"'ANN@example.com' matches several contacts: Ann Lee (#{ann.id}), "
                                    f"Anne (#{anne.id}); give the id")
    with db.write() as s:  # an archived copy does not make the active one ambiguous
        contacts.set_contact_archived(s, contact_id=anne.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        assert contacts.find_contact(s, "ann@example.com").id == ann.id
        assert contacts.find_contact(s, str(anne.id)).id == anne.id


@pytest.mark.parametrize("ref", ["Globex", "globex inc.", "globex.com"])
def test_a_company_reference_several_companies_match_is_an_error(db, actor, now, ref):
    with db.write() as s:
        one = companies.create_company(s, data={"name": "Globex", "domain": "globex.com"}, actor=actor, now=now)
        two = companies.create_company(s, data={"name": "Globex", "domain": "globex.com"}, actor=actor, now=now,
                                       allow_duplicate=True)
    with db.read() as s, pytest.raises(InvalidInput) as caught:
        companies.resolve_company(s, ref)
    assert caught.value.message == (f"{ref!r} matches several companies: Globex (#{one.id}), Globex (#{two.id}); "
                                    "give the id")


@pytest.mark.parametrize("ref", ["Acme", "acme", "Acme Inc.", "ACME, Inc.", "Acme Corporation", "acme.com"])
def test_every_spelling_of_a_company_name_finds_it(db, actor, now, ref):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme", "domain": "acme.com"}, actor=actor, now=now)
        companies.create_company(s, data={"name": "Acme Rockets"}, actor=actor, now=now)
    with db.write() as s:
        assert companies.resolve_company(s, ref).id == acme.id
        assert companies.find_or_create_company(s, name=ref, create=False, actor=actor, now=now).id == acme.id
        assert companies.find_or_create_company(s, name=ref, create=True, actor=actor, now=now).id == acme.id
        assert _count(s, Company) == 2


def test_an_unknown_company_is_added_only_when_asked(db, actor, now):
    with db.write() as s:
        companies.create_company(s, data={"name": "Globex"}, actor=actor, now=now)
    with db.write() as s, pytest.raises(UnknownCompany) as caught:
        companies.find_or_create_company(s, name="Globexx", create=False, actor=actor, now=now)
    assert caught.value.name == "Globexx"
    with db.write() as s:
        made = companies.find_or_create_company(s, name="Globexx", create=True, actor=actor, now=now)
        assert made.name == "Globexx" and _count(s, Company) == 2
        audit_rows = s.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity == "company",
                                                                 AuditEvent.entity_id == made.id)).all()
        assert audit_rows == ["create"]
    with db.write() as s, pytest.raises(Exception, match="no company with id 999"):  # an id is never a new name
        companies.find_or_create_company(s, name="999", create=True, actor=actor, now=now)


def _import_contacts(db, actor, now, tmp_path, text: str):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    with db.write() as s:
        return run_import(s, path=path, options=ImportOptions(entity="contacts"), actor=actor, now=now)


def test_import_names_companies_by_the_same_rule(db, actor, now, tmp_path):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
    report = _import_contacts(db, actor, now, tmp_path,
                              "First name,Email,Company\nAnn,ann@x.org,ACME Inc.\nBo,bo@x.org,Initech\n")
    assert report.created == 2 and report.companies_created == 1  # an unknown company is still added
    with db.read() as s:
        by_email = {c.email: c.company_id for c in s.scalars(sa.select(Contact))}
        assert by_email["ann@x.org"] == acme.id
        assert by_email["bo@x.org"] == companies.resolve_company(s, "Initech").id


def test_import_refuses_a_company_name_several_companies_share(db, actor, now, tmp_path):
    with db.write() as s:
        one = companies.create_company(s, data={"name": "Globex"}, actor=actor, now=now)
        two = companies.create_company(s, data={"name": "Globex Inc"}, actor=actor, now=now, allow_duplicate=True)
    with pytest.raises(Exception) as caught:
        _import_contacts(db, actor, now, tmp_path, "First name,Email,Company\nAnn,ann@x.org,globex\n")
    report = getattr(caught.value, "report", None)
    messages = [p.message for p in report.problems] if report else [str(caught.value)]
    assert any(f"Globex (#{one.id}), Globex Inc (#{two.id})" in m for m in messages), messages
    with db.read() as s:
        assert _count(s, Contact) == 0 and _count(s, Company) == 2


# --- an edit follows the same rule: the duplicate a create refuses cannot come in by a change -------

def test_an_edit_that_gives_a_contact_another_contacts_email_is_refused(db, actor, now):
    with db.write() as s:
        ann = _ann(s, actor, now)
        bo = contacts.create_contact(s, data={"first_name": "Bo", "emails": ["bo@example.com"]}, actor=actor, now=now)
        audited = _count(s, AuditEvent)
    with db.write() as s, pytest.raises(Duplicate) as caught:
        contacts.update_contact(s, contact_id=bo.id, changes={"emails": ["bo@example.com", "ANN@example.com"]},
                                actor=actor, now=now)
    assert caught.value.message.startswith(f"a contact with ann@example.com already exists: #{ann.id} Ann Lee")
    assert "crm contact merge" in caught.value.message
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=bo.id).emails == ["bo@example.com"]
        assert _count(s, AuditEvent) == audited  # nothing written
    with db.write() as s:  # its own emails, in another order or case, are no duplicate
        contacts.update_contact(s, contact_id=ann.id, changes={"emails": ["x@y.org", "Ann@Example.com"]},
                                actor=actor, now=now)
        kept = contacts.update_contact(s, contact_id=bo.id, changes={"emails": ["ann@example.com"]},
                                       actor=actor, now=now, allow_duplicate=True)  # a person may insist
    assert kept.emails == ["ann@example.com"]


@pytest.mark.parametrize("changes, why", [
    ({"name": "GLOBEX, Inc."}, "the name 'Globex'"),
    ({"domain": "https://www.globex.com/"}, "the domain globex.com"),
])
def test_an_edit_that_makes_a_company_another_is_refused(db, actor, now, changes, why):
    with db.write() as s:
        globex = companies.create_company(s, data={"name": "Globex", "domain": "globex.com"}, actor=actor, now=now)
        initech = companies.create_company(s, data={"name": "Initech"}, actor=actor, now=now)
    with db.write() as s, pytest.raises(Duplicate) as caught:
        companies.update_company(s, company_id=initech.id, changes=changes, actor=actor, now=now)
    assert caught.value.message.startswith(f"a company with {why} already exists: #{globex.id} Globex")
    with db.write() as s:
        assert companies.get_company(s, company_id=initech.id).name == "Initech"
        # renaming in a spelling that folds to the same name, or changing another field, is no duplicate
        companies.update_company(s, company_id=globex.id, changes={"name": "Globex Corp", "industry": "x"},
                                 actor=actor, now=now)
        companies.update_company(s, company_id=initech.id, changes=changes, actor=actor, now=now,
                                 allow_duplicate=True)
