"""`crm user`, `crm pipeline`, `crm db`, `crm init` and `crm audit`."""

from __future__ import annotations

from crm_tui.db import head_revision


def test_user_add_list_edit(crm):
    added = crm.json("user", "add", "bob", "--name", "Bob Stone", "--email", "bob@example.com", "--role", "manager")
    assert (added["login"], added["role"], added["active"]) == ("bob", "manager", True)

    team = crm.json("user", "list")["items"]
    assert [(u["login"], u["role"]) for u in team] == [("ann", "admin"), ("bob", "manager")]
    assert "Bob Stone" in crm.ok("user", "list").stdout

    edited = crm.json("user", "edit", "bob@example.com", "--role", "sales", "--inactive", "--timezone", "Europe/Paris")
    assert (edited["role"], edited["active"], edited["timezone"]) == ("sales", False, "Europe/Paris")
    assert [u["login"] for u in crm.json("user", "list", "--active")["items"]] == ["ann"]
    result = crm.fails("contact", "list", user="bob", code=4)
    assert "deactivated" in result.stderr


def test_unknown_user_is_refused_once_the_database_has_users(crm):
    crm.ok("contact", "list")  # ann becomes the first user, an admin
    result = crm.fails("contact", "list", user="mallory", code=4)
    assert "crm user add mallory" in result.stderr


def test_times_are_shown_in_the_users_zone(crm):
    crm.ok("user", "add", "kim", "--timezone", "Asia/Tokyo")
    task = crm.json("task", "add", "Tokyo call", "--due", "2026-12-01 09:00", user="kim")
    assert task["due_at"] == "2026-12-01T00:00:00+00:00"  # 9am in Tokyo
    assert "2026-12-01 09:00" in crm.ok("task", "list", user="kim").stdout
    assert "2026-12-01 00:00" in crm.ok("task", "list", "--all").stdout  # ann's zone: UTC


def test_pipeline_add_stages_reorder_and_delete_with_move_to(crm):
    pipeline = crm.json("pipeline", "add", "Partners", "--stage", "Intro", "--stage", "Pilot")
    assert [s["name"] for s in pipeline["stages"]] == ["Intro", "Pilot", "Won", "Lost"]
    crm.ok("pipeline", "rename", "Partners", "Channel")

    crm.ok("pipeline", "add-stage", "Contract", "--pipeline", "Channel", "--probability", "80")
    crm.ok("pipeline", "move-stage", "Contract", "1", "--pipeline", "Channel")
    crm.ok("pipeline", "edit-stage", "Pilot", "--pipeline", "Channel", "--probability", "40", "--rotting-days", "9")
    stages = crm.json("pipeline", "list")["items"][1]["stages"]
    assert [(s["name"], s["probability"]) for s in stages] == [
        ("Contract", 80), ("Intro", 0), ("Pilot", 40), ("Won", 100), ("Lost", 0)]

    deal = crm.json("deal", "add", "Reseller", "--pipeline", "Channel", "--stage", "Pilot")
    refused = crm.fails("pipeline", "delete-stage", "Pilot", "--pipeline", "Channel")
    assert "--move-to" in refused.stderr
    crm.ok("pipeline", "delete-stage", "Pilot", "--pipeline", "Channel", "--move-to", "Intro")
    assert crm.json("deal", "show", str(deal["id"]))["stage_name"] == "Intro"
    names = [s["name"] for s in crm.json("pipeline", "list")["items"][1]["stages"]]
    assert names == ["Contract", "Intro", "Won", "Lost"]
    assert "Channel" in crm.ok("pipeline", "list").stdout


def test_db_current_and_upgrade(crm):
    current = crm.json("db", "current")
    assert current["revision"] == current["head"] == head_revision()
    assert "up to date" in crm.ok("db", "current").stdout
    assert "up to date" in crm.ok("db", "upgrade").stdout


def test_init_creates_a_new_sqlite_database_and_its_admin(tmp_path):
    from tests.cli.conftest import Crm

    path = tmp_path / "new" / "crm.db"
    crm = Crm(str(path))  # a bare path is taken as a SQLite file
    out = crm.ok("init").stdout
    assert str(path) in out and "ann (admin)" in out
    assert path.exists()
    assert crm.json("db", "current")["revision"] == head_revision()


def test_audit_lists_changes_with_filters(crm):
    contact = crm.json("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    crm.ok("contact", "edit", "ann@example.com", "--title", "CTO")
    events = crm.json("audit", "--entity", "contact", "--id", str(contact["id"]))["items"]
    assert [(e["action"], e["field"]) for e in events] == [("update", "title"), ("create", None)]
    assert crm.json("audit", "--user", "nobody")["items"] == []
    assert crm.json("audit", "--since", "tomorrow")["items"] == []
    assert len(crm.json("audit", "--since", "yesterday", "--entity", "contact")["items"]) == 2
    assert "title" in crm.ok("audit").stdout


def test_user_manager_and_team(crm):
    crm.ok("user", "add", "carol", "--role", "manager", "--team", "EMEA")
    bob = crm.json("user", "add", "bob", "--email", "bob@example.com", "--manager", "carol", "--team", "emea")
    assert bob["team"] == "EMEA"
    listed = {u["login"]: (u["manager"], u["team"]) for u in crm.json("user", "list")["items"]}
    assert listed == {"ann": (None, None), "bob": ("carol", "EMEA"), "carol": (None, "EMEA")}
    out = crm.ok("user", "list").stdout
    assert "Team" in out and "Manager" in out and "EMEA" in out
    assert "bob reports to carol" in crm.fails("user", "edit", "carol", "--manager", "bob", code=2).stderr
    assert "cannot be their own manager" in crm.fails("user", "edit", "bob", "--manager", "bob@example.com").stderr
    assert "no user 'zed'" in crm.fails("user", "add", "dan", "--manager", "zed").stderr
    edited = crm.json("user", "edit", "bob", "--manager", "", "--team", "Inside sales")
    assert (edited["manager_id"], edited["team"]) == (None, "Inside sales")
    audit = crm.ok("audit", "--entity", "user").stdout
    assert "manager_id" in audit and "Inside sales" in audit
    assert "may not add, change and deactivate users" in crm.fails(
        "user", "edit", "bob", "--team", "EMEA", user="carol", code=4).stderr
