"""Phones (issue 17 #5, #6): one rule stores them (E.164 where they parse, read in the default
country), whoever types or imports them; and a phone shared by several people does not make an
import take them for one person."""

from __future__ import annotations

import dataclasses

import pytest

from crm_tui import config
from crm_tui.errors import InvalidInput
from crm_tui.services import contacts
from crm_tui.services import validation as v
from crm_tui.services.importing import ImportOptions, run_import


def _add(s, actor, now, first, last="", *, emails=(), phones=(), **extra):
    return contacts.create_contact(s, data={"first_name": first, "last_name": last, "emails": list(emails),
                                            "phones": list(phones), **extra}, actor=actor, now=now)


def _import(db, actor, now, path, **options):
    with db.write() as s:
        return run_import(s, path=path, options=ImportOptions(entity="contacts", **options), actor=actor, now=now)


def _phones(db) -> dict[str, list[str]]:
    with db.read() as s:
        return {c.full_name: contacts.get_contact(s, contact_id=c.id).phones
                for c in contacts.list_contacts(s, limit=100).items}


# --- #6: one rule, the default country --------------------------------------------------------


@pytest.mark.parametrize(("typed", "country", "stored"), [
    ("(404) 555-0199", "US", "+14045550199"),
    ("(404) 555-0199", None, "(404) 555-0199"),       # no default country: kept as typed
    ("020 7946 0958", "GB", "+442079460958"),
    ("+33 1 42 68 53 00", "US", "+33142685300"),      # a +code wins over the default country
    ("404-555-0199 x12", "US", "+14045550199 x12"),    # the extension is kept, not dropped
    ("+1 404 555 0199 ext. 7", None, "+14045550199 x7"),
    ("555-0100", "US", "555-0100"),                    # not a whole number there: kept as typed
])
def test_the_one_phone_rule(typed, country, stored):
    assert v.phone(typed, region=country) == stored
    assert v.phone(stored, region=country) == stored  # stored values read back the same


def test_contacts_store_e164_in_the_actors_country_on_create_and_edit(db, actor, now):
    us = dataclasses.replace(actor, phone_country="US")
    with db.write() as s:
        made = _add(s, us, now, "Ann", phones=["(404) 555-0199", "404.555.0100"])
        kept = _add(s, actor, now, "Bob", phones=["(404) 555-0199"])
    assert made.phones == ["+14045550199", "+14045550100"]
    assert kept.phones == ["(404) 555-0199"]
    with db.write() as s:
        edited = contacts.update_contact(s, contact_id=kept.id, changes={"phones": ["(404) 555-0101"]}, actor=us,
                                         now=now)
    assert edited.phones == ["+14045550101"]
    with db.read() as s:
        # the list, sorting and search read the stored E.164 copy, digits and all
        assert [c.id for c in contacts.list_contacts(s, query="4045550101").items] == [kept.id]


