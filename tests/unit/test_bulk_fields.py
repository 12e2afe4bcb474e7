"""Setting a typed custom field in bulk (issue 20): validated by its type, set-based, audited per
record, undone by the bulk undo, checked per record; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, InvalidInput
from crm_tui.models import AuditEvent, Company, Contact, Deal
from crm_tui.services import bulk_edit, companies, contacts, deals, fields, users
from crm_tui.services.bulk_edit import Selection
from tests.conftest import seeded_fixtures


def _team(db, actor, now):
    """ann (admin), sam (sales); contact fields segment (choice), seats (number), paid (yes/no),
    renewal (date), langs (multi), budget (money), tier (required text); 4 leads (one holding
    segment=mid, seats=3), 1 customer; a deal field `region` (choice); 2 deals of sam, 1 of ann."""
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        add = lambda kind, key, type_, **kw: fields.add_field(s, kind=kind, key=key, type=type_, actor=actor,  # noqa
                                                             now=now, **kw)
        add("contact", "segment", "choice", options=["smb,mid,enterprise,legacy"])
        add("contact", "seats", "number")
        add("contact", "paid", "yesno")
        add("contact", "renewal", "date")
        add("contact", "langs", "multi", options=["en,fr,de"])
        add("contact", "budget", "money")
        add("contact", "tier", "text", required=True, default="std")
        add("deal", "region", "choice", options=["emea,amer"])
        add("company", "plan", "text")
        fields.edit_field(s, kind="contact", key="segment", retire_options=["legacy"], actor=actor, now=now)
    with db.write() as s:
        sam = users.actor_for(s, login="sam", now=now)
    out = {"ann": actor, "sam": sam, "contacts": [], "deals": []}
    with db.write() as s:
        for i in range(4):
            custom = {"segment": "mid", "seats": 3} if i == 0 else {}
            out["contacts"].append(contacts.create_contact(
                s, data={"first_name": f"Lead{i}", "lifecycle": "lead", "custom": custom}, actor=actor, now=now).id)
        out["customer"] = contacts.create_contact(s, data={"first_name": "Cust", "lifecycle": "customer"},
                                                  actor=actor, now=now).id
        for i in range(3):
            owner = sam.user_id if i < 2 else actor.user_id
            out["deals"].append(deals.create_deal(s, data={"title": f"Deal {i}", "owner_id": owner},
                                                  actor=actor, now=now).id)
        out["company"] = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
    return out


seeded_rows, db_url, team = seeded_fixtures(_team, "team")


LEADS = Selection("contact", all_matching=True, filters={"lifecycle": ["lead"]})


def custom_of(s, model, ids) -> dict:
    return {i: dict(c or {}) for i, c in s.execute(select(model.id, model.custom).where(model.id.in_(ids)))}


def test_set_a_choice_on_the_leads_audited_per_record_and_undone(db, team, now):
    ids = team["contacts"]
    with db.write() as s:
        res = bulk_edit.apply(s, selection=LEADS, changes=[bulk_edit.parse_set(s, "contact", "Segment=SMB")],
                              actor=team["ann"], now=now)
    assert (res.matched, res.changed, res.unchanged) == (4, 4, 0)
    assert res.summary == "set segment to smb"
    with db.read() as s:
        got = custom_of(s, Contact, ids + [team["customer"]])
        assert [got[i]["segment"] for i in ids] == ["smb"] * 4
        assert got[ids[0]]["seats"] == 3  # the record's other values are kept
        assert "segment" not in got[team["customer"]]
        assert set(s.scalars(select(Contact.version).where(Contact.id.in_(ids)))) == {2}
        events = s.execute(select(AuditEvent.entity_id, AuditEvent.field, AuditEvent.old_value,
                                  AuditEvent.new_value).where(AuditEvent.bulk_id == res.bulk_id)).all()
        assert sorted(events) == sorted([(ids[0], "custom.segment", "mid", "smb")]
                                        + [(i, "custom.segment", None, "smb") for i in ids[1:]])
        # the filter on the field (its index) finds them
        page = contacts.list_contacts(s, filters={"custom": {"segment": "smb"}}, limit=50)
        assert sorted(r.id for r in page.items) == ids
    # a form opened before is stale now
    with pytest.raises(Conflict), db.write() as s:
        contacts.update_contact(s, contact_id=ids[1], changes={"title": "CEO"}, actor=team["ann"], version=1, now=now)
    # a later change to one record is kept by the undo
    with db.write() as s:
        contacts.update_contact(s, contact_id=ids[1], changes={"custom": {"segment": "enterprise", "tier": "std"}},
                                actor=team["ann"], now=now)
    with db.write() as s:
        undone = bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    assert undone.changed == 3
    with db.read() as s:
        got = custom_of(s, Contact, ids)
    assert got[ids[0]]["segment"] == "mid" and got[ids[0]]["seats"] == 3
    assert got[ids[1]]["segment"] == "enterprise"
    assert "segment" not in got[ids[2]] and "segment" not in got[ids[3]]


@pytest.mark.parametrize("pair, stored, audited", [
    ("seats=12", 12, "12"),
    ("seats=2.5", 2.5, "2.5"),
    ("paid=yes", True, "true"),
    ("renewal=2027-01-31", "2027-01-31", "2027-01-31"),
    ("langs=fr, en", ["en", "fr"], None),
    ("budget=1,234.50", 123450, "123450"),
    ("custom.tier=gold", "gold", "gold"),
])
def test_each_type_is_stored_in_its_form_and_undone(db, team, now, pair, stored, audited):
    ids = team["contacts"]
    with db.write() as s:
        res = bulk_edit.apply(s, selection=LEADS, changes=[bulk_edit.parse_set(s, "contact", pair)],
                              actor=team["ann"], now=now)
    key = pair.partition("=")[0].removeprefix("custom.")
    assert res.changed == 4
    with db.read() as s:
        got = custom_of(s, Contact, ids)
        assert [got[i][key] for i in ids] == [stored] * 4
        news = set(s.scalars(select(AuditEvent.new_value).where(AuditEvent.bulk_id == res.bulk_id)))
    assert len(news) == 1
    if audited is not None:
        assert news == {audited}
    with db.write() as s:  # set again: nothing to change
        again = bulk_edit.apply(s, selection=LEADS, changes=[bulk_edit.parse_set(s, "contact", pair)],
                                actor=team["ann"], now=now)
    assert (again.changed, again.unchanged) == (0, 4)
    with db.write() as s:
        assert bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now).changed == 4
    with db.read() as s:
        back = custom_of(s, Contact, ids)
    if key == "tier":  # the default given at creation comes back
        assert {back[i]["tier"] for i in ids} == {"std"}
    else:
        assert back[ids[0]].get(key) == (3 if key == "seats" else None)
        assert all(key not in back[i] for i in ids[1:])


@pytest.mark.parametrize("pair, says", [
    ("segment=huge", "segment: 'huge' is not one of smb, mid, enterprise"),
    ("segment=legacy", "retired"),
    ("seats=many", "seats: 'many' is not a number"),
    ("paid=perhaps", "is not yes or no"),
    ("renewal=soonish", "is not a date"),
    ("budget=1.234", "more than two decimals"),
    ("tier=", "tier is required"),
    ("nickname=x", "cannot set 'nickname' on contacts in bulk"),
])
def test_a_bad_value_is_one_line_and_nothing_is_written(db, team, now, pair, says):
    with pytest.raises(InvalidInput) as error, db.write() as s:
        bulk_edit.apply(s, selection=LEADS, changes=[bulk_edit.parse_set(s, "contact", pair)],
                        actor=team["ann"], now=now)
    assert says in str(error.value) and "\n" not in str(error.value)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.bulk_id.is_not(None))) == 0
        assert set(s.scalars(select(Contact.version))) == {1}


def test_deals_are_checked_per_record_and_a_dry_run_writes_nothing(db, team, now):
    sel = Selection("deal", all_matching=True)
    with db.write() as s:
        dry = bulk_edit.apply(s, selection=sel, changes=[bulk_edit.parse_set(s, "deal", "region=emea")],
                              actor=team["sam"], now=now, dry_run=True)
    assert (dry.changed, dry.refused) == (2, 1)
    with db.read() as s:
        assert all("region" not in c for c in custom_of(s, Deal, team["deals"]).values())
    with db.write() as s:
        res = bulk_edit.apply(s, selection=sel, changes=[bulk_edit.parse_set(s, "deal", "region=emea")],
                              actor=team["sam"], now=now)
    assert (res.changed, res.refused) == (2, 1) and [i for i, _ in res.refused_named] == team["deals"][2:]
    with db.read() as s:
        got = custom_of(s, Deal, team["deals"])
    assert [got[i].get("region") for i in team["deals"]] == ["emea", "emea", None]
    with db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["sam"], now=now)
    with db.read() as s:
        assert all("region" not in c for c in custom_of(s, Deal, team["deals"]).values())


def test_a_company_field_and_a_field_with_a_column_change_together(db, team, now):
    with db.write() as s:
        res = bulk_edit.apply(s, selection=Selection("company", ids=frozenset([team["company"]])),
                              changes=[bulk_edit.parse_set(s, "company", "plan=Gold plan"),
                                       bulk_edit.parse_set(s, "company", "industry=Retail")],
                              actor=team["ann"], now=now)
    assert res.changed == 1
    with db.read() as s:
        row = s.get(Company, team["company"])
        assert (row.custom["plan"], row.industry) == ("Gold plan", "Retail")
    with db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    with db.read() as s:
        row = s.get(Company, team["company"])
        assert "plan" not in (row.custom or {}) and row.industry is None
