"""Contacts service: create, edit (audited, version-checked), tag, archive, look up, filter, sort, count."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Contact, ContactEmail, ContactPhone, ContactTag
from crm_tui.services import activities, companies, contacts, users


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _counts(db) -> dict[str, int]:
    with db.read() as s:
        return {m.__tablename__: _count(s, m) for m in (Contact, ContactEmail, ContactPhone, ContactTag, AuditEvent)}


def _names(page) -> list[str]:
    return [row.full_name for row in page.items]


def _audit_rows(session, contact_id):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity == "contact",
                                                         AuditEvent.entity_id == contact_id)
                                .order_by(AuditEvent.id)))


# --- create -------------------------------------------------------------------------------


def test_create_normalises_emails_and_phones_and_keeps_tags_and_custom_fields(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        made = contacts.create_contact(s, data={
            "first_name": " Ada ", "last_name": "Lovelace",
            "emails": ["Ada@Example.COM", "ada.l@Work.Example.org", "ada@example.com"],
            "phones": ["+1 (415) 555-2671", "020 7946 0958"],
            "tags": ["VIP", "  early   adopter "], "custom": {"linkedin": "ada-l", "score": 5},
            "company_id": acme.id, "source": "Referral",
        }, actor=actor, now=now, region="GB")
    assert made.full_name == "Ada Lovelace"
    assert made.emails == ["ada@example.com", "ada.l@work.example.org"]  # lower-cased, duplicate dropped
    assert made.phones == ["+14155552671", "+442079460958"]  # national number read in region GB
    assert made.tags == ["early adopter", "vip"]
    assert made.custom == {"linkedin": "ada-l", "score": 5}
    assert made.company_name == "Acme Corp" and made.company_id == acme.id
    assert made.source == "referral" and made.lifecycle == "lead"
    assert made.owner_id == actor.user_id and made.owner_login == "ann"
    assert made.version == 1 and made.created_at == now

    with db.read() as s:
        row = s.get(Contact, made.id)
        assert (row.email, row.phone, row.company_key) == ("ada@example.com", "+14155552671", "acme corp")
        assert list(s.scalars(select(ContactEmail.email).where(ContactEmail.contact_id == made.id)
                              .order_by(ContactEmail.position))) == made.emails
        assert _count(s, ContactPhone) == 2 and _count(s, ContactTag) == 2
        [event] = _audit_rows(s, made.id)
        assert (event.action, event.actor, event.new_value) == ("create", "ann", "Ada Lovelace")

    with db.write() as s:  # no name: the contact is known by its email
        solo = contacts.create_contact(s, data={"emails": ["Solo@Example.com"]}, actor=actor, now=now)
    assert solo.full_name == "solo@example.com"


# --- update, conflicts --------------------------------------------------------------------


def test_update_changes_only_given_fields_and_audits_each_one(db, actor, now):
    with db.write() as s:
        made = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "emails": ["ada@x.io"],
                                                "tags": ["vip"]}, actor=actor, now=now)
    later = now + timedelta(hours=1)
    with db.write() as s:
        updated = contacts.update_contact(s, contact_id=made.id, actor=actor, now=later, version=1,
                                          changes={"title": "CTO", "lifecycle": "Customer",
                                                   "emails": ["ada@x.io", "ADA@y.io"]})
    assert (updated.title, updated.lifecycle, updated.emails) == ("CTO", "customer", ["ada@x.io", "ada@y.io"])
    assert (updated.first_name, updated.last_name, updated.tags) == ("Ada", "Lovelace", ["vip"])
    assert updated.version == 2 and updated.updated_at == later

    with db.read() as s:
        events = [e for e in _audit_rows(s, made.id) if e.action == "update"]
        by_field = {e.field: (e.old_value, e.new_value) for e in events}
        assert len(events) == 3
        assert by_field["title"] == (None, "CTO")
        assert by_field["lifecycle"] == ("lead", "customer")
        assert json.loads(by_field["emails"][0]) == ["ada@x.io"]
        assert json.loads(by_field["emails"][1]) == ["ada@x.io", "ada@y.io"]
        assert all(e.at == later and e.actor == "ann" for e in events)
        assert _count(s, ContactEmail) == 2

    before = _counts(db)  # setting a field to the value it has is no change: no version, no audit
    with db.write() as s:
        same = contacts.update_contact(s, contact_id=made.id, changes={"title": "CTO"}, actor=actor, now=later)
    assert same.version == 2
    assert _counts(db) == before


def test_stale_version_is_a_conflict_naming_the_record_and_who_changed_it(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        made = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
    bob_actor = _actor(db, "bob", now)
    with db.write() as s:  # bob saves first
        contacts.update_contact(s, contact_id=made.id, changes={"title": "CTO"}, actor=bob_actor, version=1,
                                now=now + timedelta(minutes=5))
    before = _counts(db)
    with pytest.raises(Conflict) as caught:
        with db.write() as s:  # ann still has version 1 open
            contacts.update_contact(s, contact_id=made.id, changes={"title": "CEO"}, actor=actor, version=1,
                                    now=now + timedelta(minutes=6))
    message = caught.value.message
    assert "contact 'Ada Lovelace'" in message and "by bob" in message and "10:05" in message
    assert (caught.value.expected_version, caught.value.current_version) == (1, 2)
    assert bob.login == "bob" and "\n" not in message
    assert _counts(db) == before
    with db.read() as s:
        assert s.get(Contact, made.id).title == "CTO"


def _actor(db, login, now):
    with db.write() as s:
        return users.actor_for(s, login=login, now=now)


# --- archive, tags, lookup ----------------------------------------------------------------


def test_archive_hides_from_default_list_and_unarchive_brings_back(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bob"}, actor=actor, now=now)
    with db.write() as s:
        archived = contacts.set_contact_archived(s, contact_id=ada.id, archived=True, actor=actor, version=1, now=now)
    assert archived.archived and archived.version == 2
    with db.read() as s:
        assert _names(contacts.list_contacts(s, now=now)) == ["Bob"]
        assert _names(contacts.list_contacts(s, filters={"archived": True}, now=now)) == ["Ada"]
        assert contacts.count_contacts(s, now=now) == 1
        [event] = [e for e in _audit_rows(s, ada.id) if e.action == "archive"]
        assert (event.field, event.old_value, event.new_value) == ("archived", "false", "true")
    with db.write() as s:
        contacts.set_contact_archived(s, contact_id=ada.id, archived=False, actor=actor, now=now)
    with db.read() as s:
        assert _names(contacts.list_contacts(s, now=now)) == ["Ada", "Bob"]
        assert _names(contacts.list_contacts(s, filters={"archived": True}, now=now)) == []


def test_change_tags_and_find_by_any_email(db, actor, now):
    with db.write() as s:
        made = contacts.create_contact(s, data={"first_name": "Ada", "title": "CTO", "tags": ["cold", "vip"]},
                                       actor=actor, now=now)
    with db.write() as s:
        tagged = contacts.change_tags(s, contact_id=made.id, add=["Hot", "vip"], remove=["COLD"], actor=actor, now=now)
    assert tagged.tags == ["hot", "vip"] and tagged.title == "CTO"
    with db.read() as s:
        [event] = [e for e in _audit_rows(s, made.id) if e.action == "update"]
        assert event.field == "tags"
        assert (json.loads(event.old_value), json.loads(event.new_value)) == (["cold", "vip"], ["vip", "hot"])
        assert _names(contacts.list_contacts(s, filters={"tag": "hot"}, now=now)) == ["Ada"]
        assert _names(contacts.list_contacts(s, filters={"tag": "cold"}, now=now)) == []

    with db.write() as s:
        contacts.update_contact(s, contact_id=made.id, changes={"emails": ["ada@x.io", "lovelace@y.io"]},
                                actor=actor, now=now)
    with db.read() as s:
        assert contacts.find_contact(s, "ADA@x.io").id == made.id
        assert contacts.find_contact(s, " lovelace@y.io ").id == made.id
        assert contacts.find_contact(s, str(made.id)).id == made.id
        with pytest.raises(NotFound, match="nobody@x.io"):
            contacts.find_contact(s, "nobody@x.io")


# --- bad input writes nothing -------------------------------------------------------------

BAD_CONTACTS = [
    ({"first_name": "Ada", "emails": ["not-an-email"]}, InvalidInput, "invalid email 'not-an-email'"),
    ({"first_name": "Ada", "phones": ["abc"]}, InvalidInput, "invalid phone number 'abc'"),
    ({"first_name": "Ada", "lifecycle": "vip"}, InvalidInput, "invalid lifecycle stage 'vip'"),
    ({"first_name": "Ada", "company_id": 99999}, NotFound, "no company with id 99999"),
    ({"title": "CTO", "phones": ["+14155552671"]}, InvalidInput, "a contact needs a name or an email"),
    ({"first_name": "Ada", "source": "carrier pigeon"}, InvalidInput, "invalid source"),
    ({"first_name": "Ada", "tags": ["bad|tag"]}, InvalidInput, "invalid tag"),
]


def test_bad_contact_input_raises_and_writes_nothing(db, actor, now):
    with db.write() as s:
        made = contacts.create_contact(s, data={"first_name": "Ada", "emails": ["ada@x.io"]}, actor=actor, now=now)
    before = _counts(db)
    for data, error, message in BAD_CONTACTS:
        with pytest.raises(error, match=message) as caught:
            with db.write() as s:
                # a good write first in the same unit of work: it must roll back too
                contacts.create_contact(s, data={"first_name": "Fine", "emails": ["fine@x.io"]}, actor=actor, now=now)
                contacts.create_contact(s, data=data, actor=actor, now=now)
        assert "\n" not in caught.value.message
        assert _counts(db) == before, data
    for changes in ({"title": "CTO", "emails": ["nope"]}, {"first_name": "", "emails": []}, {"lifecycle": "x"},
                    {"company_id": 99999}):
        with pytest.raises((InvalidInput, NotFound)):
            with db.write() as s:
                contacts.update_contact(s, contact_id=made.id, changes=changes, actor=actor, now=now)
        assert _counts(db) == before, changes
    with db.read() as s:
        row = s.get(Contact, made.id)
        assert (row.title, row.first_name, row.email, row.company_id, row.version) == (None, "Ada", "ada@x.io", None, 1)


# --- filters, sorts, counts ---------------------------------------------------------------


@pytest.fixture
def crowd(db, actor, now):
    """Four contacts that differ in every filterable and sortable way."""
    with db.write() as s:
        bob_user = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        zeta = companies.create_company(s, data={"name": "Zeta Ltd"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id,
                                               "tags": ["vip"], "source": "referral"},
                                      actor=actor, now=now - timedelta(days=40))
        bob = contacts.create_contact(s, data={"first_name": "Bob", "last_name": "Builder", "lifecycle": "customer",
                                               "owner_id": bob_user.id, "source": "web"},
                                      actor=actor, now=now - timedelta(days=1))
        contacts.create_contact(s, data={"first_name": "Cleo", "last_name": "Zed", "company_id": zeta.id,
                                         "lifecycle": "prospect"}, actor=actor, now=now - timedelta(days=3))
        contacts.create_contact(s, data={"emails": ["dora@example.com"]}, actor=actor, now=now - timedelta(days=100))
        for contact, days in ((ada, 2), (bob, 60)):
            activities.log_activity(s, data={"kind": "call", "contact_id": contact.id,
                                             "occurred_at": now - timedelta(days=days)}, actor=actor, now=now)
    return {"bob_user": bob_user, "acme": acme, "zeta": zeta}


ADA, BOB, CLEO, DORA = "Ada Lovelace", "Bob Builder", "Cleo Zed", "dora@example.com"
FILTER_CASES = [
    ({}, [ADA, BOB, CLEO, DORA]),
    ({"lifecycle": ["customer", "prospect"]}, [BOB, CLEO]),
    ({"lifecycle": ["lead"]}, [ADA, DORA]),
    ({"tag": "VIP"}, [ADA]),
    ({"tag": "nobody-has-this"}, []),
    ({"source": "referral"}, [ADA]),
    ({"never_contacted": True}, [CLEO, DORA]),
    ({"not_contacted_days": 30}, [BOB, CLEO, DORA]),
    ({"created_within_days": 7}, [BOB, CLEO]),
    ({"lifecycle": ["lead"], "never_contacted": True}, [DORA]),
]
SORT_CASES = [
    ("name", [ADA, BOB, CLEO, DORA]),
    ("company", [ADA, CLEO, BOB, DORA]),  # no company last
    # most recent first; never contacted last, ties (and nulls) by id in the sort's direction
    ("last_contacted", [ADA, BOB, DORA, CLEO]),
    ("created", [BOB, CLEO, ADA, DORA]),  # newest first
]


def _page_through(session, limit, **kwargs) -> list[str]:
    names, cursor = [], None
    for _ in range(100):
        page = contacts.list_contacts(session, after=cursor, limit=limit, **kwargs)
        names += _names(page)
        cursor = page.next_cursor
        if cursor is None:
            return names
    raise AssertionError("paging never ended")


def test_filters_and_counts(db, crowd, actor, now):
    with db.read() as s:
        for filters, expected in FILTER_CASES:
            assert _names(contacts.list_contacts(s, filters=filters, now=now)) == expected, filters
            assert contacts.count_contacts(s, filters=filters, now=now) == len(expected), filters
            assert _page_through(s, 1, filters=filters, now=now) == expected, filters
        assert _names(contacts.list_contacts(s, filters={"owner_id": crowd["bob_user"].id}, now=now)) == [BOB]
        assert _names(contacts.list_contacts(s, filters={"owner_id": actor.user_id}, now=now)) == [ADA, CLEO, DORA]
        assert _names(contacts.list_contacts(s, filters={"company_id": crowd["zeta"].id}, now=now)) == [CLEO]
        with pytest.raises(InvalidInput, match="invalid lifecycle stage"):
            contacts.list_contacts(s, filters={"lifecycle": ["nope"]}, now=now)


def test_sorts_in_one_page_and_row_by_row_agree(db, crowd, now):
    with db.read() as s:
        for sort, expected in SORT_CASES:
            assert _names(contacts.list_contacts(s, sort=sort, now=now)) == expected, sort
            assert _page_through(s, 1, sort=sort, now=now) == expected, sort
        with pytest.raises(InvalidInput, match="invalid sort 'age'"):
            contacts.list_contacts(s, sort="age", now=now)


def test_count_equals_what_paging_returns(db, actor, now):
    with db.write() as s:
        for i in range(23):
            contacts.create_contact(s, data={"first_name": f"P{i:02d}", "lifecycle": "lead" if i % 3 else "customer"},
                                    actor=actor, now=now)
    with db.read() as s:
        for filters, expected in (({}, 23), ({"lifecycle": ["customer"]}, 8)):
            names = _page_through(s, 5, filters=filters, now=now)
            assert len(names) == len(set(names)) == expected
            assert contacts.count_contacts(s, filters=filters, now=now) == expected
            assert contacts.list_contacts(s, filters=filters, now=now, with_total=True).total == expected