def test_import_reads_phones_in_the_actors_country_unless_country_says(db, actor, now, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Name,Phone\nAnn Lee,(404) 555-0199\n", encoding="utf-8")
    _import(db, dataclasses.replace(actor, phone_country="US"), now, path)
    assert _phones(db) == {"Ann Lee": ["+14045550199"]}
    path.write_text("Name,Phone\nBob Roe,020 7946 0958\n", encoding="utf-8")
    _import(db, dataclasses.replace(actor, phone_country="US"), now, path, country="GB")
    assert _phones(db)["Bob Roe"] == ["+442079460958"]


def test_phone_country_from_the_config_file_or_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('phone_country = "us"\n', encoding="utf-8")
    assert config.load_settings(path).phone_country == "US"
    monkeypatch.setenv("CRM_PHONE_COUNTRY", "fr")
    assert config.load_settings(path).phone_country == "FR"
    assert config.load_settings(tmp_path / "none.toml").phone_country == "FR"
    monkeypatch.delenv("CRM_PHONE_COUNTRY")
    assert config.load_settings(tmp_path / "none.toml").phone_country is None
    for bad in ('phone_country = "USA"\n', "phone_country = 1\n"):
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(InvalidInput, match="phone_country in the config file"):
            config.load_settings(path)


# --- #5: a shared phone is not a shared person -------------------------------------------------------


SWITCHBOARD = """Name,Email,Phone,Company
Ann Lee,ann@acme.com,+1 404 555 0199,Acme
Bob Stone,bob@globex.com,+1 404 555 0199,Globex
Cy Young,cy@initech.com,+1 404 555 0199,Initech
"""


def test_a_switchboard_shared_by_three_people_imports_three_contacts(db, actor, now, tmp_path):
    path = tmp_path / "switchboard.csv"
    path.write_text(SWITCHBOARD, encoding="utf-8")
    report = _import(db, actor, now, path)
    assert (report.created, report.skipped, report.duplicates) == (3, 0, [])
    assert _phones(db) == {name: ["+14045550199"] for name in ("Ann Lee", "Bob Stone", "Cy Young")}
    # against the database too: a fourth person at the switchboard is a fourth contact, and the
    # same three again are found by their emails
    path.write_text(SWITCHBOARD + "Di Ross,di@umbrella.com,+1 404 555 0199,Umbrella\n", encoding="utf-8")
    again = _import(db, actor, now, path)
    assert (again.created, again.skipped) == (1, 3)
    assert {s.reason.split(" as ")[0] for s in again.duplicates} == {
        "same email ann@acme.com", "same email bob@globex.com", "same email cy@initech.com"}


@pytest.mark.parametrize(("row", "skipped_as"), [
    # nothing disagrees: the phone finds the person (the name agrees, one side has no email)
    ("Ann Lee,,+1 404 555 0199,", "same phone +14045550199"),
    ("Ann Lee,ann@home.org,+1 404 555 0199,", None),  # two different emails: two people
    ("Ann Lee,ann@acme.com,+1 404 555 0100,", "same email ann@acme.com"),
    ("Eve Adams,,+1 404 555 0199,", None),  # another name: another person at the same number
    ("Bob Stone,,+1 404 555 0199,", "same phone +14045550199"),  # the second record with the phone
    # the same name at the same company, but another email: two people there
    ("Ann Lee,ann.lee@acme.com,,Acme", None),
    ("Ann Lee,,,Acme", "same name at the same company"),
])
def test_a_phone_or_a_name_finds_a_duplicate_only_when_no_email_disagrees(db, actor, now, tmp_path, row,
                                                                          skipped_as):
    with db.write() as s:
        from crm_tui.services import companies

        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        ann = _add(s, actor, now, "Ann", "Lee", emails=["ann@acme.com"], phones=["+14045550199"], company_id=acme)
        bob = _add(s, actor, now, "Bob", "Stone", phones=["+14045550199"])
    path = tmp_path / "one.csv"
    path.write_text(f"Name,Email,Phone,Company\n{row}\n", encoding="utf-8")
    report = _import(db, actor, now, path)
    if skipped_as is None:
        assert (report.created, report.duplicates) == (1, [])
    else:
        [skipped] = report.duplicates
        expected = bob.id if row.startswith("Bob") else ann.id
        assert (skipped.record_id, skipped.reason.split(" as ")[0]) == (expected, skipped_as)


def test_within_one_file_too_and_an_update_never_renames_someone_else(db, actor, now, tmp_path):
    path = tmp_path / "family.csv"
    path.write_text("Name,Email,Phone,Title\n"
                    "Dana White,dana@white.io,+1 404 555 0199,\n"
                    "Eve White,,+1 404 555 0199,\n"          # the same home phone: another person
                    "Dana White,,+1 404 555 0199,CEO\n",     # Dana again, found by phone and name
                    encoding="utf-8")
    report = _import(db, actor, now, path, on_duplicate="update")
    assert (report.created, report.updated) == (2, 1)
    with db.read() as s:
        dana = contacts.find_contact(s, "dana@white.io")
        assert (dana.full_name, dana.title) == ("Dana White", "CEO")
    assert set(_phones(db)) == {"Dana White", "Eve White"}


# --- stored phones are not rewritten, unless normalize-phones is asked to ----------------------------


def test_normalize_phones_rewrites_the_numbers_kept_as_typed_set_wise(db, actor, now):
    from sqlalchemy import select

    from crm_tui.models import AuditEvent
    from crm_tui.services import phones

    with db.write() as s:
        ann = _add(s, actor, now, "Ann", phones=["(404) 555-0199", "+14045550199", "555-0100"])
        bob = _add(s, actor, now, "Bob", phones=["+14045550100"])
        cy = _add(s, actor, now, "Cy", emails=["cy@x.io"], phones=["020 7946 0958"])
    assert ann.phones == ["(404) 555-0199", "+14045550199", "555-0100"]  # stored as typed, not rewritten
    with db.read() as s:
        dry = phones.normalize_phones(s, actor=actor, country="US", dry_run=True, now=now)
    assert (dry.checked, dry.contacts) == (3, {ann.id: (ann.phones, ["+14045550199", "555-0100"])})
    with db.write() as s:
        done = phones.normalize_phones(s, actor=dataclasses.replace(actor, phone_country="GB"), now=now)
    assert set(done.contacts) == {cy.id}  # the actor's country: 020 is a London number, (404) is not British
    with db.write() as s:
        phones.normalize_phones(s, actor=actor, country="US", now=now)
    with db.read() as s:
        stored = {c.id: (c.phones, c.version) for c in (contacts.get_contact(s, contact_id=i)
                                                        for i in (ann.id, bob.id, cy.id))}
        found = [c.id for c in contacts.list_contacts(s, query="+14045550199").items]
        audited = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.field == "phones")).all()
    assert stored == {ann.id: (["+14045550199", "555-0100"], 2), bob.id: (["+14045550100"], 1),
                      cy.id: (["+442079460958"], 2)}
    assert found == [ann.id] and sorted(audited) == [ann.id, cy.id]


def test_normalize_phones_needs_the_right_to_edit_every_contact_it_changes(db, actor, now):
    from crm_tui.errors import Forbidden
    from crm_tui.services import permissions, phones, users

    with db.write() as s:
        _add(s, actor, now, "Ann", phones=["(404) 555-0199"])
        users.create_user(s, data={"login": "sid", "name": "Sid", "role": "support"}, actor=actor, now=now)
        permissions.set_scope(s, role="support", action="contact.edit", scope="own", actor=actor, now=now)
        sid = users.actor_for(s, login="sid")
    with db.write() as s, pytest.raises(Forbidden, match="nothing was changed"):
        phones.normalize_phones(s, actor=sid, country="US", now=now)
    assert _phones(db) == {"Ann": ["(404) 555-0199"]}
