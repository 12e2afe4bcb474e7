"""`crm log` and `crm task`: activities with follow-ups, and the task commands."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_log_with_follow_up_creates_the_activity_and_the_task(crm):
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    before = datetime.now(timezone.utc)
    logged = crm.json("log", "call", "--contact", "ann@example.com", "--subject", "Intro", "--notes", "went well",
                      "--outcome", "connected", "--direction", "outbound", "--duration", "15",
                      "--at", "yesterday 3pm", "--follow-up", "+3d", "--follow-up-title", "Send the proposal")
    activity, task = logged["activity"], logged["follow_up"]
    assert activity["kind"] == "call" and activity["duration_minutes"] == 15 and activity["contact_name"] == "Ann"
    occurred = _at(activity["occurred_at"])
    assert (occurred.hour, occurred.minute) == (15, 0) and occurred.date() == (before - timedelta(days=1)).date()
    assert task["title"] == "Send the proposal" and task["contact_id"] == activity["contact_id"]
    assert timedelta(days=3) - timedelta(minutes=1) < _at(task["due_at"]) - before < timedelta(days=3, minutes=1)

    shown = crm.json("contact", "show", "ann@example.com")
    assert [a["subject"] for a in shown["recent_activities"]] == ["Intro"]
    assert _at(shown["last_contacted_at"]) == occurred
    assert [t["title"] for t in crm.json("task", "list", "--status", "all")["items"]] == ["Send the proposal"]


def test_log_without_follow_up_creates_no_task(crm):
    crm.ok("company", "add", "Acme")
    out = crm.ok("log", "note", "--company", "Acme", "--subject", "Budget freeze").stdout
    assert "logged note" in out
    assert crm.json("task", "list", "--status", "all")["items"] == []


def test_task_add_list_done_snooze_reschedule(crm):
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    overdue = crm.json("task", "add", "Call back", "--due", "2 days ago", "--contact", "ann@example.com")
    later = crm.json("task", "add", "Send deck", "--due", "+5d")
    assert overdue["related"] == "contact: Ann"

    assert [t["title"] for t in crm.json("task", "list", "--status", "overdue")["items"]] == ["Call back"]
    assert [t["title"] for t in crm.json("task", "list", "--status", "upcoming")["items"]] == ["Send deck"]
    assert "Call back" in crm.ok("task", "list").stdout

    snoozed = crm.json("task", "snooze", str(overdue["id"]), "+2d")
    assert _at(snoozed["snoozed_until"]) > datetime.now(timezone.utc) + timedelta(days=1)
    assert [t["title"] for t in crm.json("task", "list", "--status", "snoozed")["items"]] == ["Call back"]
    assert crm.json("task", "list", "--status", "overdue")["items"] == []

    moved = crm.json("task", "reschedule", str(later["id"]), "+10d")
    assert _at(moved["due_at"]) > _at(later["due_at"])

    done = crm.json("task", "done", str(later["id"]))
    assert done["task"]["done_at"] and done["next"] is None
    assert [t["title"] for t in crm.json("task", "list", "--status", "done")["items"]] == ["Send deck"]


def test_task_done_twice_is_refused(crm):
    task = crm.json("task", "add", "Once", "--due", "+1d")
    crm.ok("task", "done", str(task["id"]))
    crm.fails("task", "done", str(task["id"]), code=2)


def test_task_list_mine_and_all(crm):
    crm.ok("user", "add", "bob", "--name", "Bob")
    crm.ok("task", "add", "Mine", "--due", "+1d")
    crm.ok("task", "add", "His", "--due", "+1d", "--assignee", "bob")
    assert [t["title"] for t in crm.json("task", "list")["items"]] == ["Mine"]
    assert sorted(t["title"] for t in crm.json("task", "list", "--all")["items"]) == ["His", "Mine"]
    assert [t["title"] for t in crm.json("task", "list", user="bob")["items"]] == ["His"]
