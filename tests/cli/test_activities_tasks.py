"""`crm log` and `crm task`: activities with follow-ups, and the task commands."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.cli.conftest import row_counts


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


# --- issue 17 #11: one rule for ambiguous dates; a due date in the past warns ----------------------


@pytest.fixture
def no_date_order(monkeypatch):
    monkeypatch.delenv("CRM_DATE_ORDER", raising=False)


def _write_config(text: str) -> None:
    path = Path(os.environ["CRM_CONFIG_DIR"]) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_an_ambiguous_due_date_is_refused_without_a_date_order(crm, db_url, no_date_order):
    crm.ok("task", "add", "First")
    before = row_counts(db_url)
    failed = crm.fails("task", "add", "Call back", "--due", "03/04/2027")
    assert "ambiguous date '03/04/2027'" in failed.stderr and "date_order" in failed.stderr
    assert "CRM_DATE_ORDER" in failed.stderr
    assert row_counts(db_url) == before
    # what only one order reads is read whatever the setting
    assert _at(crm.json("task", "add", "Later", "--due", "13/04/2027 10:00")["due_at"]) == \
        datetime(2027, 4, 13, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("how, expected", [
    ({"CRM_DATE_ORDER": "dmy"}, datetime(2027, 4, 3, 9, 0, tzinfo=timezone.utc)),
    ({"CRM_DATE_ORDER": "mdy"}, datetime(2027, 3, 4, 9, 0, tzinfo=timezone.utc)),
    ('date_order = "dmy"\n', datetime(2027, 4, 3, 9, 0, tzinfo=timezone.utc)),
    ('date_order = "mdy"\n', datetime(2027, 3, 4, 9, 0, tzinfo=timezone.utc)),
])
def test_an_ambiguous_due_date_follows_the_configured_date_order(crm, no_date_order, how, expected):
    env = how if isinstance(how, dict) else None
    if isinstance(how, str):
        _write_config(how)
    assert _at(crm.json("task", "add", "Call back", "--due", "03/04/2027", env=env)["due_at"]) == expected
    task = crm.json("task", "add", "Second", env=env)
    moved = crm.json("task", "reschedule", str(task["id"]), "03/04/2027 10:00", env=env)
    assert _at(moved["due_at"]) == expected.replace(hour=10)


def test_a_close_date_follows_the_configured_date_order(crm, no_date_order):
    crm.fails("deal", "add", "Big one", "--close", "03/04/2027")
    deal = crm.json("deal", "add", "Big one", "--close", "03/04/2027", env={"CRM_DATE_ORDER": "dmy"})
    assert deal["expected_close"] == "2027-04-03"
    later = crm.json("deal", "add", "Bigger one", "--close", "end of month")
    assert later["expected_close"].endswith(("-28", "-29", "-30", "-31"))


@pytest.mark.parametrize("value", ["european", "d/y/m"])
def test_an_unknown_date_order_is_one_clear_error(crm, no_date_order, value):
    failed = crm.fails("task", "add", "Call back", "--due", "+1d", env={"CRM_DATE_ORDER": value})
    assert "CRM_DATE_ORDER" in failed.stderr
    _write_config(f'date_order = "{value}"\n')
    assert "date_order in the config file" in crm.fails("task", "add", "Call back", "--due", "+1d").stderr


@pytest.mark.parametrize("args, what", [
    (("task", "add", "Call back", "--due", "yesterday 9am"), "warning: due "),
    (("log", "call", "--company", "Acme", "--subject", "Hi", "--follow-up", "2 days ago"),
     "warning: the follow-up's due "),
])
def test_a_due_date_in_the_past_is_saved_with_a_warning(crm, args, what):
    crm.ok("company", "add", "Acme")
    result = crm.ok(*args)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(what) and lines[0].endswith(" is in the past"), result.stderr
    assert len(crm.json("task", "list", "--status", "all")["items"]) == 1


def test_reschedule_into_the_past_warns(crm):
    task = crm.json("task", "add", "Call back", "--due", "+2d")
    result = crm.ok("task", "reschedule", str(task["id"]), "3 days ago")
    assert result.stderr.startswith("warning: due ") and "is in the past" in result.stderr


def test_a_due_date_ahead_gives_no_warning(crm):
    assert crm.ok("task", "add", "Call back", "--due", "end of week").stderr == ""
    assert crm.ok("task", "add", "Call again", "--due", "+1h").stderr == ""
