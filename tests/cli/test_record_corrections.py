"""Issue 17 #14 on the command line: `crm deal archive|unarchive`, `crm view list|rename|update|delete`
and `crm activity show|edit|delete`."""

from __future__ import annotations

from tests.cli.conftest import row_counts


def test_deal_archive_and_unarchive(crm, db_url):
    deal = crm.json("deal", "add", "Wrong deal", "--amount", "100")
    crm.json("deal", "add", "Right deal")
    out = crm.ok("deal", "archive", str(deal["id"]), "--version", "1").stdout
    assert f"archived deal #{deal['id']} Wrong deal" in out
    assert [d["title"] for d in crm.json("deal", "list")["items"]] == ["Right deal"]
    assert [d["title"] for d in crm.json("deal", "list", "--archived")["items"]] == ["Wrong deal"]
    assert crm.json("deal", "show", str(deal["id"]))["archived"] is True
    assert any(e["action"] == "archive" or e.get("field") == "archived"
               for e in crm.json("audit", "--record", f"deal:{deal['id']}")["items"])

    before = row_counts(db_url)
    crm.fails("deal", "unarchive", str(deal["id"]), "--version", "1")  # it changed since version 1
    crm.fails("deal", "archive", "Wrong deal")  # a deal is named by its id
    crm.fails("deal", "archive", "999")
    assert row_counts(db_url) == before
    crm.ok("deal", "unarchive", str(deal["id"]))
    assert sorted(d["title"] for d in crm.json("deal", "list")["items"]) == ["Right deal", "Wrong deal"]


def test_a_seller_cannot_archive_someone_elses_deal(crm, db_url):
    crm.ok("user", "add", "bob", "--role", "sales")
    deal = crm.json("deal", "add", "Ann's deal")
    before = row_counts(db_url)
    crm.fails("deal", "archive", str(deal["id"]), user="bob")
    assert row_counts(db_url) == before


def test_view_list_rename_update_delete(crm, db_url):
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.ok("contact", "add", "--first", "Lea", "--lifecycle", "lead", "--tag", "hot", "--owner", "bob")
    crm.ok("contact", "add", "--first", "Cy", "--lifecycle", "customer")
    assert crm.json("view", "list") == []
    crm.ok("view", "list")  # an empty table, not an error
    # a list saved in the app (the service the app's S calls)
    from crm_tui.db import open_database
    from crm_tui.services import users, views
    db = open_database(db_url)
    try:
        with db.write() as s:
            ann = users.actor_for(s, login="ann")
            views.create_view(s, data={"name": "Hot leads", "filters": {"tag": "hot"}, "sort": "created"}, actor=ann)
            views.create_view(s, data={"name": "Customers", "filters": {"lifecycle": ["customer"]}}, actor=ann)
    finally:
        db.dispose()
    assert [v["name"] for v in crm.json("view", "list")] == ["Hot leads", "Customers"]
    assert "Hot leads" in crm.ok("view", "list").stdout

    crm.ok("view", "rename", "hot leads", "Warm leads")
    assert [v["name"] for v in crm.json("view", "list")][0] == "Warm leads"

    updated = crm.json("view", "update", "Warm leads", "--search", "lea", "--lifecycle", "lead", "--owner", "bob")
    assert (updated["query"], updated["sort"]) == ("lea", "created")  # the sort stays
    assert updated["filters"] == {"lifecycle": ["lead"], "owner_id": 2}
    assert crm.json("view", "update", "Warm leads", "--tag", "hot", "--sort", "name")["filters"] == {"tag": "hot"}

    before = row_counts(db_url)
    crm.fails("view", "rename", "Warm leads", "customers")  # the name is taken
    crm.fails("view", "update", "Warm leads")  # nothing given
    crm.fails("view", "update", "Warm leads", "--owner", "nobody")
    crm.fails("view", "update", "Warm leads", "--sort", "age")
    crm.fails("view", "delete", "Warm leads")  # no terminal to ask: --yes
    crm.fails("view", "delete", "No such list", "--yes")
    crm.fails("view", "delete", "Customers", "--yes", user="bob")  # someone else's shared list
    assert row_counts(db_url) == before

    out = crm.ok("view", "delete", "Warm leads", "--yes").stdout
    assert "deleted the list" in out and "Warm leads" in out
    assert [v["name"] for v in crm.json("view", "list")] == ["Customers"]
    events = crm.json("audit", "--entity", "view")["items"]
    assert {"delete", "update"} <= {e["action"] for e in events}


def test_activity_show_edit_delete(crm, db_url):
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    call = crm.json("log", "call", "--contact", "ann@example.com", "--subject", "Intro", "--at", "2 days ago",
                    "--notes", "Talked about anvils.\nShe wants a quote.")["activity"]
    shown = crm.json("activity", "show", str(call["id"]))
    assert (shown["subject"], shown["body"]) == ("Intro", "Talked about anvils.\nShe wants a quote.")
    text = crm.ok("activity", "show", str(call["id"])).stdout
    assert "She wants a quote." in text and "Intro" in text

    edited = crm.json("activity", "edit", str(call["id"]), "--subject", "Intro call", "--outcome", "connected",
                      "--version", "1")
    assert (edited["subject"], edited["outcome"], edited["version"]) == ("Intro call", "connected", 2)

    before = row_counts(db_url)
    crm.fails("activity", "edit", str(call["id"]), "--subject", "x", "--version", "1")  # stale
    crm.fails("activity", "edit", str(call["id"]))  # nothing to change
    crm.fails("activity", "delete", str(call["id"]))  # no terminal to ask: --yes
    crm.fails("activity", "delete", "999", "--yes")
    crm.fails("activity", "show", "999")
    assert row_counts(db_url) == before

    assert crm.json("contact", "show", "ann@example.com")["last_contacted_at"] is not None
    assert "deleted call" in crm.ok("activity", "delete", str(call["id"]), "--yes").stdout
    assert crm.json("contact", "show", "ann@example.com")["last_contacted_at"] is None
    crm.fails("activity", "show", str(call["id"]))
    deleted = [e for e in crm.json("audit", "--entity", "activity")["items"] if e["action"] == "delete"]
    assert len(deleted) == 1 and "She wants a quote." in deleted[0]["new_value"]


def test_a_stage_change_cannot_be_edited_or_deleted(crm, db_url):
    deal = crm.json("deal", "add", "Anvils")
    crm.ok("deal", "step", str(deal["id"]))
    change = next(a for a in crm.json("deal", "show", str(deal["id"]))["recent_activities"]
                  if a["kind"] == "stage_change")
    before = row_counts(db_url)
    for args in (("edit", str(change["id"]), "--subject", "x"), ("delete", str(change["id"]), "--yes")):
        result = crm.fails("activity", *args)
        assert "stage change" in result.stderr
    assert row_counts(db_url) == before
