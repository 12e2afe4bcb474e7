"""Duplicate scan: shared emails, phones and domains, similar names at one company, similar
company names; blocks, never all pairs; paging over a scan."""

from __future__ import annotations

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services import companies, contacts, dedupe


def _contact(s, actor, now, first, last, *, emails=(), phones=(), company_id=None):
    return contacts.create_contact(s, data={"first_name": first, "last_name": last, "emails": list(emails),
                                            "phones": list(phones), "company_id": company_id},
                                   actor=actor, now=now, allow_duplicate=True).id  # duplicates on purpose


@pytest.fixture
def people(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Inc", "domain": "acme.com"}, actor=actor, now=now).id
        globex = companies.create_company(s, data={"name": "Globex"}, actor=actor, now=now).id
        ids = {
            "ann": _contact(s, actor, now, "Ann", "Lee", emails=["ann@acme.com"], company_id=acme),
            "ann2": _contact(s, actor, now, "Anne", "Lee", emails=["ANN@acme.com", "al@home.org"]),
            "bob": _contact(s, actor, now, "Bob", "Stone", phones=["+14155552671"], company_id=acme),
            # the same phone and the same name (at another company): one person; a shared phone alone
            # no longer pairs people whose names differ (issue 17 #5, see test_dedupe_phones.py)
            "rob": _contact(s, actor, now, "Bob", "Stone", phones=["+1 415 555 2671"], company_id=globex),
            "jon": _contact(s, actor, now, "Jon", "Smith", company_id=acme),
            "john": _contact(s, actor, now, "John", "Smith", company_id=acme),
            # the same name at another company is someone else
            "john_g": _contact(s, actor, now, "John", "Smith", company_id=globex),
            "zed": _contact(s, actor, now, "Zed", "Zulu", company_id=acme),
        }
    return ids


def test_contact_dupes_by_email_phone_and_similar_name_at_the_same_company(db, people):
    with db.read() as s:
        scan = dedupe.find_duplicates(s, kind="contact")
    got = {(p.a_id, p.b_id): p for p in scan.pairs}
    p = people
    assert set(got) == {(p["ann"], p["ann2"]), (p["bob"], p["rob"]), (p["jon"], p["john"])}
    email = got[(p["ann"], p["ann2"])]
    assert email.reasons == ("email",) and email.score == 100 and email.shared == "ann@acme.com"
    assert email.a_label == "Ann Lee" and "Acme Inc" in email.a_detail
    assert (got[(p["bob"], p["rob"])].reasons, got[(p["bob"], p["rob"])].score) == (("phone", "name"), 100)
    name = got[(p["jon"], p["john"])]
    assert name.reasons == ("name",) and 90 <= name.score < 100
    # best first: the exact matches before the fuzzy one
    assert scan.pairs[-1] is name
    assert not scan.truncated and scan.blocks >= 3


def test_archived_contacts_are_left_out_unless_asked(db, actor, now, people):
    with db.write() as s:
        contacts.set_contact_archived(s, contact_id=people["ann2"], archived=True, actor=actor, now=now)
    with db.read() as s:
        live = dedupe.find_duplicates(s, kind="contact")
        every = dedupe.find_duplicates(s, kind="contact", include_archived=True)
    assert (people["ann"], people["ann2"]) not in {(p.a_id, p.b_id) for p in live.pairs}
    assert (people["ann"], people["ann2"]) in {(p.a_id, p.b_id) for p in every.pairs}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_key_shared_by_many_pairs_only_records_whose_names_are_alike(db, actor, now):
    with db.write() as s:
        names = "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet Kilo Lima Mike November".split()
        ids = [_contact(s, actor, now, name, "X", emails=["info@shared.com"]) for name in names]
        assert len(ids) > dedupe.SMALL_BLOCK
        ann = _contact(s, actor, now, "Ann", "Lee", emails=["info@shared.com"])
        ann2 = _contact(s, actor, now, "Anne", "Lee", emails=["info@shared.com"])
        few = [_contact(s, actor, now, f"Q{i}", "Y", emails=["team@small.com"]) for i in range(3)]
    with db.read() as s:
        scan = dedupe.find_duplicates(s, kind="contact")
    got = {(p.a_id, p.b_id): p.reasons for p in scan.pairs}
    assert got == {(ann, ann2): ("email", "name"), (few[0], few[1]): ("email",), (few[0], few[2]): ("email",),
                   (few[1], few[2]): ("email",)}
    assert scan.common_keys == 1 and ids


def test_company_dupes_by_domain_and_by_name_without_legal_forms(db, actor, now):
    with db.write() as s:
        def add(name, domain=None):
            return companies.create_company(s, data={"name": name, "domain": domain}, actor=actor, now=now,
                                            allow_duplicate=True).id
        acme, acme2, acme3 = add("Acme Inc", "acme.com"), add("ACME, Inc."), add("Acme Corporation")
        other = add("Initech", "initech.com")
        init2 = add("Initrode", "initech.com")
        add("Umbrella")
        # the same name on two web domains: two companies of one group, not one company
        add("Globex GmbH", "globex.de")
        add("Globex Inc", "globex.com")
    with db.read() as s:
        scan = dedupe.find_duplicates(s, kind="company")
    got = {(p.a_id, p.b_id): p.reasons for p in scan.pairs}
    assert got == {(acme, acme2): ("name",), (acme, acme3): ("name",), (acme2, acme3): ("name",),
                   (other, init2): ("domain",)}


def test_name_keys():
    assert dedupe.company_name_key("ACME, Inc.") == "acme"
    assert dedupe.company_name_key("Müller GmbH & Co. KG") == "muller kg"
    assert dedupe.contact_name_key("josé garcía-pérez") == "jose garcia perez"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_of_a_scan_and_the_limits(db, actor, now):
    with db.write() as s:
        for i in range(7):
            _contact(s, actor, now, f"Q{i}", "Y", emails=[f"q{i}@x.org"])
            _contact(s, actor, now, f"R{i}", "Y", emails=[f"q{i}@x.org"])
    with db.read() as s:
        scan = dedupe.find_duplicates(s, kind="contact", max_pairs=5)
        with pytest.raises(InvalidInput):
            dedupe.find_duplicates(s, kind="deal")
        with pytest.raises(InvalidInput):
            dedupe.find_duplicates(s, kind="contact", min_score=20)
    assert scan.truncated and len(scan.pairs) == 5
    first = dedupe.scan_page(scan, limit=2, with_total=True)
    assert first.total == 5 and first.prev_cursor is None
    second = dedupe.scan_page(scan, after=first.next_cursor, limit=2)
    third = dedupe.scan_page(scan, after=second.next_cursor, limit=2)
    assert [p.a_id for p in first.items + second.items + third.items] == [p.a_id for p in scan.pairs]
    assert third.next_cursor is None
    back = dedupe.scan_page(scan, before=third.prev_cursor, limit=2)
    assert back.items == second.items
    assert dedupe.scan_page(scan, before="end", limit=2).items == scan.pairs[-2:]
