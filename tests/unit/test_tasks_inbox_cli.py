"""`crm task inbox` and `crm task done --call` through the CLI (SQLite: the services under them run
on both backends in test_tasks_inbox.py)."""

from __future__ import annotations

import shutil

from tests.cli.conftest import Crm, row_counts


def test_inbox_and_done_with_a_call(tmp_path, sqlite_template):
    url = f"sqlite:///{shutil.copy(sqlite_template, tmp_path / 'crm.db')}"
    crm = Crm(url)
    crm.ok("contact", "add", "--first", "Ada", "--last", "Lee", "--email", "ada@example.com")
    crm.ok("task", "add", "Call Ada", "--due", "-2h", "--contact", "ada@example.com")
    crm.ok("task", "add", "Weekly review", "--due", "-1h", "--repeat", "every monday")
    crm.ok("task", "add", "Later", "--due", "+2d")

    found = crm.json("task", "inbox")
    assert found["counts"] == {"overdue": 2, "today": 0, "upcoming": 1, "snoozed": 0, "done": 0}
    assert [t["title"] for t in found["sections"]["overdue"]["items"]] == ["Call Ada", "Weekly review"]
    assert found["sections"]["overdue"]["items"][0]["related"] == "contact: Ada Lee"
    text = crm.ok("task", "inbox").stdout
    assert "Overdue 2" in text and "2 h overdue" in text and "Today: nothing" in text

    before = row_counts(url)
    crm.fails("task", "done", "1", "--notes", "hello")  # --notes without --call: nothing written
    crm.fails("task", "done", "1", "--call", "Pricing", "--version", "9")  # a stale version
    assert row_counts(url) == before

    done = crm.json("task", "done", "1", "--call", "Pricing", "--outcome", "connected", "--follow-up", "+3d")
    assert done["task"]["done_at"] and done["activity"]["contact_name"] == "Ada Lee"
    assert (done["activity"]["kind"], done["activity"]["outcome"]) == ("call", "connected")
    assert done["follow_up"]["title"] == "Follow up: Pricing"
    page = crm.json("task", "inbox", "--section", "done")
    assert [t["title"] for t in page["sections"]["done"]["items"]] == ["Call Ada"]
    crm.fails("task", "inbox", "--after", "abc")
