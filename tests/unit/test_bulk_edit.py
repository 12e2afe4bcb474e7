"""Bulk edits (issue 20): set-based changes to marked records, per-record permission and audit,
undo, version bump; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput
from crm_tui.models import Activity, AuditEvent, Contact, Deal, Task
from crm_tui.services import bulk_edit, contacts, deals, pipelines, users
from crm_tui.services.bulk_edit import Change, Selection


@pytest.fixture
def team(db, actor, now):
    """ann (admin), sam (sales); 6 leads (2 tagged vip), 3 deals of sam and 2 of ann."""
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
    with db.write() as s:
        sam = users.actor_for(s, login="sam", now=now)
        bob = users.actor_for(s, login="bob", now=now)
    out = {"ann": actor, "sam": sam, "bob": bob, "contacts": [], "deals": []}
    with db.write() as s:
        for i in range(6):
            c = contacts.create_contact(s, data={"first_name": f"Lead{i}", "lifecycle": "lead",
                                                 "tags": ["vip"] if i < 2 else []}, actor=actor, now=now)
            out["contacts"].append(c.id)
        contacts.create_contact(s, data={"first_name": "Cust", "lifecycle": "customer"}, actor=actor, now=now)
        for i in range(5):
            owner = sam.user_id if i < 3 else actor.user_id
            d = deals.create_deal(s, data={"title": f"Deal {i}", "owner_id": owner}, actor=actor, now=now)
            out["deals"].append(d.id)
        out["stages"] = [st.id for st in pipelines.default_pipeline(s).stages]
    return out


def leads() -> Selection:
    return Selection("contact", all_matching=True, filters={"lifecycle": ["lead"]})


def test_owner_change_on_every_matching_contact_is_audited_per_record_and_bumps_versions(db, team, now):
    with db.write() as s:
        res = bulk_edit.apply(s, selection=leads(), changes=[bulk_edit.parse_set(s, "contact", "owner=bob")],
                              actor=team["ann"], now=now)
    assert (res.matched, res.changed, res.refused) == (6, 6, 0)
    with db.read() as s:
        rows = s.execute(select(Contact.owner_id, Contact.version).where(Contact.lifecycle == "lead")).all()
        assert {r.owner_id for r in rows} == {team["bob"].user_id}
        assert {r.version for r in rows} == {2}
        events = s.execute(select(AuditEvent).where(AuditEvent.bulk_id == res.bulk_id)).scalars().all()
        assert len(events) == 6 and {e.field for e in events} == {"owner_id"}
        assert {e.old_value for e in events} == {str(team["ann"].user_id)}
        assert {e.new_value for e in events} == {str(team["bob"].user_id)}
    # a form opened before the bulk edit is stale now
    with pytest.raises(Conflict), db.write() as s:
        contacts.update_contact(s, contact_id=team["contacts"][0], changes={"title": "CEO"}, actor=team["ann"],
                                version=1, now=now)


def test_all_matching_minus_unmarked(db, team, now):
    sel = Selection("contact", all_matching=True, filters={"lifecycle": ["lead"]},
                    excluded=frozenset(team["contacts"][:2]))
    with db.write() as s:
        res = bulk_edit.apply(s, selection=sel, changes=[Change("archive")], actor=team["ann"], now=now)
    assert res.changed == 4
    with db.read() as s:
        archived = set(s.scalars(select(Contact.id).where(Contact.archived.is_(True))))
    assert archived == set(team["contacts"][2:])
    with db.write() as s:
        assert bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now).changed == 4
    with db.read() as s:
        assert not set(s.scalars(select(Contact.id).where(Contact.archived.is_(True))))


def test_tags_add_remove_and_undo(db, team, now):
    with db.write() as s:
        res = bulk_edit.apply(s, selection=leads(), changes=[Change("add_tag", value="vip")], actor=team["ann"],
                              now=now)
    assert (res.changed, res.unchanged) == (4, 2)  # two had it already: no audit row, no version bump
    with db.read() as s:
        assert all("vip" in contacts.get_contact(s, contact_id=i).tags for i in team["contacts"])
        assert contacts.get_contact(s, contact_id=team["contacts"][0]).version == 1
    with db.write() as s:
        undone = bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    assert undone.changed == 4
    with db.read() as s:
        tagged = [i for i in team["contacts"] if "vip" in contacts.get_contact(s, contact_id=i).tags]
    assert tagged == team["contacts"][:2]
    with db.write() as s:
        res = bulk_edit.apply(s, selection=leads(), changes=[Change("remove_tag", value="vip")], actor=team["ann"],
                              now=now)
    assert res.changed == 2


def test_permission_refused_records_are_listed_and_left_alone(db, team, now):
    sel = Selection("deal", all_matching=True)
    stage = team["stages"][1]
    with db.write() as s:
        res = bulk_edit.apply(s, selection=sel, changes=[Change("set", "stage", stage)], actor=team["sam"], now=now)
    assert (res.matched, res.changed, res.refused) == (5, 3, 2)
    assert [i for i, _ in res.refused_named] == team["deals"][3:]
    assert "left alone" in res.message
    with db.read() as s:
        moved = set(s.scalars(select(Deal.id).where(Deal.stage_id == stage)))
        assert moved == set(team["deals"][:3])
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.bulk_id == res.bulk_id, AuditEvent.field == "stage_id")) == 3
        subjects = list(s.scalars(select(Activity.subject).where(Activity.kind == "stage_change")))
        assert len(subjects) == 3 and subjects[0].endswith("→ Qualified")
    with db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["sam"], now=now)
    with db.read() as s:
        assert set(s.scalars(select(Deal.stage_id))) == {team["stages"][0]}
        assert s.scalar(select(func.count()).select_from(Activity).where(
            Activity.subject.like("Qualified →%"))) == 3
        assert set(s.scalars(select(Deal.version).where(Deal.id.in_(team["deals"][:3])))) == {3}


def test_undo_keeps_a_later_change(db, team, now):
    with db.write() as s:
        res = bulk_edit.apply(s, selection=leads(), changes=[Change("set", "lifecycle", "prospect")],
                              actor=team["ann"], now=now)
    with db.write() as s:
        contacts.update_contact(s, contact_id=team["contacts"][0], changes={"lifecycle": "customer"},
                                actor=team["ann"], now=now)
    with db.write() as s:
        undone = bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    assert undone.changed == 5
    with db.read() as s:
        got = dict(s.execute(select(Contact.id, Contact.lifecycle).where(Contact.id.in_(team["contacts"]))).all())
    assert got[team["contacts"][0]] == "customer" and {got[i] for i in team["contacts"][1:]} == {"lead"}
    with pytest.raises(InvalidInput), db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)


def test_task_on_each_and_dry_run(db, team, now):
    sel = Selection("contact", ids=frozenset(team["contacts"][:3]))
    change = Change("task", title="Call back", due_at=now)
    with db.write() as s:
        dry = bulk_edit.apply(s, selection=sel, changes=[change], actor=team["ann"], now=now, dry_run=True)
    assert dry.changed == 3 and dry.bulk_id is None
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 0
    with db.write() as s:
        res = bulk_edit.apply(s, selection=sel, changes=[change], actor=team["ann"], now=now)
    with db.read() as s:
        assert sorted(s.scalars(select(Task.contact_id).where(Task.title == "Call back"))) == team["contacts"][:3]
    with db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 0


def test_owner_undo_and_company_and_bad_input(db, team, now):
    sel = Selection("deal", ids=frozenset(team["deals"]))
    with db.write() as s:
        res = bulk_edit.apply(s, selection=sel, changes=[bulk_edit.parse_set(s, "deal", "owner=bob")],
                              actor=team["ann"], now=now)
        assert res.changed == 5
    with db.write() as s:
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=team["ann"], now=now)
    with db.read() as s:
        owners = dict(s.execute(select(Deal.id, Deal.owner_id)).all())
    assert [owners[i] for i in team["deals"]] == [team["sam"].user_id] * 3 + [team["ann"].user_id] * 2
    with pytest.raises(InvalidInput), db.write() as s:
        bulk_edit.parse_set(s, "contact", "nickname=x")
    with pytest.raises(InvalidInput), db.write() as s:
        bulk_edit.apply(s, selection=Selection("company"), changes=[Change("add_tag", value="x")],
                        actor=team["ann"], now=now)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.bulk_id.is_not(None))) == 10


def test_a_seller_takes_back_the_deals_they_gave_away(db, team, now):
    sam = team["sam"]
    with db.write() as s:
        res = bulk_edit.apply(s, selection=Selection("deal", all_matching=True),
                              changes=[bulk_edit.parse_set(s, "deal", "owner=bob")], actor=sam, now=now)
    assert (res.changed, res.refused) == (3, 2)
    with db.write() as s:
        assert bulk_edit.last_undoable(s, actor=sam, kind="deal").id == res.bulk_id
        bulk_edit.undo(s, bulk_id=res.bulk_id, actor=sam, now=now)
    with db.read() as s:
        assert sorted(s.scalars(select(Deal.id).where(Deal.owner_id == sam.user_id))) == team["deals"][:3]
    with pytest.raises(Forbidden), db.write() as s:  # bob may not undo sam's change
        res2 = bulk_edit.apply(s, selection=Selection("deal", ids=frozenset(team["deals"][:1])),
                               changes=[Change("archive")], actor=sam, now=now)
        bulk_edit.undo(s, bulk_id=res2.bulk_id, actor=team["bob"], now=now)
