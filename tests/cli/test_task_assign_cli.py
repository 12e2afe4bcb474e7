"""`crm task assign TASK LOGIN`: give a task to a teammate, or to nobody; a refusal, a bad login,
a stale version and a missing LOGIN are one line each and write nothing."""

from __future__ import annotations

import pytest

from tests.cli.conftest import row_counts


@pytest.fixture
def team(crm):
    for login, role in (("mia", "manager"), ("sam", "sales"), ("sid", "sales"), ("max", "marketing")):
        crm.ok("user", "add", login, "--role", role)
    return {"sam": crm.json("task", "add", "Call Ada", "--due", "+1d", "--assignee", "sam")["id"],
            "mia": crm.json("task", "add", "Plan Q1", "--due", "+2d", "--assignee", "mia")["id"]}


def test_assign_to_a_teammate_then_to_nobody(crm, team):
    task = str(team["sam"])
    out = crm.ok("task", "assign", task, "sid", user="sam").stdout
    assert out.strip() == f"task #{task} 'Call Ada' now assigned to sid"
    given = crm.json("task", "assign", task, "MIA", user="mia")  # a login is read case-insensitively
    assert (given["assignee_login"], given["version"]) == ("mia", 3)
    assert crm.ok("task", "assign", task, "--nobody", "--version", "3", user="mia").stdout.strip() == (
        f"task #{task} 'Call Ada' now assigned to nobody")
    assert crm.json("task", "assign", task, "sam")["assignee_login"] == "sam"
    assert crm.json("task", "assign", task, "-")["assignee_id"] is None

    events = crm.json("audit", "--entity", "task", "--id", task)["items"]
    assert [(e["actor"], e["action"]) for e in events if e["action"] == "reassign"] == [
        ("ann", "reassign"), ("ann", "reassign"), ("mia", "reassign"), ("mia", "reassign"), ("sam", "reassign")]


def test_refusals_are_one_line_and_write_nothing(crm, team, db_url):
    before = row_counts(db_url)
    refused = crm.fails("task", "assign", str(team["mia"]), "sam", user="sam", code=4)
    assert refused.stderr.strip() == ("error: sam (sales) may not give other people's tasks to someone else: "
                                      "that needs the admin or manager role; you may on your own")
    refused = crm.fails("task", "assign", str(team["sam"]), "max", user="max", code=4)
    assert refused.stderr.strip() == ("error: max (marketing) may not give tasks to someone else: "
                                      "that needs the admin or manager role")
    assert crm.fails("task", "assign", str(team["sam"]), "zed", code=1).stderr.strip() == (
        "error: no user 'zed'; see `crm user list`")
    assert "no task with id 999" in crm.fails("task", "assign", "999", "sid", code=1).stderr
    assert "since you opened it" in crm.fails("task", "assign", str(team["sam"]), "sid", "--version", "7",
                                              code=3).stderr
    crm.fails("task", "assign", str(team["sam"]), code=2)  # neither LOGIN nor --nobody
    crm.fails("task", "assign", str(team["sam"]), "sid", "--nobody", code=2)
    assert row_counts(db_url) == before
