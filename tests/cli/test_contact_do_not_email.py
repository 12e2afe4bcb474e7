"""`crm contact add|edit --do-not-email / --email-ok`, shown by `show` and filtered by `list --do-not-email` (issue 21)."""

from __future__ import annotations


def test_do_not_email_on_add_edit_show_and_list(crm):
    ann = crm.json("contact", "add", "--first", "Ann", "--email", "ann@example.com", "--do-not-email")
    bob = crm.json("contact", "add", "--first", "Bob", "--email", "bob@example.com")
    assert ann["do_not_email"] is True and bob["do_not_email"] is False

    shown = crm.ok("contact", "show", "ann@example.com").stdout
    assert "Do not email" in shown and "no sequence or bulk mail" in shown
    assert "Do not email" not in crm.ok("contact", "show", "bob@example.com").stdout
    assert crm.json("contact", "show", "ann@example.com")["do_not_email"] is True

    listed = crm.json("contact", "list", "--do-not-email")
    assert [c["full_name"] for c in listed["items"]] == ["Ann"] and listed["total"] == 1
    assert crm.json("contact", "list")["total"] == 2

    edited = crm.json("contact", "edit", "bob@example.com", "--do-not-email", "--version", str(bob["version"]))
    assert edited["do_not_email"] is True and edited["version"] == bob["version"] + 1
    assert crm.json("contact", "list", "--do-not-email")["total"] == 2
    ok = crm.json("contact", "edit", "ann@example.com", "--email-ok")
    assert ok["do_not_email"] is False
    assert [c["full_name"] for c in crm.json("contact", "list", "--do-not-email")["items"]] == ["Bob"]


def test_do_not_email_change_is_audited_and_untouched_by_other_edits(crm):
    dee = crm.json("contact", "add", "--first", "Dee", "--email", "dee@example.com", "--do-not-email")
    # an edit of another field keeps the mark
    assert crm.json("contact", "edit", "dee@example.com", "--title", "CTO")["do_not_email"] is True
    crm.ok("contact", "edit", "dee@example.com", "--email-ok")
    events = crm.json("audit", "--record", f"contact:{dee['id']}")["items"]
    changed = [e for e in events if e.get("field") == "do_not_email"]
    assert changed, events
    # a stale version changes nothing
    crm.fails("contact", "edit", "dee@example.com", "--do-not-email", "--version", str(dee["version"]), code=3)
    assert crm.json("contact", "show", "dee@example.com")["do_not_email"] is False
