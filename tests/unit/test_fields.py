"""Typed custom fields (issue 20): define, validate, promote, edit choices, archive, filter and
sort through an index, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from crm_tui.errors import Conflict, Forbidden, InvalidInput
from crm_tui.models import AuditEvent, Contact, CustomField
from crm_tui.services import contacts, fields, users


def _count(db, model) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


def _segment(db, actor, now, **kw):
    with db.write() as s:
        return fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb,mid,enterprise"],
                                actor=actor, now=now, **kw)


def test_define_list_and_typed_values(db, actor, now):
    seg = _segment(db, actor, now, required=True)
    assert (seg.kind, seg.key, seg.type, seg.options, seg.required) == (
        "contact", "segment", "choice", ("smb", "mid", "enterprise"), True)
    with db.write() as s:
        for key, type_ in (("seats", "number"), ("arr", "money"), ("renewal", "date"), ("vip", "yes/no"),
                           ("site", "url"), ("notes2", "text")):
            fields.add_field(s, kind="contact", key=key, type=type_, actor=actor, now=now)
        fields.add_field(s, kind="contact", key="tags2", type="multi-choice", options=["a", "b", "c"],
                         actor=actor, now=now)
    with db.read() as s:
        assert [f.key for f in fields.list_fields(s, kind="contact")] == [
            "segment", "seats", "arr", "renewal", "vip", "site", "notes2", "tags2"]
    with db.write() as s:
        c = contacts.create_contact(s, data={"first_name": "Ann", "custom": {
            "segment": "SMB", "seats": "12", "arr": "$1,234.50", "renewal": "2027-01-31", "vip": "yes",
            "site": "example.com", "tags2": "c, a", "legacy": "kept"}}, actor=actor, now=now)
    assert c.custom == {"segment": "smb", "seats": 12, "arr": 123450, "renewal": "2027-01-31", "vip": True,
                        "site": "https://example.com", "tags2": ["a", "c"], "legacy": "kept"}
    with db.read() as s:
        shown = {label: value for _f, label, value in fields.record_fields(s, "contact", c.custom)}
    assert shown["arr"] == "1,234.50" and shown["vip"] == "yes" and shown["tags2"] == "a, c"
    assert shown["legacy"] == "kept"


@pytest.mark.parametrize("custom, message", [
    ({"segment": "xl"}, "segment: 'xl' is not one of smb, mid, enterprise"),
    ({}, "segment is required"),
    ({"segment": "smb", "seats": "many"}, "seats: 'many' is not a number"),
    ({"segment": "smb", "renewal": "someday soon"}, "renewal: 'someday soon' is not a date"),
    ({"segment": "smb", "site": "not a url"}, "is not a web address"),
])
def test_bad_values_are_one_line_and_nothing_is_written(db, actor, now, custom, message):
    _segment(db, actor, now, required=True)
    with db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="renewal", type="date", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="site", type="url", actor=actor, now=now)
    before = _count(db, Contact), _count(db, AuditEvent)
    with pytest.raises(InvalidInput) as e, db.write() as s:
        contacts.create_contact(s, data={"first_name": "Bo", "custom": custom}, actor=actor, now=now)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert (_count(db, Contact), _count(db, AuditEvent)) == before


def test_default_fills_in_and_required_cannot_be_emptied(db, actor, now):
    _segment(db, actor, now, required=True, default="mid")
    with db.write() as s:
        c = contacts.create_contact(s, data={"first_name": "Cy"}, actor=actor, now=now)
    assert c.custom == {"segment": "mid"}
    with pytest.raises(InvalidInput, match="segment is required"), db.write() as s:
        contacts.update_contact(s, contact_id=c.id, changes={}, custom_remove=["segment"], actor=actor, now=now)
    with db.write() as s:
        c = contacts.update_contact(s, contact_id=c.id, changes={}, custom_set={"segment": "Enterprise"},
                                    actor=actor, now=now)
    assert c.custom["segment"] == "enterprise"


def test_promote_reports_bad_values_then_converts(db, actor, now):
    with db.write() as s:
        a = contacts.create_contact(s, data={"first_name": "A", "custom": {"seats": "10"}}, actor=actor, now=now)
        b = contacts.create_contact(s, data={"first_name": "B", "custom": {"seats": "lots"}}, actor=actor, now=now)
    with db.read() as s:
        bad = fields.check_existing(s, kind="contact", key="seats", type="number")
    assert [(x.record_id, x.value) for x in bad] == [(b.id, "lots")]
    with pytest.raises(InvalidInput, match=rf"1 contact hold a 'seats' that does not fit: #{b.id} 'lots'"), \
            db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
    assert _count(db, CustomField) == 0
    with db.write() as s:
        contacts.update_contact(s, contact_id=b.id, changes={}, custom_set={"seats": "7"}, actor=actor, now=now)
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=a.id).custom == {"seats": 10}
        assert contacts.get_contact(s, contact_id=b.id).custom == {"seats": 7}
        audits = s.execute(select(AuditEvent.entity, AuditEvent.field).where(AuditEvent.field == "custom.seats")).all()
    assert len(audits) == 2


def test_choices_added_and_retired(db, actor, now):
    _segment(db, actor, now)
    with db.write() as s:
        held = contacts.create_contact(s, data={"first_name": "H", "custom": {"segment": "mid"}}, actor=actor, now=now)
        f = fields.edit_field(s, kind="contact", key="segment", add_options=["strategic"], retire_options=["mid"],
                              actor=actor, now=now)
    assert f.options == ("smb", "mid", "enterprise", "strategic") and f.offered == ("smb", "enterprise", "strategic")
    with pytest.raises(InvalidInput, match="'mid' is retired"), db.write() as s:
        contacts.create_contact(s, data={"first_name": "N", "custom": {"segment": "mid"}}, actor=actor, now=now)
    with db.write() as s:  # a record holding a retired choice keeps it through other edits
        contacts.update_contact(s, contact_id=held.id, changes={"title": "CTO"}, custom_set={"other": "x"},
                                actor=actor, now=now)
        assert contacts.get_contact(s, contact_id=held.id).custom["segment"] == "mid"


def test_admin_only_conflict_and_audit(db, actor, now):
    _segment(db, actor, now)
    with pytest.raises(Conflict, match="already exists"), db.write() as s:
        fields.add_field(s, kind="contact", key="Segment", type="text", actor=actor, now=now)
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
    with pytest.raises(Forbidden, match="define custom fields"), db.write() as s:
        fields.add_field(s, kind="contact", key="x", type="text", actor=sam, now=now)
    with db.write() as s:
        fields.set_field_archived(s, kind="contact", key="segment", archived=True, actor=actor, now=now)
        assert fields.list_fields(s, kind="contact") == []
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "field")))
    assert actions == ["create", "archive"]


def test_filter_and_sort_use_the_field_index(db, actor, now):
    _segment(db, actor, now)
    with db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
        for i, (seg, seats) in enumerate([("smb", 5), ("mid", 50), ("smb", 500), ("enterprise", None)]):
            custom = {"segment": seg} | ({"seats": seats} if seats is not None else {})
            contacts.create_contact(s, data={"first_name": f"P{i}", "custom": custom}, actor=actor, now=now)
    with db.read() as s:
        page = contacts.list_contacts(s, filters={"custom": {"segment": "SMB"}}, with_total=True)
        assert [r.full_name for r in page.items] == ["P0", "P2"] and page.total == 2
        page = contacts.list_contacts(s, filters={"custom": ["seats>=50"]})
        assert [r.full_name for r in page.items] == ["P1", "P2"]
        page = contacts.list_contacts(s, sort="custom.seats", limit=2)
        assert [r.full_name for r in page.items] == ["P0", "P1"]
        nxt = contacts.list_contacts(s, sort="custom.seats", limit=2, after=page.next_cursor)
        assert [r.full_name for r in nxt.items] == ["P2", "P3"]
        with pytest.raises(InvalidInput, match="'big' is not a number"):
            contacts.list_contacts(s, filters={"custom": ["seats>big"]})
        seg = fields.get_field(s, kind="contact", key="segment")
        stmt = select(Contact.id).where(Contact.archived.is_(False), fields.condition(s, "contact", "segment", "=", "smb")) \
            .order_by(Contact.sort_name, Contact.id).limit(50)
        sql = str(stmt.compile(s.bind, compile_kwargs={"literal_binds": True}))
        if s.bind.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in s.execute(text("EXPLAIN " + sql)))
        assert f"ix_cf_contacts_{seg.id}" in plan, plan


def test_workflow_conditions_compare_typed_fields_as_their_type(db, actor, now):
    from datetime import timedelta

    from crm_tui.services import deals
    from crm_tui.workflows import conditions

    with db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb", "mid"], actor=actor, now=now)
        fields.add_field(s, kind="contact", key="vip", type="yes/no", actor=actor, now=now)
        for name, seats, seg, vip in (("Nine", 9, "smb", False), ("Ten", 10, "mid", True), ("Big", 100, "mid", None)):
            custom = {"seats": seats, "segment": seg} | ({"vip": vip} if vip is not None else {})
            c = contacts.create_contact(s, data={"first_name": name, "custom": custom}, actor=actor, now=now)
            deals.create_deal(s, data={"title": f"{name} deal", "amount": "100", "contact_id": c.id}, actor=actor,
                              now=now - timedelta(days=1))

    def names(kind, raw):
        model = conditions.MODELS[kind]
        label = model.full_name if kind == "contact" else model.title
        with db.read() as s:
            cond = conditions.parse(raw, kind).sql(s)
            return sorted(s.scalars(select(label).where(cond)))

    # "9" < "10" as text, but not as numbers
    assert names("contact", {"field": "custom.seats", "op": ">=", "value": 10}) == ["Big", "Ten"]
    assert names("contact", {"field": "custom.segment", "op": "=", "value": "MID"}) == ["Big", "Ten"]
    assert names("contact", {"field": "custom.vip", "op": "!=", "value": True}) == ["Big", "Nine"]
    assert names("deal", {"field": "contact.custom.seats", "op": ">", "value": 9}) == ["Big deal", "Ten deal"]
    assert names("deal", {"field": "contact.custom.segment", "op": "not in", "value": ["mid"]}) == ["Nine deal"]
    assert names("deal", {"field": "contact.custom.vip", "op": "set", "value": False}) == ["Big deal"]
    from crm_tui.workflows.triggers import SpecError
    with pytest.raises(SpecError, match="'xl' is not one of smb, mid"):
        names("contact", {"field": "custom.segment", "op": "=", "value": "xl"})


def test_import_reads_typed_values_and_reports_bad_ones(db, actor, now, tmp_path):
    from crm_tui.services.importing import ImportOptions, run_import

    _segment(db, actor, now)
    with db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
    path = tmp_path / "people.csv"
    path.write_text("first name,email,custom.segment,custom.seats\n"
                    "Ann,ann@x.com,SMB,1 200\nBo,bo@x.com,huge,3\nCy,cy@x.com,mid,lots\n")
    with db.write() as s:
        report = run_import(s, path=path, options=ImportOptions(entity="contacts", skip_invalid=True), actor=actor,
                            now=now)
    assert [(p.line, p.column, p.message) for p in report.problems] == [
        (3, "custom.segment", "segment: 'huge' is not one of smb, mid, enterprise"),
        (4, "custom.seats", "seats: 'lots' is not a number")]
    with db.read() as s:
        page = contacts.list_contacts(s, filters={"custom": {"segment": "smb"}})
        assert [r.full_name for r in page.items] == ["Ann"]
        assert contacts.get_contact(s, contact_id=page.items[0].id).custom == {"segment": "smb", "seats": 1200}


def test_export_writes_typed_fields_and_they_import_back(db, actor, now, tmp_path):
    import io

    from crm_tui.services import export
    from crm_tui.services.importing import ImportOptions, run_import

    _segment(db, actor, now)
    with db.write() as s:
        fields.add_field(s, kind="contact", key="tags2", type="multi", options=["a", "b"], actor=actor, now=now)
        fields.add_field(s, kind="contact", key="arr", type="money", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="vip", type="yes/no", actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Ann", "emails": ["ann@x.com"], "custom": {
            "segment": "mid", "tags2": "b,a", "arr": "1234.5", "vip": "yes"}}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bo"}, actor=actor, now=now)
    with db.read() as s:
        columns = export.columns(s, "contacts")
        csv_out, json_out = io.StringIO(), io.StringIO()
        export.write_csv(s, "contacts", csv_out, actor=actor)
        export.write_json(s, "contacts", json_out, actor=actor)
    assert [c for c in columns if c.startswith("custom.")] == ["custom.segment", "custom.tags2", "custom.arr",
                                                                 "custom.vip"]
    assert "mid,a; b,1234.50,true" in csv_out.getvalue()
    for name, content in (("back.csv", csv_out.getvalue()), ("back.json", json_out.getvalue())):
        path = tmp_path / name
        path.write_text(content)
        with db.write() as s:
            report = run_import(s, path=path, options=ImportOptions(entity="contacts"), actor=actor, now=now,
                                dry_run=True)
        assert report.problems == [], (name, report.problems)
