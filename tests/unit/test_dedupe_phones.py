"""The duplicate scan follows the import's rule (issue 17 #5): a shared phone pairs people only
where their names are alike and no two different emails say they are two; and a pair marked "not a
duplicate" is left out for everyone, audited, until it is undone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_tui.errors import Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, DedupeDismissal
from crm_tui.services import companies, contacts, dedupe, merge, permissions, users
from crm_tui.services.common import Actor


def _contact(s, actor, now, first, last, *, emails=(), phones=(), company_id=None):
    return contacts.create_contact(s, data={"first_name": first, "last_name": last, "emails": list(emails),
                                            "phones": list(phones), "company_id": company_id},
                                   actor=actor, now=now).id


def _pairs(db, kind="contact") -> dict[tuple[int, int], dedupe.DuplicatePair]:
    with db.read() as s:
        return {(p.a_id, p.b_id): p for p in dedupe.find_duplicates(s, kind=kind).pairs}


def test_a_switchboard_does_not_make_three_people_one(db, actor, now):
    with db.write() as s:
        made = [_contact(s, actor, now, first, last, emails=[email], phones=["+14045550199"],
                         company_id=companies.create_company(s, data={"name": company}, actor=actor, now=now).id)
                for first, last, email, company in (("Ann", "Lee", "ann@acme.com", "Acme"),
                                                    ("Bob", "Stone", "bob@globex.com", "Globex"),
                                                    ("Cy", "Young", "cy@initech.com", "Initech"))]
        # unrelated people at one number, with no email at all: their names tell them apart
        _contact(s, actor, now, "Di", "Ross", phones=["+14045550100"])
        _contact(s, actor, now, "Ed", "Park", phones=["+14045550100"])
    assert made and _pairs(db) == {}


def test_a_shared_phone_pairs_alike_names_scored_as_alike_as_they_are(db, actor, now):
    with db.write() as s:
        ann = _contact(s, actor, now, "Ann", "Lee", phones=["+14045550199"])
        ann2 = _contact(s, actor, now, "Ann", "Lee", emails=["ann@home.org"], phones=["+14045550199"])
        jon = _contact(s, actor, now, "Jon", "Smith", phones=["+14045550100"])
        john = _contact(s, actor, now, "John", "Smith", phones=["+14045550100"])
        # the same name and phone, but two different emails: two people (a father and son)
        _contact(s, actor, now, "Al", "Roe", emails=["al@roe.org"], phones=["+14045550111"])
        _contact(s, actor, now, "Al", "Roe", emails=["al.jr@roe.org"], phones=["+14045550111"])
    got = _pairs(db)
    assert set(got) == {(ann, ann2), (jon, john)}
    assert (got[(ann, ann2)].reasons, got[(ann, ann2)].score) == (("phone", "name"), 100)
    assert got[(jon, john)].reasons == ("phone", "name") and 90 <= got[(jon, john)].score < 100


def test_the_same_name_at_one_company_with_two_different_emails_is_two_people(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        one = _contact(s, actor, now, "Sam", "Hill", emails=["sam@acme.com"], company_id=acme)
        _contact(s, actor, now, "Sam", "Hill", emails=["sam.hill@acme.com"], company_id=acme)
        three = _contact(s, actor, now, "Sam", "Hill", company_id=acme)
    # the third has no email to disagree: it may be either
    assert set(_pairs(db)) == {(one, three), (one + 1, three)}


@pytest.fixture
def twins(db, actor, now):
    with db.write() as s:
        return (_contact(s, actor, now, "Ann", "Lee", phones=["+14045550199"]),
                _contact(s, actor, now, "Anne", "Lee", phones=["+14045550199"]))


def test_not_a_duplicate_leaves_the_pair_out_for_everyone_until_undone(db, actor, now, twins):
    a, b = twins
    assert (a, b) in _pairs(db)
    with db.write() as s:
        made = dedupe.dismiss_pair(s, kind="contact", a_id=b, b_id=a, actor=actor, now=now)  # either order
    assert (made.a_id, made.b_id, made.by, made.created) == (a, b, "ann", True)
    assert (made.a_label, made.b_label) == ("Ann Lee", "Anne Lee")
    assert _pairs(db) == {}
    with db.write() as s:
        again = dedupe.dismiss_pair(s, kind="contact", a_id=a, b_id=b, actor=actor, now=now)
        listed = dedupe.list_dismissals(s, kind="contact")
        assert dedupe.list_dismissals(s, kind="company") == []
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "not-duplicate")
                           .order_by(AuditEvent.entity_id)).all()
    assert not again.created and [(d.a_id, d.b_id) for d in listed] == [(a, b)]
    assert [(e.entity, e.entity_id, e.field, e.new_value) for e in events] == [
        ("contact", a, "not_duplicate_of", f"#{b} Anne Lee"), ("contact", b, "not_duplicate_of", f"#{a} Ann Lee")]
    with db.write() as s:
        dedupe.restore_pair(s, kind="contact", a_id=a, b_id=b, actor=actor, now=now)
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "maybe-duplicate").limit(1))
    assert (a, b) in _pairs(db)
    with db.write() as s, pytest.raises(NotFound, match="were not marked"):
        dedupe.restore_pair(s, kind="contact", a_id=a, b_id=b, actor=actor, now=now)


@pytest.mark.parametrize(("kind", "ids", "error", "message"), [
    ("contact", "same", InvalidInput, "and itself are one record"),
    ("contact", "missing", NotFound, "no contact with id 999"),
    ("deal", "pair", InvalidInput, "invalid kind 'deal'"),
])
def test_not_a_duplicate_refuses_what_is_not_a_pair(db, actor, now, twins, kind, ids, error, message):
    a, b = {"same": (twins[0], twins[0]), "missing": (twins[0], 999), "pair": twins}[ids]
    with db.write() as s, pytest.raises(error, match=message):
        dedupe.dismiss_pair(s, kind=kind, a_id=a, b_id=b, actor=actor, now=now)
    with db.read() as s:
        assert s.scalar(select(DedupeDismissal.id).limit(1)) is None


def test_not_a_duplicate_needs_the_right_to_edit_both_records(db, actor, now, twins):
    with db.write() as s:
        users.create_user(s, data={"login": "sid", "name": "Sid", "role": "support"}, actor=actor, now=now)
        permissions.set_scope(s, role="support", action="contact.edit", scope="own", actor=actor, now=now)
        sid = users.actor_for(s, login="sid")
    assert isinstance(sid, Actor)
    with db.write() as s, pytest.raises(Forbidden, match="may not add, edit"):
        dedupe.dismiss_pair(s, kind="contact", a_id=twins[0], b_id=twins[1], actor=sid, now=now)
    assert twins in _pairs(db)


def test_company_pairs_and_a_merge_takes_its_record_s_pairs_with_it(db, actor, now, twins):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Inc"}, actor=actor, now=now).id
        acme2 = companies.create_company(s, data={"name": "ACME, Inc."}, actor=actor, now=now,
                                         allow_duplicate=True).id  # a duplicate on purpose
        dedupe.dismiss_pair(s, kind="company", a_id=acme, b_id=acme2, actor=actor, now=now)
        third = _contact(s, actor, now, "Ann", "Lee")
        dedupe.dismiss_pair(s, kind="contact", a_id=twins[1], b_id=third, actor=actor, now=now)
    assert _pairs(db, "company") == {}
    with db.write() as s:
        merge.merge_records(s, kind="contact", a_id=twins[0], b_id=twins[1], actor=actor, now=now)
        left = [(d.kind, d.a_id, d.b_id) for d in (dedupe.list_dismissals(s, kind="company")
                                                   + dedupe.list_dismissals(s, kind="contact"))]
    assert left == [("company", acme, acme2)]
