"""Importing records with typed custom fields (issue 20): a required field a new record has no
value for is that row's problem (nothing of the row written); a field's default goes where the
column is absent or empty. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from crm_tui.models import Company, Contact, Deal
from crm_tui.services import contacts, fields
from crm_tui.services.importing import ImportOptions, run_import


def _fields(db, actor, now) -> None:
    with db.write() as s:
        fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb,mid"], required=True,
                         actor=actor, now=now)
        fields.add_field(s, kind="contact", key="tier", type="text", default="std", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="seats", type="number", default="1", required=True,
                         actor=actor, now=now)
        fields.add_field(s, kind="company", key="plan", type="choice", options=["gold,free"], default="free",
                         actor=actor, now=now)
        fields.add_field(s, kind="deal", key="region", type="choice", options=["emea,amer"], required=True,
                         actor=actor, now=now)


def test_required_and_defaults_on_imported_contacts(db, actor, now, tmp_path):
    _fields(db, actor, now)
    with db.write() as s:  # an existing contact, from before the field was required: an update keeps going
        contacts.create_contact(s, data={"first_name": "Old", "emails": ["old@x.com"], "custom": {"segment": "mid"}},
                                actor=actor, now=now)
    path = tmp_path / "people.csv"
    path.write_text("first name,email,custom.segment,custom.tier,custom.seats\n"
                    "Ann,ann@x.com,smb,,\n"          # empty tier and seats: their defaults
                    "Bo,bo@x.com,,gold,3\n"          # no segment: required, no default
                    "Old,old@x.com,,vip,\n"          # matches Old: an update, nothing required
                    "Cy,cy@x.com,mid,,7\n")
    with db.write() as s:
        report = run_import(s, path=path, options=ImportOptions(entity="contacts", skip_invalid=True,
                                                                on_duplicate="update"), actor=actor, now=now)
    assert [(p.line, p.column, p.message) for p in report.problems] == [
        (3, "custom.segment", "segment is required: the row has no value and the field no default")]
    assert (report.created, report.updated, report.invalid) == (2, 1, 1)
    with db.read() as s:
        got = {c.first_name: dict(c.custom or {}) for c in s.scalars(select(Contact))}
    assert set(got) == {"Ann", "Old", "Cy"}
    assert got["Ann"] == {"segment": "smb", "tier": "std", "seats": 1}
    assert got["Cy"] == {"segment": "mid", "tier": "std", "seats": 7}
    assert got["Old"] == {"segment": "mid", "tier": "vip", "seats": 1}


def test_absent_columns_take_defaults_and_a_required_one_refuses_the_file(db, actor, now, tmp_path):
    _fields(db, actor, now)
    path = tmp_path / "people.csv"
    path.write_text("first name,email,custom.segment\nAnn,ann@x.com,mid\n")
    with db.write() as s:
        run_import(s, path=path, options=ImportOptions(entity="contacts"), actor=actor, now=now)
    with db.read() as s:
        assert s.scalar(select(Contact.custom)) == {"segment": "mid", "tier": "std", "seats": 1}
    # no segment column at all: every row is refused, and without --skip-invalid nothing is written
    path.write_text("first name,email\nBo,bo@x.com\nCy,cy@x.com\n")
    with db.write() as s:
        report = run_import(s, path=path, options=ImportOptions(entity="contacts"), actor=actor, now=now,
                            dry_run=True)
    assert [(p.line, p.message) for p in report.problems] == [
        (2, "segment is required: the row has no value and the field no default"),
        (3, "segment is required: the row has no value and the field no default")]


def test_companies_and_deals(db, actor, now, tmp_path):
    _fields(db, actor, now)
    companies_csv = tmp_path / "companies.csv"
    companies_csv.write_text("name,custom.plan\nAcme,gold\nGlobex,\n")
    deals_csv = tmp_path / "deals.csv"
    deals_csv.write_text("title,custom.region\nBig,emea\nNone given,\n")
    with db.write() as s:
        run_import(s, path=companies_csv, options=ImportOptions(entity="companies"), actor=actor, now=now)
    with db.write() as s:
        report = run_import(s, path=deals_csv, options=ImportOptions(entity="deals", skip_invalid=True),
                            actor=actor, now=now)
    assert [(p.line, p.column) for p in report.problems] == [(3, "custom.region")]
    with db.read() as s:
        assert dict(s.execute(select(Company.name, Company.custom)).all()) == {
            "Acme": {"plan": "gold"}, "Globex": {"plan": "free"}}
        assert dict(s.execute(select(Deal.title, Deal.custom)).all()) == {"Big": {"region": "emea"}}
