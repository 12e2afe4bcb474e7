"""`crm task inbox` shows the calls and meetings logged ahead of their time (issue 17 #10): the
Planned count beside the tasks' sections, and `--section planned` as a table and as JSON."""

from __future__ import annotations

from tests.cli.conftest import Crm


def test_planned_meetings_in_crm_task_inbox(crm: Crm):
    crm.ok("contact", "add", "--first", "Ada", "--last", "Lee", "--email", "ada@example.com")
    crm.ok("log", "meeting", "--contact", "ada@example.com", "--subject", "Kick-off", "--at", "+2d",
           "--duration", "45")
    crm.ok("log", "call", "--contact", "ada@example.com", "--subject", "Check in", "--at", "+3h")
    crm.ok("log", "call", "--contact", "ada@example.com", "--subject", "Already made")  # now: not planned
    crm.ok("task", "add", "Call Ada", "--due", "-2h", "--contact", "ada@example.com")

    found = crm.json("task", "inbox")
    assert found["counts"] == {"overdue": 1, "today": 0, "upcoming": 0, "snoozed": 0, "done": 0}
    assert found["planned_count"] == 2 and set(found["sections"]) == {"overdue", "today"}

    planned = crm.json("task", "inbox", "--section", "planned")["sections"]["planned"]
    assert [(a["kind"], a["subject"]) for a in planned["items"]] == [("call", "Check in"), ("meeting", "Kick-off")]
    assert planned["items"][1]["related"] == "contact: Ada Lee" and planned["items"][1]["duration_minutes"] == 45
    assert planned["next_cursor"] is None
    first = crm.json("task", "inbox", "--section", "planned", "--limit", "1")["sections"]["planned"]
    assert [a["subject"] for a in first["items"]] == ["Check in"] and first["next_cursor"]
    rest = crm.json("task", "inbox", "--section", "planned", "--limit", "1", "--after", first["next_cursor"])
    assert [a["subject"] for a in rest["sections"]["planned"]["items"]] == ["Kick-off"]

    text = crm.ok("task", "inbox", "--section", "planned").stdout
    assert "Overdue 1" in text and "Planned 2" in text and "Logged by" in text
    assert "Check in" in text and "Kick-off" in text and "contact: Ada Lee" in text and "Already made" not in text
    assert "Planned 2" in crm.ok("task", "inbox", "--all").stdout  # the whole team's: ann's are among them
    crm.fails("task", "inbox", "--section", "soon")
