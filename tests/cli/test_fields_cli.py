"""`crm field add|list|edit|archive|check|promote` and `crm contact list --custom` (issue 20)."""

from __future__ import annotations

from tests.cli.conftest import row_counts


def test_field_add_list_edit_archive(crm):
    crm.ok("field", "add", "contact", "segment", "--type", "choice", "--options", "smb,mid,enterprise", "--required")
    listed = crm.json("field", "list", "contact")["items"]
    assert [(f["key"], f["type"], f["options"], f["required"]) for f in listed] == [
        ("segment", "choice", ["smb", "mid", "enterprise"], True)]
    out = crm.ok("field", "list").stdout
    assert "segment" in out and "smb, mid, enterprise" in out
    crm.ok("field", "edit", "contact", "segment", "--add-option", "strategic", "--retire-option", "mid")
    f = crm.json("field", "list", "contact")["items"][0]
    assert f["options"] == ["smb", "mid", "enterprise", "strategic"] and f["retired"] == ["mid"]
    contact = crm.json("contact", "add", "--first", "Ann", "--field", "segment=SMB")
    assert contact["custom"] == {"segment": "smb"}
    crm.json("contact", "add", "--first", "Bo", "--field", "segment=enterprise")
    rows = crm.json("contact", "list", "--custom", "segment=smb")["items"]
    assert [r["full_name"] for r in rows] == ["Ann"]
    assert "segment" in crm.ok("contact", "show", str(contact["id"])).stdout
    crm.ok("field", "archive", "contact", "segment")
    assert crm.json("field", "list", "contact")["items"] == []


def test_refusals_are_one_line_and_write_nothing(crm, db_url):
    crm.ok("user", "add", "sam", "--role", "sales")
    crm.ok("field", "add", "contact", "segment", "--type", "choice", "--options", "smb,mid", "--required")
    before = row_counts(db_url)
    crm.fails("field", "add", "contact", "tier", "--type", "text", user="sam")
    crm.fails("field", "add", "contact", "tier", "--type", "colour")
    crm.fails("field", "add", "contact", "tier", "--type", "choice")
    crm.fails("contact", "add", "--first", "Eve", "--field", "segment=huge")
    crm.fails("contact", "add", "--first", "Eve")
    crm.fails("contact", "list", "--custom", "nosuch=1")
    assert row_counts(db_url) == before


def test_promote_lists_bad_values_then_converts(crm):
    a = crm.json("contact", "add", "--first", "A", "--field", "seats=10")
    b = crm.json("contact", "add", "--first", "B", "--field", "seats=lots")
    result = crm("field", "promote", "contact", "seats", "--type", "number", "--dry-run")
    assert result.exit_code == 1 and "lots" in result.stdout and str(b["id"]) in result.stdout
    err = crm.fails("field", "add", "contact", "seats", "--type", "number").stderr
    assert f"#{b['id']} 'lots'" in err
    crm.ok("contact", "edit", str(b["id"]), "--field", "seats=3")
    crm.ok("field", "promote", "contact", "seats", "--type", "number")
    assert crm.json("contact", "show", str(a["id"]))["custom"] == {"seats": 10}
    rows = crm.json("contact", "list", "--custom", "seats>5", "--sort", "custom.seats")["items"]
    assert [r["full_name"] for r in rows] == ["A"]


def test_companies_and_deals_take_typed_fields(crm, db_url):
    import sqlalchemy as sa

    crm.ok("field", "add", "company", "tier", "--type", "choice", "--options", "gold,silver", "--required")
    crm.ok("field", "add", "deal", "arr", "--type", "money", "--default", "100")
    crm.fails("company", "add", "Acme")  # tier is required
    crm.fails("company", "add", "Acme", "--field", "tier=bronze")
    acme = crm.json("company", "add", "Acme", "--field", "tier=Gold")
    crm.json("company", "add", "Initech", "--field", "tier=silver")
    crm.ok("company", "edit", str(acme["id"]), "--field", "tier=silver", "--field", "note=kept")
    crm.fails("company", "edit", str(acme["id"]), "--field", "tier=")
    deal = crm.json("deal", "add", "Big one")
    crm.ok("deal", "edit", str(deal["id"]), "--field", "arr=2,500.75")
    rows = crm.json("company", "list", "--custom", "tier=silver", "--sort", "custom.tier")["items"]
    assert [r["name"] for r in rows] == ["Acme", "Initech"]
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            company = conn.execute(sa.text("SELECT custom FROM companies WHERE id = :i"), {"i": acme["id"]}).scalar()
            arr = conn.execute(sa.text("SELECT custom FROM deals WHERE id = :i"), {"i": deal["id"]}).scalar()
    finally:
        engine.dispose()
    import json
    as_dict = lambda v: v if isinstance(v, dict) else json.loads(v)  # noqa: E731
    assert as_dict(company) == {"tier": "silver", "note": "kept"} and as_dict(arr) == {"arr": 250075}
