"""`crm contact|company|deal bulk` (issue 20): the list's filters, then one change; --dry-run; undo."""

from __future__ import annotations

from tests.cli.conftest import row_counts


def _contacts(crm):
    crm.ok("user", "add", "bob", "--role", "sales")
    for i, lifecycle in enumerate(("lead", "lead", "lead", "customer")):
        crm.ok("contact", "add", "--first", f"P{i}", "--email", f"p{i}@example.com", "--lifecycle", lifecycle,
               *(["--tag", "x"] if i < 2 else []))


def test_contact_bulk_owner_dry_run_then_apply_then_undo(crm):
    _contacts(crm)
    before = row_counts(crm.db_url)
    dry = crm.json("contact", "bulk", "--lifecycle", "lead", "--set", "owner=bob", "--dry-run")
    assert dry["dry_run"] and (dry["matched"], dry["changed"]) == (3, 3)
    assert row_counts(crm.db_url) == before

    out = crm.ok("contact", "bulk", "--lifecycle", "lead", "--tag", "x", "--set", "owner=bob").stdout
    assert "changed 2 of 2 contacts" in out and "--undo" in out
    owners = {c["full_name"]: c["owner_login"] for c in crm.json("contact", "list")["items"]}
    assert owners == {"P0": "bob", "P1": "bob", "P2": "ann", "P3": "ann"}

    crm.ok("contact", "bulk", "--undo")
    assert {c["owner_login"] for c in crm.json("contact", "list")["items"]} == {"ann"}


def test_contact_bulk_tags_and_task(crm):
    _contacts(crm)
    crm.ok("contact", "bulk", "--lifecycle", "lead", "--add-tag", "hot", "--remove-tag", "x")
    assert [c["full_name"] for c in crm.json("contact", "list", "--tag", "hot")["items"]] == ["P0", "P1", "P2"]
    assert crm.json("contact", "list", "--tag", "x")["items"] == []
    got = crm.json("contact", "bulk", "--lifecycle", "customer", "--task", "Call back", "--due", "+2d")
    assert got["changed"] == 1
    assert "Call back" in crm.ok("task", "list").stdout


def test_bad_input_is_one_line_and_writes_nothing(crm):
    _contacts(crm)
    before = row_counts(crm.db_url)
    crm.fails("contact", "bulk", "--lifecycle", "lead", "--set", "nickname=x")
    crm.fails("contact", "bulk", "--lifecycle", "lead", "--set", "owner=nobody-here")
    crm.fails("contact", "bulk", "--lifecycle", "lead")
    crm.fails("company", "bulk", "--add-tag", "x")
    crm.fails("contact", "bulk", "--task", "Call", "--due", "someday maybe")
    assert row_counts(crm.db_url) == before


def test_deal_and_company_bulk(crm):
    crm.ok("user", "add", "sam", "--role", "sales")
    for i in range(3):
        crm.ok("deal", "add", f"Deal {i}", *(["--owner", "sam"] if i else []))
    crm.ok("company", "add", "Acme")
    moved = crm.json("deal", "bulk", "--set", "stage=Qualified", user="sam")
    assert (moved["changed"], moved["refused"]) == (2, 1)
    assert moved["refused_records"][0]["name"] == "Deal 0"
    stages = {d["title"]: d["stage_name"] for d in crm.json("deal", "list")["items"]}
    assert stages["Deal 1"] == stages["Deal 2"] == "Qualified" and stages["Deal 0"] != "Qualified"
    crm.ok("company", "bulk", "--set", "industry=Retail")
    assert crm.json("company", "list")["items"][0]["industry"] == "Retail"
    crm.ok("deal", "bulk", "--archive", "--status", "open")
    assert crm.json("deal", "list")["items"] == []


def test_deal_bulk_picks_exactly_what_deal_list_shows_with_the_same_filters(crm):
    """`crm deal bulk` reads the list's own filters (amount, contact tag, several statuses, ...)."""
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com", "--tag", "vip")
    for title, amount, contact in (("Small", "100", None), ("Mid", "5,000", "ann@example.com"),
                                   ("Big", "20,000", "ann@example.com"), ("Big too", "30,000", None)):
        crm.ok("deal", "add", title, "--amount", amount, *(["--contact", contact] if contact else []))
    crm.ok("deal", "lost", "3", "--reason", "price")
    same = ("--min-amount", "1,000", "--tag", "vip", "--status", "open,lost")
    listed = sorted(d["title"] for d in crm.json("deal", "list", *same)["items"])
    assert listed == ["Big", "Mid"]
    dry = crm.json("deal", "bulk", *same, "--set", "owner=bob", "--dry-run")
    assert (dry["matched"], dry["changed"]) == (2, 2)
    crm.ok("deal", "bulk", *same, "--set", "owner=bob")
    assert sorted(d["title"] for d in crm.json("deal", "list", "--owner", "bob", "--status", "open,lost")["items"]) \
        == listed


def test_bulk_sets_a_typed_custom_field(crm):
    _contacts(crm)
    crm.ok("field", "add", "contact", "segment", "--type", "choice", "--options", "smb,mid,enterprise")
    crm.ok("field", "add", "deal", "seats", "--type", "number")
    before = row_counts(crm.db_url)
    crm.fails("contact", "bulk", "--lifecycle", "lead", "--set", "segment=huge")
    crm.fails("deal", "bulk", "--set", "seats=lots")
    assert row_counts(crm.db_url) == before
    got = crm.json("contact", "bulk", "--lifecycle", "lead", "--set", "segment=smb")
    assert (got["matched"], got["changed"], got["summary"]) == (3, 3, "set segment to smb")
    names = [c["full_name"] for c in crm.json("contact", "list", "--custom", "segment=smb")["items"]]
    assert names == ["P0", "P1", "P2"]
    crm.ok("contact", "bulk", "--undo")
    assert crm.json("contact", "list", "--custom", "segment=smb")["items"] == []
    crm.ok("deal", "add", "Big one")
    assert crm.json("deal", "bulk", "--set", "seats=12")["changed"] == 1
    assert [d["title"] for d in crm.json("deal", "list", "--field", "seats=12")["items"]] == ["Big one"]
    # the contact list's --custom filter picks the records too
    crm.ok("contact", "bulk", "--lifecycle", "lead", "--set", "segment=smb")
    got = crm.json("contact", "bulk", "--custom", "segment=smb", "--set", "segment=mid", "--dry-run")
    assert (got["matched"], got["changed"]) == (3, 3)
