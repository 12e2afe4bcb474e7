"""`crm deal list --sort custom.FIELD` and `crm contact list --sort custom.FIELD` (issue 20)."""

from __future__ import annotations


def test_deal_and_contact_lists_sort_by_a_custom_field(crm):
    crm.ok("field", "add", "deal", "arr", "--type", "money")
    crm.ok("field", "add", "contact", "seats", "--type", "number")
    for title, arr in (("Alpha", "300"), ("Beta", None), ("Gamma", "100")):
        crm.ok("deal", "add", title, *(["--field", f"arr={arr}"] if arr else []))
    for name, seats in (("Ann", "5"), ("Bo", "2")):
        crm.ok("contact", "add", "--first", name, "--field", f"seats={seats}")
    got = crm.json("deal", "list", "--sort", "custom.arr", "--limit", "2")
    assert [d["title"] for d in got["items"]] == ["Gamma", "Alpha"]
    more = crm.json("deal", "list", "--sort", "custom.arr", "--limit", "2", "--after", got["next_cursor"])
    assert [d["title"] for d in more["items"]] == ["Beta"]
    assert [c["full_name"] for c in crm.json("contact", "list", "--sort", "custom.seats")["items"]] == ["Bo", "Ann"]
    crm.fails("deal", "list", "--sort", "custom.nope")
    crm.fails("deal", "list", "--sort", "colour")
